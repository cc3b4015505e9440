"""A key-value store private to the tenant and plugin.

Writes are buffered and visible to the same invocation at once; they commit
atomically when `handle` returns, and are discarded when it raises or runs out
of time. `increment` commits as a delta, so concurrent invocations never lose
an update. Keys are 1 to 512 bytes; values at most 1 MiB.

Every failure raises a `kv.Error`; one that escapes `handle` rejects the
delivery, except `StoreUnavailable`, which retries.

    from hookhost_sdk import kv

    if kv.get("order:1001") is None:
        kv.set("order:1001", "sent")
    seen = kv.increment("orders")
    kv.set_json("last", {"order": 1001, "seen": seen})
    for key in kv.list("order:"):
        kv.delete(key)
"""

import json as _json

from . import _host
from .errors import Reject, Retry


class Error(Exception):
    """Why a key-value operation failed. Uncaught in `handle`, it becomes `handler_error()`."""

    _what = "key-value error"

    def __str__(self):
        return f"{self._what}: {self.args[0]}"

    def handler_error(self):
        """A reject: a full quota or a bad key or value will not get better."""
        return Reject(str(self))


class InvalidKey(Error):
    """The key is empty or longer than 512 bytes."""

    _what = "invalid key"


class TooLarge(Error):
    """The value is larger than 1 MiB, or the invocation's write budget is spent."""

    _what = "value too large"


class QuotaExceeded(Error):
    """The tenant's storage quota is used up."""

    _what = "storage quota exceeded"


class NotANumber(Error):
    """`increment` found a value that is not a decimal integer."""

    _what = "not a number"


class StoreUnavailable(Error):
    """The store could not be read; retrying later may succeed (WIT's `other`)."""

    _what = "key-value store failed"

    def handler_error(self):
        return Retry(str(self))


class DecodeError(Error):
    """`get_text` or `get_json` found a value that is not UTF-8 or JSON, or
    `set_json` could not serialise its value."""

    _what = "bad JSON value"


_ERRORS = {
    "InvalidKey": InvalidKey,
    "TooLarge": TooLarge,
    "QuotaExceeded": QuotaExceeded,
    "NotANumber": NotANumber,
    "Other": StoreUnavailable,
}


def _call(function, *args):
    try:
        return function(*args)
    except _host.Err as e:
        raise _ERRORS[_host.case(e.value)](e.value.value) from None


def get(key: str):
    """The value stored under `key` as bytes, or None."""
    return _call(_host.kv.get, key)


def get_text(key: str):
    """The value stored under `key` as text, or None; not UTF-8 raises `DecodeError`."""
    value = get(key)
    try:
        return None if value is None else value.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DecodeError(f"{key}: {e}") from None


def get_json(key: str):
    """The value stored under `key` parsed as JSON, or None; not JSON raises `DecodeError`."""
    value = get(key)
    try:
        return None if value is None else _json.loads(value)
    except ValueError as e:
        raise DecodeError(f"{key}: {e}") from None


def set(key: str, value) -> None:
    """Stores `value` (bytes, or str stored as UTF-8) under `key`, replacing what was there."""
    if isinstance(value, str):
        value = value.encode("utf-8")
    _call(_host.kv.set, key, bytes(value))


def set_json(key: str, value) -> None:
    """Stores `value` as compact JSON under `key`."""
    try:
        encoded = _json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    except (TypeError, ValueError) as e:
        raise DecodeError(f"{key}: {e}") from None
    set(key, encoded)


def delete(key: str) -> None:
    """Removes `key`; removing a missing key is not an error."""
    _call(_host.kv.delete, key)


def increment(key: str, delta: int = 1) -> int:
    """Adds `delta` to the decimal integer stored under `key` (missing counts
    as 0) and returns the new value as this invocation sees it."""
    return _call(_host.kv.increment, key, delta)


def list(prefix: str = ""):
    """The keys that start with `prefix`, in ascending byte order."""
    return _call(_host.kv.list_keys, prefix)
