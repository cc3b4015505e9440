import unittest

import support  # noqa: F401  (puts the SDK on the path)
from hookhost_sdk import Reject, Retry, RetryAfter, http
from hookhost_sdk.http import Response, StatusError, parse_retry_after
from hookhost_sdk.testing import FakeHost

# Sun, 06 Nov 1994 08:49:37 GMT
NOW = 784111777


def outcome(status, retry_after=None):
    """What a non-2xx answer makes of the delivery when `handle` lets it escape."""
    headers = [] if retry_after is None else [("retry-after", retry_after)]
    try:
        Response(status, headers, b"busy").raise_for_status()
    except StatusError as e:
        return e.handler_error()
    raise AssertionError("2xx")


class RetryAfterHeader(unittest.TestCase):
    def test_is_delta_seconds_or_an_http_date_from_now(self):
        self.assertEqual(parse_retry_after("120", NOW), 120)
        self.assertEqual(parse_retry_after(" 0 ", NOW), 0)
        self.assertEqual(parse_retry_after("Sun, 06 Nov 1994 08:50:37 GMT", NOW), 60)
        self.assertEqual(parse_retry_after("Sunday, 06-Nov-94 08:50:37 GMT", NOW), 60)
        self.assertEqual(parse_retry_after("Sun Nov  6 08:50:37 1994", NOW), 60)
        self.assertEqual(parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", NOW), 0)
        self.assertEqual(parse_retry_after("99999999999999999999999", NOW), 99999999999999999999999)

    def test_a_date_a_fraction_of_a_second_away_waits_a_whole_second(self):
        self.assertEqual(parse_retry_after("Sun, 06 Nov 1994 08:49:38 GMT", NOW + 0.5), 1)

    def test_anything_else_is_unreadable(self):
        for unreadable in ("", "-5", "1.5", "soon", "Sun, 31 Feb 1994 08:49:37 GMT", "٣"):
            self.assertIsNone(parse_retry_after(unreadable, NOW), unreadable)


class StatusOutcomes(unittest.TestCase):
    def test_a_429_or_503_with_retry_after_is_retried_no_sooner_than_asked(self):
        for status in (429, 503):
            error = outcome(status, "30")
            self.assertIsInstance(error, RetryAfter)
            self.assertEqual((error.message, error.after_ms), (f"HTTP status {status}: busy", 30_000))

    def test_without_a_readable_retry_after_429_and_503_are_plain_retries(self):
        for status, header in ((429, None), (503, "whenever")):
            error = outcome(status, header)
            self.assertIs(type(error), Retry)
            self.assertEqual(error.message, f"HTTP status {status}: busy")

    def test_408_and_5xx_are_retried_and_retry_after_elsewhere_is_not_a_wait(self):
        for status in (408, 500, 502, 599):
            self.assertIs(type(outcome(status, "30")), Retry)

    def test_other_statuses_are_rejected_410_gone_among_them(self):
        for status in (301, 400, 404, 410, 422):
            error = outcome(status, "30")
            self.assertIs(type(error), Reject)
            self.assertEqual(error.message, f"HTTP status {status}: busy")

    def test_the_message_shows_at_most_512_bytes_of_the_body(self):
        self.assertEqual(str(StatusError(500, "  \n")), "HTTP status 500")
        long = str(StatusError(500, "é" * 300))  # 600 bytes: the cut splits the 257th
        self.assertEqual(long, "HTTP status 500: " + "é" * 256 + "...")

    def test_a_2xx_answer_is_returned(self):
        response = Response(201, [("Location", "/orders/1")], b'{"id": 1}')
        self.assertIs(response.raise_for_status(), response)
        self.assertEqual(response.header("location"), "/orders/1")
        self.assertEqual(response.json(), {"id": 1})

    def test_a_response_that_is_not_json_is_rejected(self):
        with self.assertRaisesRegex(Reject, "^JSON error: "):
            Response(200, [], b"<html>").json()
        self.assertEqual(Response(200, [], b"caf\xff").text(), "caf\ufffd")


class Sending(unittest.TestCase):
    def test_post_json_sends_compact_json_as_serde_json_writes_it(self):
        with FakeHost() as host:
            http.post_json("https://chat.example/hook", {"text": "é \"q\" \n\x01", "n": [1, None, True]})
        (request,) = host.requests
        self.assertEqual((request.method, request.url), ("POST", "https://chat.example/hook"))
        self.assertEqual(request.headers, [("content-type", "application/json")])
        self.assertEqual(request.body, '{"text":"é \\"q\\" \\n\\u0001","n":[1,null,true]}'.encode())

    def test_send_keeps_headers_in_order_and_replaces_the_content_type_for_json(self):
        with FakeHost() as host:
            http.send("put", "https://a.example/x", headers={"Content-Type": "text/plain", "x-a": "1"},
                      json=[], timeout=2.5)
            http.send("DELETE", "https://a.example/x", headers=[("x-b", "1"), ("x-b", "2")], body="é")
        put, delete = host.requests
        self.assertEqual((put.method, put.headers, put.body, put.timeout_ms),
                         ("PUT", [("x-a", "1"), ("content-type", "application/json")], b"[]", 2500))
        self.assertEqual((delete.headers, delete.body, delete.timeout_ms),
                         ([("x-b", "1"), ("x-b", "2")], "é".encode(), None))

    def test_a_value_json_cannot_write_is_an_invalid_request(self):
        with FakeHost() as host, self.assertRaisesRegex(http.InvalidRequest, "could not serialise"):
            http.post_json("https://a.example/", {"when": object()})
        self.assertEqual(host.requests, [])

    def test_get_and_post_json_raise_for_a_non_2xx_answer_and_send_does_not(self):
        with FakeHost(respond=lambda request: Response(404, [], b"no such user")):
            self.assertEqual(http.send("GET", "https://a.example/").status, 404)
            with self.assertRaises(StatusError) as caught:
                http.get("https://a.example/")
        self.assertEqual((caught.exception.status, str(caught.exception)), (404, "HTTP status 404: no such user"))

    def test_failures_to_get_an_answer_retry_or_reject_as_in_rust(self):
        cases = [
            (http.Timeout(), Retry, "request timed out"),
            (http.TransportError("connection refused"), Retry, "request failed: connection refused"),
            (http.AccessDenied("169.254.169.254 is not allowed"), Reject,
             "access denied: 169.254.169.254 is not allowed"),
            (http.InvalidRequest("bad scheme"), Reject, "invalid request: bad scheme"),
            (http.TooLarge(), Reject, "response body too large"),
            (http.BudgetExhausted(), Reject, "outbound call budget exhausted"),
        ]
        for failure, kind, message in cases:
            def respond(request, failure=failure):
                raise failure

            with FakeHost(respond=respond), self.assertRaises(http.Error) as caught:
                http.get("https://a.example/")
            self.assertIs(type(caught.exception), type(failure))
            error = caught.exception.handler_error()
            self.assertEqual((type(error), error.message), (kind, message))

    def test_outside_a_component_the_host_is_out_of_reach(self):
        with self.assertRaisesRegex(RuntimeError, "only inside a hookhost component"):
            http.get("https://a.example/")


if __name__ == "__main__":
    unittest.main()
