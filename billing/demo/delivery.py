"""How the demo loader talks to the running server: signed webhooks in parallel chains, with
retries, and the wait until the worker has applied them (``settle``)."""

import threading
import time
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import requests

from integrations.models import InboundEvent, OutboxMessage
from integrations.webhooks.sender import WebhookSender

THREADS = 8  # parallel senders: the web serves 2 processes x 4 threads
# Seconds a step may go without any progress (no event applied, no message sent) before the
# load gives up: a busy machine is slow, not stuck, so the clock restarts whenever work moves.
SETTLE_TIMEOUT = 240.0
_clock, _pause = time.monotonic, time.sleep  # settle's clock (a test drives it)
SEND_ATTEMPTS = 6  # per delivery: a 429 waits its Retry-After, a 5xx or reset backs off
PENDING_EVENTS = (
    InboundEvent.Status.RECEIVED,
    InboundEvent.Status.PROCESSING,
    InboundEvent.Status.FAILED,
)
PENDING_MESSAGES = (
    OutboxMessage.Status.PENDING,
    OutboxMessage.Status.SENDING,
    OutboxMessage.Status.FAILED,
)

# One delivery: (system, event envelope, webhook id). A chain is sent in order by one thread.
Delivery = tuple[str, dict, str]


class DemoLoadFailed(RuntimeError):
    """A delivery was refused or a step did not settle; the message says which."""


def envelope(event_type: str, timestamp: str, data: dict) -> dict:
    return {
        "type": event_type,
        "timestamp": timestamp,
        "data": {k: v for k, v in data.items() if not k.startswith("_")},
    }


def webhook_id(kind: str, key: str) -> str:
    """The fixed webhook id of a demo delivery: a second load sends only duplicates."""
    return f"demo_{kind}_{key}"


class Courier:
    """Sends deliveries to the Throughline at ``base_url``; answers counted in ``sent``."""

    def __init__(self, *, base_url: str, secrets: dict[str, str], sent: Counter) -> None:
        self.base_url = base_url
        self.secrets = secrets
        self.sent = sent
        self._local = threading.local()
        self._lock = threading.Lock()

    def _sender(self) -> WebhookSender:
        sender = getattr(self._local, "sender", None)
        if sender is None:
            sender = self._local.sender = WebhookSender(self.base_url, timeout=30)
        return sender

    def send_chains(self, chains: Iterable[list[Delivery]]) -> None:
        """Send each chain in order, the chains in parallel; answers counted in the report."""
        with ThreadPoolExecutor(max_workers=THREADS) as pool:
            for codes in pool.map(self._send_chain, chains):
                with self._lock:
                    self.sent.update(codes)

    def _send_chain(self, chain: list[Delivery]) -> list[int]:
        return [self._send_one(*delivery) for delivery in chain]

    def _send_one(self, system: str, event: dict, webhook_id: str) -> int:
        delay = 0.5
        for _attempt in range(SEND_ATTEMPTS):
            try:
                delivery = self._sender().send(
                    system, event, webhook_id=webhook_id, secret=self.secrets.get(system)
                )
            except requests.RequestException:
                time.sleep(delay)
                delay *= 2
                continue
            if delivery.accepted:
                return delivery.status_code
            if delivery.status_code == 429 or delivery.status_code >= 500:
                time.sleep(delay)
                delay *= 2
                continue
            raise DemoLoadFailed(
                f"{webhook_id} ({event['type']}) refused: {delivery.status_code} {delivery.body[:300]}"
            )
        raise DemoLoadFailed(
            f"{webhook_id} ({event['type']}): no answer after {SEND_ATTEMPTS} tries"
        )


def settle(what: str, *, outbox: bool = True, timeout: float = SETTLE_TIMEOUT) -> None:
    """Wait until the inbox (and, with ``outbox``, the outbox) has nothing left to do.

    Steps that only need the events applied leave the outbox draining (the ERP's copies of
    the time entries) while the next step is sent. Gives up only after ``timeout`` seconds
    without progress (the pending count not falling), however long the whole step takes."""
    deadline, fewest = _clock() + timeout, None
    while True:
        events = InboundEvent.objects.filter(status__in=PENDING_EVENTS).count()
        messages = (
            OutboxMessage.objects.filter(status__in=PENDING_MESSAGES).count() if outbox else 0
        )
        if not events and not messages:
            return
        if fewest is None or events + messages < fewest:
            deadline, fewest = _clock() + timeout, events + messages
        if _clock() > deadline:
            raise DemoLoadFailed(
                f"no progress for {timeout:.0f} s on {what}: {events} event(s) and {messages} "
                "message(s) still pending (is the worker running?)"
            )
        _pause(0.25)
