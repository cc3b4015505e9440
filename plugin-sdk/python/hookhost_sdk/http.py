"""Outbound HTTP to the hosts the endpoint allows, and nowhere else.

The host checks every request against the endpoint's allow-list, refuses
private and loopback addresses unless the operator allows them, does not
follow redirects, limits the number of calls per invocation, and adds
`Idempotency-Key: {event id}:{call index}` unless the request sets one.

`send` returns every response, whatever its status; `get` and `post_json`
raise `StatusError` for a status outside 2xx. Every failure raises an
`http.Error`; one that escapes `handle` becomes a retry or a reject exactly as
in the Rust SDK (see `Error.handler_error`): a timeout, a transport failure,
408, 429 and 5xx retry (a 429 or 503 with `Retry-After` no sooner than asked),
everything else rejects, 410 Gone and an address the endpoint does not allow
among them.

Timeouts and waits are in seconds.

    from hookhost_sdk import http

    resp = http.send("POST", "https://api.example.com/orders",
                     headers={"authorization": "Bearer ..."},
                     json={"sku": "A-1", "quantity": 2}, timeout=5)
    if resp.status == 409:
        pass  # already there
    user = http.get("https://api.example.com/users/1").json()
"""

import datetime as _datetime
import json as _json
import math
import time as _time
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

from . import _host
from .errors import Reject, Retry, RetryAfter
from .event import first_header

#: How much of a response body an error message shows, in bytes.
BODY_SHOWN = 512
_U32_MAX = 2**32 - 1
_UNSET = object()


class Error(Exception):
    """Why a request failed. Uncaught in `handle`, it becomes `handler_error()`."""

    #: Whether trying again later may succeed.
    transient = False

    def handler_error(self):
        """The outcome this failure gives the delivery when `handle` lets it escape."""
        return Retry(str(self)) if self.transient else Reject(str(self))


class AccessDenied(Error):
    """The host is not on the endpoint's allow-list, or resolves to a refused address."""

    def __str__(self):
        return f"access denied: {self.args[0]}"


class InvalidRequest(Error):
    """The request is malformed (URL, scheme, method, header), or its JSON body
    could not be serialised."""

    def __str__(self):
        return f"invalid request: {self.args[0]}"


class Timeout(Error):
    """No complete answer within the timeout."""

    transient = True

    def __str__(self):
        return "request timed out"


class TooLarge(Error):
    """The response body is larger than the host's cap."""

    def __str__(self):
        return "response body too large"


class BudgetExhausted(Error):
    """This invocation has used all the outbound calls it is allowed."""

    def __str__(self):
        return "outbound call budget exhausted"


class TransportError(Error):
    """A transport failure: connection refused or reset, TLS, DNS (WIT's `other`)."""

    transient = True

    def __str__(self):
        return f"request failed: {self.args[0]}"


class StatusError(Error):
    """The server answered with a status outside 2xx (from `get`, `post_json`
    or `Response.raise_for_status`)."""

    def __init__(self, status, body, retry_after=None):
        super().__init__(status, body, retry_after)
        #: The HTTP status code.
        self.status = status
        #: The response body as text, invalid UTF-8 replaced by U+FFFD.
        self.body = body
        #: The wait in seconds `Retry-After` asks for, on a 429 or 503 only
        #: (elsewhere the header means something else, or nothing).
        self.retry_after = retry_after

    @property
    def transient(self):
        return self.status in (408, 429) or 500 <= self.status <= 599

    def handler_error(self):
        if self.retry_after is not None:
            return RetryAfter(str(self), self.retry_after)
        return super().handler_error()

    def __str__(self):
        body = self.body.strip()
        if not body:
            return f"HTTP status {self.status}"
        encoded = body.encode("utf-8", "replace")
        if len(encoded) <= BODY_SHOWN:
            return f"HTTP status {self.status}: {body}"
        # Cutting may split a character: drop its remains.
        return f"HTTP status {self.status}: {encoded[:BODY_SHOWN].decode('utf-8', 'ignore')}..."


_ERRORS = {
    "AccessDenied": AccessDenied,
    "InvalidRequest": InvalidRequest,
    "Timeout": Timeout,
    "TooLarge": TooLarge,
    "BudgetExhausted": BudgetExhausted,
    "Other": TransportError,
}


@dataclass
class Response:
    """The answer of the remote server."""

    #: The HTTP status code.
    status: int = 200
    #: Response headers, names in lower case.
    headers: List[Tuple[str, str]] = field(default_factory=list)
    #: The response body, at most the host's response cap.
    body: bytes = b""

    def header(self, name: str) -> Optional[str]:
        """The value of the first header named `name`, compared without regard to case."""
        return first_header(self.headers, name)

    def text(self) -> str:
        """The body as text, invalid UTF-8 replaced by U+FFFD."""
        return self.body.decode("utf-8", "replace")

    def json(self):
        """The body parsed as JSON; a body that is not JSON raises `Reject`."""
        try:
            return _json.loads(self.body)
        except ValueError as e:
            raise Reject(f"JSON error: {e}") from None

    @property
    def ok(self) -> bool:
        """Whether the status is 2xx."""
        return 200 <= self.status <= 299

    def retry_after(self, now=None) -> Optional[int]:
        """The wait in whole seconds the `Retry-After` header asks for:
        delta-seconds, or an HTTP-date counted from `now` (default: the
        clock; a date already past asks for 0). None without the header or
        when it is neither."""
        value = self.header("retry-after")
        if value is None:
            return None
        return parse_retry_after(value, _time.time() if now is None else now)

    def raise_for_status(self):
        """Returns the response itself if its status is 2xx, else raises
        `StatusError`, with the `Retry-After` wait of a 429 or 503."""
        if self.ok:
            return self
        wait = self.retry_after() if self.status in (429, 503) else None
        raise StatusError(self.status, self.text(), wait)


_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}


def parse_retry_after(value: str, now: float) -> Optional[int]:
    """The wait in whole seconds a `Retry-After` value asks for at `now`
    (seconds since the epoch): delta-seconds or an HTTP-date (IMF-fixdate,
    RFC 850 or asctime). None when it is neither."""
    value = value.strip()
    if value.isascii() and value.isdigit():
        return int(value)
    at = _http_date(value)
    if at is None:
        return None
    return max(0, math.ceil(at - now))


def _http_date(value):
    parts = value.replace(",", " ").split()
    try:
        if len(parts) == 6 and parts[5] == "GMT":  # Sun, 06 Nov 1994 08:49:37 GMT
            _, day, month, year, clock, _ = parts
        elif len(parts) == 4 and parts[3] == "GMT":  # Sunday, 06-Nov-94 08:49:37 GMT
            day, month, year = parts[1].split("-")
            year = str(int(year) + (2000 if int(year) < 70 else 1900))
            clock = parts[2]
        elif len(parts) == 5:  # Sun Nov  6 08:49:37 1994
            _, month, day, clock, year = parts
        else:
            return None
        hour, minute, second = clock.split(":")
        numbers = (year, day, hour, minute, second)
        if not all(n.isascii() and n.isdigit() for n in numbers):
            return None
        at = _datetime.datetime(
            int(year), _MONTHS[month.lower()], int(day), int(hour), int(minute), int(second),
            tzinfo=_datetime.timezone.utc,
        )
    except (KeyError, ValueError):
        return None
    return at.timestamp()


def _json_body(value) -> bytes:
    """`value` as compact JSON, byte for byte as serde_json writes it."""
    try:
        return _json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    except (TypeError, ValueError) as e:  # UnicodeEncodeError is a ValueError
        raise InvalidRequest(f"could not serialise the JSON body: {e}") from None


def send(method: str, url: str, *, headers=None, body=b"", json=_UNSET, timeout=None) -> Response:
    """Sends one request and returns the response, whatever its status.

    `method` is upper-cased; `url` is an absolute http or https URL. `headers`
    is a dict or a list of (name, value) pairs, sent in order. `body` is bytes
    or str (sent as UTF-8); `json=value` sends `value` as compact JSON with
    `content-type: application/json` instead, replacing any content-type
    given. `timeout` in seconds limits this call; the host caps it with its
    own and with the invocation's deadline.
    """
    pairs = list(headers.items()) if isinstance(headers, dict) else list(headers or ())
    if json is not _UNSET:
        body = _json_body(json)
        pairs = [(k, v) for k, v in pairs if k.lower() != "content-type"]
        pairs.append(("content-type", "application/json"))
    elif isinstance(body, str):
        body = body.encode("utf-8")
    timeout_ms = None if timeout is None else min(max(0, round(timeout * 1000)), _U32_MAX)
    request = _host.http_out.Request(method.upper(), url, pairs, bytes(body or b""), timeout_ms)
    try:
        r = _host.http_out.send(request)
    except _host.Err as e:
        raise _ERRORS[_host.case(e.value)](*_payload(e.value)) from None
    return Response(r.status, r.headers, r.body)


def _payload(case):
    return (case.value,) if hasattr(case, "value") else ()


def get(url: str, *, headers=None, timeout=None) -> Response:
    """`GET url`; a status outside 2xx raises `StatusError`."""
    return send("GET", url, headers=headers, timeout=timeout).raise_for_status()


def post_json(url: str, value, *, headers=None, timeout=None) -> Response:
    """`POST url` with `value` as JSON (`content-type: application/json`);
    a status outside 2xx raises `StatusError`."""
    return send("POST", url, headers=headers, json=value, timeout=timeout).raise_for_status()
