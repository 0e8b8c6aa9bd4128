"""The outbox: every external effect, written with the domain change, delivered at least once.

- ``enqueue``: write a message in the caller's transaction (``enqueue_outbox_message``), or
  one to each subscriber (``publish_to_subscribers``);
- ``policy``: retry policies per kind;
- ``claims``: claim, give back, ordering per external object;
- ``outcomes``: one connector call and its outcome (``record_outcome``, shared by both paths);
- ``deliver``: send one message (``dispatch_outbox_message``);
- ``batch``: send many with shared claims and bookkeeping (``dispatch_outbox_messages``);
- ``inline``: a worker sending the messages its batch just wrote (``dispatch_inline``);
- ``replay`` and ``rescue``: send a dead message again; rescue expired claims.

The names below are the outbox's public entry points, re-exported for callers outside it.
"""

from integrations.services.outbox.batch import dispatch_outbox_messages
from integrations.services.outbox.deliver import dispatch_outbox_message
from integrations.services.outbox.enqueue import (
    OutsideTransaction,
    enqueue_outbox_message,
    publish_to_subscribers,
)
from integrations.services.outbox.inline import dispatch_inline, send_collected
from integrations.services.outbox.policy import RETRY_POLICIES, RetryPolicy, retry_policy
from integrations.services.outbox.replay import replay_outbox_message
from integrations.services.outbox.rescue import rescue_expired_claims

__all__ = [
    "RETRY_POLICIES",
    "OutsideTransaction",
    "RetryPolicy",
    "dispatch_inline",
    "dispatch_outbox_message",
    "dispatch_outbox_messages",
    "enqueue_outbox_message",
    "publish_to_subscribers",
    "replay_outbox_message",
    "rescue_expired_claims",
    "retry_policy",
    "send_collected",
]
