"""The inbox: receive signed webhooks (docs/contract.md §1) and apply them through registered
handlers.

- ``receive``: verify, parse and store a delivery once, answer it, ring the doorbell;
- ``doorbell``: the debounced publish of committed event ids;
- ``apply``: apply one event (``apply_event``, shared with the batch path), record failures;
- ``batch``: apply fresh events as one batch, else one by one;
- ``replay``: put an event back to be applied again.

The names below are the inbox's public entry points, re-exported for callers outside it.
"""

from integrations.services.inbox.apply import apply_event, process_inbound_event
from integrations.services.inbox.batch import process_inbound_events
from integrations.services.inbox.doorbell import ring_inbox_doorbell
from integrations.services.inbox.receive import (
    KEPT_HEADERS,
    Receipt,
    receive_webhook,
    record_pulled_event,
)
from integrations.services.inbox.replay import replay_event

__all__ = [
    "KEPT_HEADERS",
    "Receipt",
    "apply_event",
    "process_inbound_event",
    "process_inbound_events",
    "receive_webhook",
    "record_pulled_event",
    "replay_event",
    "ring_inbox_doorbell",
]
