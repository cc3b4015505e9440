"""The endpoint's plugin secrets: values such as a receiver's API key, set by
the operator or the tenant, write-only in the admin API and encrypted at rest.

The host replaces every occurrence of a secret's exact value in log lines,
stdout and stderr, outcome messages and recorded outbound calls with
`[secret NAME]`. An encoded, transformed or split value is kept as written,
so never log what you derive from a secret.

    key = secret.get("api_key")
    if key is None:
        raise Reject("secret api_key not set")
"""

from . import _host


def get(name: str):
    """The value of the secret `name`, or None if the endpoint does not define it."""
    return _host.secret.get(name)
