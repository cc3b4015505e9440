"""Write hookhost webhook handlers in Python.

A handler is a module with a function `handle(event: Event) -> None`.
Returning marks the delivery succeeded (and commits the handler's key-value
writes); raising `Retry` asks the host to run it again later, `RetryAfter`
no sooner than a wait in seconds, and `Reject` dead-letters it at once. Any
other exception is a trap: the attempt's outcome carries its type, message
and traceback, and the delivery is retried.

Inside `handle`, `http` sends requests to the hosts the endpoint allows, `kv`
reads and writes a store private to the tenant and plugin, `config` reads the
endpoint's settings, `secret` its plugin secrets, and `log` (or `print`)
writes lines kept with the attempt.

    from hookhost_sdk import Event, Reject, config, http, kv

    def handle(event: Event) -> None:
        payment = event.json()
        url = config.get("slack_url")
        if url is None:
            raise Reject("slack_url not set")
        http.post_json(url, {"text": f"paid: {payment['data']['object']['amount']}"})
        kv.increment("payments")

An `http.Error` or `kv.Error` that escapes `handle` becomes a retry or a
reject as in the Rust SDK: retry for what may go away (a timeout, a transport
failure, a 408, 429 or 5xx status, an unreadable store), retry after the
receiver's wait for a 429 or 503 with `Retry-After`, reject for the rest (bad
JSON, an address the endpoint does not allow, another 4xx such as 410 Gone, a
full quota, ...).

Outside a component the pure parts work and every call to the host raises
RuntimeError; `hookhost_sdk.testing.FakeHost` stands in for the host in tests.
"""

from . import config, http, kv, log, secret
from .errors import HandlerError, Reject, Retry, RetryAfter
from .event import Event

__all__ = [
    "Event",
    "HandlerError",
    "Reject",
    "Retry",
    "RetryAfter",
    "config",
    "http",
    "kv",
    "log",
    "secret",
]
