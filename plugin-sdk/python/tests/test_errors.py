import unittest

import support  # noqa: F401  (puts the SDK on the path)
from hookhost_sdk import HandlerError, Reject, Retry, RetryAfter
from hookhost_sdk.errors import U64_MAX


class Outcomes(unittest.TestCase):
    def test_the_message_is_the_exception_text(self):
        self.assertEqual(str(Reject("slack_url not set")), "slack_url not set")
        self.assertEqual(Retry("database busy").message, "database busy")

    def test_retry_after_is_a_retry_and_a_handler_error(self):
        self.assertIsInstance(RetryAfter("busy", 30), Retry)
        self.assertIsInstance(Reject("no"), HandlerError)
        self.assertNotIsInstance(Reject("no"), Retry)

    def test_the_wait_is_in_seconds_sent_as_whole_milliseconds(self):
        self.assertEqual(RetryAfter("busy", 30).after_ms, 30_000)
        self.assertEqual(RetryAfter("busy", 1.5).after_ms, 1_500)
        self.assertEqual(RetryAfter("busy", 0.0004).after_ms, 0)

    def test_a_wait_beyond_what_the_host_takes_is_clamped(self):
        self.assertEqual(RetryAfter("busy", -5).after_ms, 0)
        self.assertEqual(RetryAfter("busy", 10**30).after_ms, U64_MAX)
        self.assertEqual(RetryAfter("busy", float("inf")).after_ms, U64_MAX)


if __name__ == "__main__":
    unittest.main()
