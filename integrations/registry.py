"""What higher apps plug into the runtime (in their ``AppConfig.ready()``).

- ``inbox_handlers``: event type → handler(event) that applies it (inside a transaction).
- ``object_keys``: event type → function(data) giving the source object key for ordering.
- ``dead_letter_hooks``: called with an OutboxMessage or InboundEvent that went dead, so the
  exception queue can raise an item without this app importing it.
- ``rejection_hooks``: called with an InboundEvent rejected for format or schema.
- ``delivery_hooks``: called after a message is delivered (so a higher app can resolve items).
- ``routing_guards``: called with (system, entity codes) when a system is added, inside its
  transaction; the app that owns legal entities routes them and refuses an ambiguous set-up
  (raising a DomainError), returning notes for the person who added it.
- ``outbox_describers``: message kind → function(message) giving the business record a message
  carries (an ``OutboxSubject``: "Invoice 2026-11 #1 · Globex", its amount, its page) or None,
  so a dead letter names the invoice or customer at stake and counts as revenue at risk.
- ``routing_checks``: called with a kind; returns the codes of active legal entities that name
  no system of that kind (the admin refuses a second active system while there are any).
- ``event_links``: name → function(request, event) giving a higher app's page about an inbound
  event as ``(label, url)``, or None (billing: the event's forward lineage); drawn beside the
  event on its trace and on the operations page's events tab. No queries: it runs per row.
"""

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from config.registry import Registry


@dataclass(frozen=True)
class OutboxSubject:
    """The business record an outbound message carries, in words a person reads."""

    ref: str  # "Invoice 2026-11 #1 · Globex"
    amount: Decimal | None = None
    currency: str = ""
    url: str = ""


inbox_handlers: Registry[str, Callable] = Registry("inbox handlers")
object_keys: Registry[str, Callable[[dict], str]] = Registry("event object keys")
dead_letter_hooks: Registry[str, Callable] = Registry("dead-letter hooks")
rejection_hooks: Registry[str, Callable] = Registry("rejected-event hooks")
delivery_hooks: Registry[str, Callable] = Registry("delivery hooks")
routing_guards: Registry[str, Callable[..., list[str]]] = Registry("routing guards")
routing_checks: Registry[str, Callable[[str], list[str]]] = Registry("routing checks")
outbox_describers: Registry[str, Callable] = Registry("outbox subject describers")
event_links: Registry[str, Callable[..., tuple[str, str] | None]] = Registry("event links")
# kind → function(message) giving the message's payload built again from the records as they
# are now (the mapping as it is now), or None when it cannot be (its record is gone): a replay
# "with the current mapping" sends that (integrations/services/outbox/replay.py).
outbox_rebuilders: Registry[str, Callable[..., dict | None]] = Registry("outbox payload rebuilders")
# kind → function(message, payload, user, approval) run before a replay sends ``payload``
# built again: it answers why not (a four-eyes request waits: billing) or "" to go ahead.
replay_guards: Registry[str, Callable[..., str]] = Registry("replay guards")
# A business filter of a bulk replay (``customer``, ``project``, ``period``, ``invoice``) →
# function(value) giving the outbox object keys it means ("invoice:12" …), or None for a value
# it does not know (billing registers them).
replay_filters: Registry[str, Callable[[str], list[str] | None]] = Registry("replay filters")
