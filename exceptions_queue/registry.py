"""The exception-type registry: what can go wrong, who works it, and how it is put right.

Higher apps (mdm, billing) and this app itself register ``ExceptionType``s in
``AppConfig.ready()``; ``exceptions_queue`` never imports them. An action's handler does the
work that the problem blocked (replay a message, re-rate an entry) and returns a one-line
outcome that is recorded on the item.
"""

from collections.abc import Callable
from dataclasses import dataclass

from config.registry import Registry

QUEUES = ("finance", "pmo", "operations")
SEVERITIES = ("low", "medium", "high", "critical")


@dataclass(frozen=True)
class ResolutionAction:
    """One way to resolve an item of a type.

    ``handler(item, *, user, data)`` runs inside the resolving transaction and returns the
    outcome recorded on the item. ``roles`` empty means anyone who may see the queue (admins
    always may). ``form_class`` is a Django form for actions that need input; its
    ``cleaned_data`` is what the handler gets as ``data``. ``resolves=False`` records the action
    but leaves the item open (e.g. "re-check", "replay and wait for delivery").
    """

    name: str
    label: str
    handler: Callable
    roles: tuple[str, ...] = ()
    form_class: type | None = None
    resolves: bool = True


@dataclass(frozen=True)
class ExceptionType:
    """A kind of problem: its queue, severity, words for a person, SLA and resolution actions."""

    code: str
    queue: str
    severity: str
    title: str
    help_text: str
    sla_hours: int
    actions: tuple[ResolutionAction, ...] = ()
    # ``lock_subject(item)`` locks the row the item is about (its outbox message, its event)
    # before the item itself is locked by an action. Deliveries, dead letters and processing
    # lock the subject and then raise or close its item; an action that locked the item first
    # and then its subject (a replay) took the two locks the other way round and deadlocked.
    lock_subject: Callable | None = None

    def __post_init__(self) -> None:
        if self.queue not in QUEUES:
            raise ValueError(f"exception type {self.code}: unknown queue {self.queue!r}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"exception type {self.code}: unknown severity {self.severity!r}")
        names = [action.name for action in self.actions]
        if len(names) != len(set(names)):
            raise ValueError(f"exception type {self.code}: duplicate action names {names}")

    def action(self, name: str) -> ResolutionAction | None:
        return next((action for action in self.actions if action.name == name), None)


exception_types: Registry[str, ExceptionType] = Registry("exception types")
