"""Log lines kept with the delivery attempt and shown by `delivery show`.

Past the invocation's log budget the host drops lines and keeps a truncation
marker instead. `print` works too: the host keeps each line written to
stdout (level `stdout`) and stderr (level `stderr`).

    from hookhost_sdk import log

    log.info(f"order {order} accepted")
    log.log(log.Level.DEBUG, "plain message")
"""

from enum import IntEnum

from . import _host


class Level(IntEnum):
    """How much a line matters; the values are the WIT enum's."""

    TRACE = 0
    DEBUG = 1
    INFO = 2
    WARN = 3
    ERROR = 4


def log(level: Level, message) -> None:
    """Records one line at `level`; `message` is converted with str()."""
    _host.log.log(_host.log.Level(level), str(message))


def trace(message) -> None:
    """Step-by-step detail."""
    log(Level.TRACE, message)


def debug(message) -> None:
    """Detail useful when debugging."""
    log(Level.DEBUG, message)


def info(message) -> None:
    """Normal operation."""
    log(Level.INFO, message)


def warn(message) -> None:
    """Something unexpected that the handler got past."""
    log(Level.WARN, message)


def error(message) -> None:
    """A failure."""
    log(Level.ERROR, message)
