import unittest

import support  # noqa: F401  (puts the SDK on the path)
from hookhost_sdk import Event, Reject


class EventHelpers(unittest.TestCase):
    def test_header_is_found_without_regard_to_case(self):
        event = Event(headers=[("x-github-delivery", "72d3162e"), ("x-github-delivery", "second")])
        self.assertEqual(event.header("X-GitHub-Delivery"), "72d3162e")
        self.assertIsNone(event.header("x-missing"))

    def test_json_parses_the_body(self):
        self.assertEqual(Event(body=b'{"amount": 2000}').json(), {"amount": 2000})

    def test_a_body_that_is_not_json_is_rejected(self):
        for body in (b"not json", b"\xff\xfe{", b""):
            with self.assertRaises(Reject) as caught:
                Event(body=body).json()
            self.assertTrue(caught.exception.message.startswith("event body is not the expected JSON: "))

    def test_text_is_the_utf8_body_and_anything_else_is_rejected(self):
        self.assertEqual(Event(body="token=é".encode()).text(), "token=é")
        with self.assertRaisesRegex(Reject, "^event body is not UTF-8: "):
            Event(body=b"\xff").text()

    def test_an_event_from_the_host_keeps_every_field(self):
        class Wit:
            id, tenant, endpoint, provider = "evt_1", "acme", "github", "github"
            event_type, received_at_ms, attempt = "push", 1700000000000, 2
            headers, body = [("x-github-event", "push")], b"{}"

        event = Event._from_wit(Wit)
        self.assertEqual(
            event,
            Event("evt_1", "acme", "github", "github", "push", 1700000000000, 2, [("x-github-event", "push")], b"{}"),
        )


if __name__ == "__main__":
    unittest.main()
