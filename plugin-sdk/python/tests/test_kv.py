import unittest

import support  # noqa: F401  (puts the SDK on the path)
from hookhost_sdk import Reject, Retry, kv
from hookhost_sdk.testing import FakeHost, _case, _Err


def failing(case, message):
    """A host whose every store call fails with the WIT error `case`."""
    host = FakeHost()

    def fail(*args):
        raise _Err(_case(case, message))

    host._kv_get = host._kv_set = host._kv_delete = host._kv_increment = host._kv_list = fail
    return host


class Store(unittest.TestCase):
    def test_values_round_trip_as_bytes_text_and_json(self):
        with FakeHost() as host:
            kv.set("raw", b"\x00\xff")
            kv.set("text", "é")
            kv.set_json("doc", {"order": 1001, "tags": ["a"]})
            self.assertEqual(kv.get("raw"), b"\x00\xff")
            self.assertEqual(kv.get_text("text"), "é")
            self.assertEqual(kv.get_json("doc"), {"order": 1001, "tags": ["a"]})
            for read in (kv.get, kv.get_text, kv.get_json):
                self.assertIsNone(read("missing"))
        self.assertEqual(host.kv["doc"], b'{"order":1001,"tags":["a"]}')

    def test_increment_list_and_delete(self):
        with FakeHost(kv={"order:2": b"x", "order:1": b"x", "other": b"x"}):
            self.assertEqual(kv.increment("seen"), 1)
            self.assertEqual(kv.increment("seen", 41), 42)
            self.assertEqual(kv.list("order:"), ["order:1", "order:2"])
            kv.delete("order:1")
            kv.delete("never-there")
            self.assertEqual(kv.list("order:"), ["order:2"])

    def test_a_value_that_does_not_decode_is_a_decode_error_that_rejects(self):
        with FakeHost(kv={"bin": b"\xff"}):
            for read in (kv.get_text, kv.get_json):
                with self.assertRaises(kv.DecodeError) as caught:
                    read("bin")
                self.assertIs(type(caught.exception.handler_error()), Reject)

    def test_an_unreadable_store_retries_and_every_other_failure_rejects(self):
        cases = [
            ("Other", kv.StoreUnavailable, Retry, "key-value store failed: timeout"),
            ("InvalidKey", kv.InvalidKey, Reject, "invalid key: timeout"),
            ("TooLarge", kv.TooLarge, Reject, "value too large: timeout"),
            ("QuotaExceeded", kv.QuotaExceeded, Reject, "storage quota exceeded: timeout"),
            ("NotANumber", kv.NotANumber, Reject, "not a number: timeout"),
        ]
        for case, error, outcome, message in cases:
            with failing(case, "timeout"), self.assertRaises(error) as caught:
                kv.increment("n")
            handler_error = caught.exception.handler_error()
            self.assertEqual((type(handler_error), handler_error.message), (outcome, message))


if __name__ == "__main__":
    unittest.main()
