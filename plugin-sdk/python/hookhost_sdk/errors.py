"""The outcomes a handler raises instead of returning: retry, retry after a wait, reject."""

import math

#: The largest wait the host's `after-ms` can carry.
U64_MAX = 2**64 - 1


class HandlerError(Exception):
    """Why a handler did not succeed; the subclass decides what the host does next.

    Raise `Retry`, `RetryAfter` or `Reject` from `handle`. Any other exception
    that escapes `handle` is a trap: the host records its traceback and retries.
    """

    def __init__(self, message):
        super().__init__(message)
        self.message = str(message)

    def __str__(self):
        return self.message


class Retry(HandlerError):
    """A transient failure: the host runs the handler again later, with backoff."""


class RetryAfter(Retry):
    """A transient failure whose receiver said when to come back.

    `seconds` (an int or a float) is the least wait: the host runs the handler
    again no sooner than that, nor sooner than the endpoint's retry policy
    would, within the policy's attempts. A wait longer than one week counts as
    one week. `except Retry` catches this too.
    """

    def __init__(self, message, seconds):
        super().__init__(message)
        self.seconds = seconds

    @property
    def after_ms(self):
        """The wait in whole milliseconds, clamped to what the host accepts."""
        seconds = self.seconds
        if isinstance(seconds, float) and not math.isfinite(seconds):
            return 0 if seconds < 0 else U64_MAX
        return min(max(0, round(seconds * 1000)), U64_MAX)


class Reject(HandlerError):
    """A permanent failure: the host dead-letters the delivery without retrying."""
