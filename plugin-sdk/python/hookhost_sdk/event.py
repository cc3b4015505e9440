"""One webhook, as the host received and verified it."""

import json as _json
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

from .errors import Reject


def first_header(headers: List[Tuple[str, str]], name: str) -> Optional[str]:
    """The value of the first of `headers` named `name`, compared without regard to case."""
    name = name.lower()
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


@dataclass
class Event:
    """One webhook, as the host received and verified it.

    The same event is handed to the handler on every attempt and replay; only
    `attempt` changes.
    """

    #: The delivery id: stable across retries and replays, and the prefix of
    #: the `Idempotency-Key` the host puts on every outbound call.
    id: str = ""
    #: The tenant that owns the endpoint.
    tenant: str = ""
    #: The endpoint the webhook was posted to.
    endpoint: str = ""
    #: The verification scheme: "stripe", "github", "shopify", "slack",
    #: "standard-webhooks", "hmac" or "none".
    provider: str = ""
    #: The provider's event type where it names one ("payment_intent.succeeded",
    #: GitHub's X-GitHub-Event header, ...), else None.
    event_type: Optional[str] = None
    #: When the host accepted the webhook, in milliseconds since the Unix epoch.
    received_at_ms: int = 0
    #: 1 on the first try, incremented by every retry and replay.
    attempt: int = 1
    #: The request headers as received, names in lower case.
    headers: List[Tuple[str, str]] = field(default_factory=list)
    #: The raw request body, byte for byte as the signature covered it.
    body: bytes = b""

    def header(self, name: str) -> Optional[str]:
        """The value of the first header named `name`, compared without regard to case."""
        return first_header(self.headers, name)

    def text(self) -> str:
        """The body as text; a body that is not UTF-8 raises `Reject`."""
        try:
            return self.body.decode("utf-8")
        except UnicodeDecodeError as e:
            raise Reject(f"event body is not UTF-8: {e}") from None

    def json(self):
        """The body parsed as JSON; a body that is not JSON raises `Reject`
        (it will not parse better on the next attempt)."""
        try:
            return _json.loads(self.body)
        except ValueError as e:
            raise Reject(f"event body is not the expected JSON: {e}") from None

    @classmethod
    def _from_wit(cls, e):
        return cls(
            e.id,
            e.tenant,
            e.endpoint,
            e.provider,
            e.event_type,
            e.received_at_ms,
            e.attempt,
            e.headers,
            e.body,
        )
