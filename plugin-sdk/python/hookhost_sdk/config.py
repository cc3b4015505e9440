"""The endpoint's settings, read-only.

    from hookhost_sdk import Reject, config

    url = config.get("slack_url")
    if url is None:
        raise Reject("slack_url not set")
    channel = config.get("channel", "#general")
"""

from . import _host


def get(key: str, default=None):
    """The value of the setting `key`, or `default` if the endpoint does not define it."""
    value = _host.config.get(key)
    return default if value is None else value


def all() -> dict:
    """Every setting of the endpoint, sorted by key."""
    return dict(_host.config.get_all())
