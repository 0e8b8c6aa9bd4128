"""A real webhook client: sign a delivery per Standard Webhooks and POST it to a Throughline.

What a peer's own sender does, for the demo firm, the traffic simulator and ``send_event``.
Signing uses the ``standardwebhooks`` package (the reference implementation senders use),
so a delivery sent from here proves the receiver against a client that is not our own code.
"""

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import requests
from django.conf import settings
from standardwebhooks.webhooks import Webhook


class NoSecret(LookupError):
    """No webhook secret is known for a system (pass one, or run ``bootstrap``)."""


def demo_secret(system: str) -> str:
    """The secret ``bootstrap`` wrote for a demo system to ``var/demo-secrets.json``."""
    path = settings.VAR_DIR / "demo-secrets.json"
    secret = json.loads(path.read_text()).get(system) if path.exists() else None
    if not secret:
        raise NoSecret(f"no secret for {system!r} in {path.name}: pass one, or run bootstrap")
    return secret


@dataclass(frozen=True)
class Delivery:
    webhook_id: str
    status_code: int
    body: str

    @property
    def accepted(self) -> bool:
        """Stored by the receiver: a new event (202) or one it already had (200 duplicate)."""
        return self.status_code in (200, 202)


class WebhookSender:
    """Signs and posts deliveries to one Throughline over one keep-alive HTTP session."""

    def __init__(self, base_url: str | None = None, *, timeout: float = 10.0) -> None:
        self.base_url = (base_url or settings.THROUGHLINE_URL).rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()
        self._secrets: dict[str, str] = {}

    def secret(self, system: str) -> str:
        if system not in self._secrets:
            self._secrets[system] = demo_secret(system)
        return self._secrets[system]

    def send(
        self,
        system: str,
        event: dict,
        *,
        webhook_id: str | None = None,
        secret: str | None = None,
        signed_at: datetime | None = None,
        raw_body: bytes | None = None,
    ) -> Delivery:
        """POST ``event`` (``{type, timestamp, data}``) as ``system`` would.

        ``webhook_id`` is the idempotency key: a fixed one makes a re-send a duplicate (200).
        ``raw_body`` sends those bytes instead of ``event`` (a malformed delivery, still signed).
        """
        webhook_id = webhook_id or f"msg_{uuid.uuid4().hex}"
        signed_at = signed_at or datetime.now(tz=UTC)
        body = raw_body if raw_body is not None else json.dumps(event).encode()
        signature = Webhook(secret or self.secret(system)).sign(
            webhook_id, signed_at, body.decode("utf-8", errors="replace")
        )
        response = self._session.post(
            f"{self.base_url}/api/v1/hooks/{system}/",
            data=body,
            headers={
                "content-type": "application/json",
                "webhook-id": webhook_id,
                "webhook-timestamp": str(int(signed_at.timestamp())),
                "webhook-signature": signature,
            },
            timeout=self.timeout,
        )
        return Delivery(webhook_id, response.status_code, response.text)

    def close(self) -> None:
        self._session.close()
