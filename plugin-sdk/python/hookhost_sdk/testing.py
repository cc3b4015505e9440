"""A stand-in for the host, to unit-test a handler in plain CPython.

    from hookhost_sdk import Event, http
    from hookhost_sdk.testing import FakeHost

    with FakeHost(config={"chat_url": "https://chat.example/hook"}) as host:
        handler.handle(Event(event_type="issues", body=b'{...}'))
    assert host.requests[0].body == b'{"text":...}'

`respond(request)` decides each outbound call's answer: it returns an
`http.Response` or raises an `http.Error` (`http.Timeout()`, ...); the default
answers 200 with an empty body. The store is `host.kv` (str keys, bytes
values); writes are kept whatever `handle` does.
"""

from dataclasses import dataclass
from types import SimpleNamespace
from typing import List, Optional, Tuple

from . import _host, http
from .log import Level


@dataclass
class Request:
    """An outbound request as the host receives it."""

    method: str
    url: str
    headers: List[Tuple[str, str]]
    body: bytes
    timeout_ms: Optional[int]


class _Err(Exception):
    def __init__(self, value):
        super().__init__(value)
        self.value = value


def _case(name, value=None):
    """A value of the WIT variant case `name`, named as the bindings name it."""
    case = type(f"Error_{name}", (), {})()
    if value is not None:
        case.value = value
    return case


_HTTP_CASES = {
    http.AccessDenied: "AccessDenied",
    http.InvalidRequest: "InvalidRequest",
    http.Timeout: "Timeout",
    http.TooLarge: "TooLarge",
    http.BudgetExhausted: "BudgetExhausted",
    http.TransportError: "Other",
}


class FakeHost:
    """Records what a handler asks of the host while bound (`with FakeHost() as host:`)."""

    def __init__(self, *, config=None, secrets=None, kv=None, respond=None):
        self.config = dict(config or {})
        self.secrets = dict(secrets or {})
        self.kv = dict(kv or {})
        self.respond = respond or (lambda request: http.Response(200))
        #: Every outbound `Request`, in order.
        self.requests = []
        #: Every log line as (level name in lower case, message).
        self.logs = []

    def __enter__(self):
        _host.bind(
            http_out=SimpleNamespace(Request=Request, send=self._send),
            kv=SimpleNamespace(
                get=self._kv_get,
                set=self._kv_set,
                delete=self._kv_delete,
                increment=self._kv_increment,
                list_keys=self._kv_list,
            ),
            log=SimpleNamespace(Level=Level, log=lambda level, message: self.logs.append((level.name.lower(), message))),
            config=SimpleNamespace(get=self.config.get, get_all=lambda: sorted(self.config.items())),
            secret=SimpleNamespace(get=self.secrets.get),
            Err=_Err,
        )
        return self

    def __exit__(self, *exc):
        _host.unbind()
        return False

    def _send(self, request):
        self.requests.append(request)
        try:
            return self.respond(request)
        except http.Error as e:
            raise _Err(_case(_HTTP_CASES[type(e)], *e.args)) from None

    def _key(self, key):
        if not key or len(key.encode("utf-8")) > 512:
            raise _Err(_case("InvalidKey", f"{len(key.encode('utf-8'))} bytes"))
        return key

    def _kv_get(self, key):
        return self.kv.get(self._key(key))

    def _kv_set(self, key, value):
        self.kv[self._key(key)] = bytes(value)

    def _kv_delete(self, key):
        self.kv.pop(self._key(key), None)

    def _kv_increment(self, key, delta):
        text = self.kv.get(self._key(key), b"0").decode("utf-8", "replace")
        try:
            value = int(text) + delta
        except ValueError:
            raise _Err(_case("NotANumber", f"{key}: {text}")) from None
        self.kv[key] = str(value).encode()
        return value

    def _kv_list(self, prefix):
        return sorted((k for k in self.kv if k.startswith(prefix)), key=lambda k: k.encode("utf-8"))


__all__ = ["FakeHost", "Request"]
