"""The host's imports, behind a seam.

The component's entry point (`_app.entry_point`) binds the bindings that
componentize-py generates; `hookhost_sdk.testing.FakeHost` binds stand-ins.
Until then every call to the host raises, so the pure parts of the SDK import
and run in plain CPython.

The SDK reads a WIT variant case by its generated class name
(`Error_AccessDenied`, ...), so stand-ins need no generated module.
"""


class _Unbound:
    def __init__(self, interface):
        self._interface = interface

    def __getattr__(self, name):
        raise RuntimeError(
            f"hookhost_sdk: the host's `{self._interface}` interface exists only inside "
            "a hookhost component (in tests, use hookhost_sdk.testing.FakeHost)"
        )


class _NeverRaised(Exception):
    pass


http_out = _Unbound("http-out")
kv = _Unbound("kv")
log = _Unbound("log")
config = _Unbound("config")
secret = _Unbound("secret")
#: The exception class the bindings raise for a WIT `result`'s error.
Err = _NeverRaised


def bind(*, http_out, kv, log, config, secret, Err):
    """Points the SDK at the host's interfaces (or at stand-ins)."""
    globals().update(http_out=http_out, kv=kv, log=log, config=config, secret=secret, Err=Err)


def unbind():
    """Restores the state outside a component."""
    bind(
        http_out=_Unbound("http-out"),
        kv=_Unbound("kv"),
        log=_Unbound("log"),
        config=_Unbound("config"),
        secret=_Unbound("secret"),
        Err=_NeverRaised,
    )


def case(error):
    """The case name of a generated variant value: `Error_TooLarge` -> `TooLarge`."""
    return type(error).__name__.rpartition("_")[2]
