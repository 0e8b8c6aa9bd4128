"""What people do with exception items: take a resolution action, assign, comment, dismiss,
and the same in bulk."""

import logging

from django.db import transaction

from config.errors import DomainError
from config.roles import User, has_role
from exceptions_queue.errors import (
    ActionInputInvalid,
    ActionNotAllowed,
    ExceptionItemClosed,
    ExceptionItemNotFound,
    UnknownAction,
)
from exceptions_queue.models import ExceptionComment, ExceptionItem
from exceptions_queue.registry import ResolutionAction, exception_types
from exceptions_queue.selectors import can_see_queue, get_exception_item
from exceptions_queue.services.items import DISMISS, add_note, close_item, exception_type_of

logger = logging.getLogger(__name__)


def _lock_for_user(*, item_id: int, user: User) -> ExceptionItem:
    seen = get_exception_item(user=user, item_id=item_id)  # 404 outside the user's queues
    exception_type = exception_types.get(seen.type_code)  # an unregistered type locks no subject
    if exception_type is not None and exception_type.lock_subject is not None:
        exception_type.lock_subject(
            seen
        )  # the subject's row first, the item's second: one order everywhere
    item = ExceptionItem.objects.select_for_update().filter(pk=item_id).first()
    if item is None:
        raise ExceptionItemNotFound(f"no exception item #{item_id}", id=item_id)
    return item


def form_context(resolution: ResolutionAction, item: ExceptionItem) -> dict:
    """What an action's form is built with besides its data: the item, when the form asks for
    it (``takes_item = True``) to offer the valid values as choices (an item's open phases)."""
    return {"item": item} if getattr(resolution.form_class, "takes_item", False) else {}


def _require_open(item: ExceptionItem) -> None:
    if not item.is_open:
        raise ExceptionItemClosed(
            f"item #{item.pk} is already {item.status}", id=item.pk, status=item.status
        )


@transaction.atomic
def resolve_exception_item(
    *, item_id: int, action: str, user: User, data: dict | None = None
) -> ExceptionItem:
    """Take one of the item's type's actions (or the built-in ``dismiss``) as ``user``.

    Checks the user's queue and the action's roles (ActionNotAllowed), validates ``data``
    with the action's form (ActionInputInvalid), runs the handler and records its outcome.
    An action with ``resolves=False`` is recorded and leaves the item open. Raises
    ExceptionItemNotFound, ExceptionItemClosed, UnknownAction; a handler may raise
    ActionRefused, which rolls the whole attempt back.
    """
    item = _lock_for_user(item_id=item_id, user=user)
    if action == DISMISS and not exception_type_of(item.type_code).action(DISMISS):
        return _dismiss_locked(item, user=user, reason=str((data or {}).get("reason", "")))
    _require_open(item)
    resolution = exception_type_of(item.type_code).action(action)
    if resolution is None:
        raise UnknownAction(f"{item.type_code} has no action {action!r}", action=action)
    if resolution.roles and not has_role(user, *resolution.roles):
        raise ActionNotAllowed(
            f"{resolution.label} needs one of the roles: {', '.join(resolution.roles)}"
        )
    cleaned = dict(data or {})
    if resolution.form_class is not None:
        form = resolution.form_class(data=cleaned, **form_context(resolution, item))
        if not form.is_valid():
            raise ActionInputInvalid(
                "the action's input is invalid", errors=form.errors.get_json_data()
            )
        cleaned = form.cleaned_data
    outcome = str(resolution.handler(item, user=user, data=cleaned) or resolution.label)[:2000]
    if resolution.resolves:
        close_item(
            item, status=ExceptionItem.Status.RESOLVED, action=action, outcome=outcome, user=user
        )
    else:
        item.resolution_action, item.resolution_outcome = action, outcome
        item.save(update_fields=["resolution_action", "resolution_outcome", "updated_at"])
        add_note(
            item, f"{resolution.label}: {outcome}", kind=ExceptionComment.Kind.ACTION, author=user
        )
    logger.info("exception.action", extra={"item_id": item.pk, "action": action})
    return item


@transaction.atomic
def assign_exception_item(*, item_id: int, assignee: User | None, by: User) -> ExceptionItem:
    """Give an open item to ``assignee`` (None: back to the queue). ``by`` must see the queue;
    the assignee must work the queue too (ActionNotAllowed otherwise)."""
    item = _lock_for_user(item_id=item_id, user=by)
    _require_open(item)
    if assignee is not None and not can_see_queue(user=assignee, queue=item.queue):
        raise ActionNotAllowed(f"{assignee} does not work the {item.queue} queue")
    item.assignee = assignee
    item.status = ExceptionItem.Status.ASSIGNED if assignee else ExceptionItem.Status.OPEN
    item.save(update_fields=["assignee", "status", "updated_at"])
    if assignee is None:
        text = "Unassigned"
    elif assignee == by:
        text = "Claimed"
    else:
        text = f"Assigned to {assignee.get_username()}"
    add_note(item, text, kind=ExceptionComment.Kind.ACTION, author=by)
    return item


@transaction.atomic
def comment_on_exception_item(*, item_id: int, user: User, text: str) -> ExceptionComment:
    """Add a comment (any status: people explain afterwards too). Raises ActionInputInvalid
    for an empty text."""
    item = _lock_for_user(item_id=item_id, user=user)
    if not text.strip():
        raise ActionInputInvalid("a comment needs some text", errors={"text": ["Required."]})
    return add_note(item, text.strip(), kind=ExceptionComment.Kind.COMMENT, author=user)


@transaction.atomic
def dismiss_exception_item(*, item_id: int, user: User, reason: str) -> ExceptionItem:
    """Close an item without fixing it; the reason is required and recorded."""
    return _dismiss_locked(_lock_for_user(item_id=item_id, user=user), user=user, reason=reason)


def _dismiss_locked(item: ExceptionItem, *, user: User, reason: str) -> ExceptionItem:
    _require_open(item)
    if not reason.strip():
        raise ActionInputInvalid("dismissing needs a reason", errors={"reason": ["Required."]})
    close_item(
        item,
        status=ExceptionItem.Status.DISMISSED,
        action=DISMISS,
        outcome=reason.strip(),
        user=user,
    )
    return item


def apply_bulk_operation(
    *, user: User, item_ids: list[int], operation: str, reason: str = ""
) -> tuple[int, list[str]]:
    """Apply one operation to many items, each in its own transaction, so one refusal does
    not undo the others. ``operation``: ``claim``, ``unassign``, ``dismiss`` (needs
    ``reason``) or ``action:<name>``. Returns (items done, one message per refusal)."""
    done, errors = 0, []
    for item_id in sorted(set(item_ids)):
        try:
            if operation == "claim":
                assign_exception_item(item_id=item_id, assignee=user, by=user)
            elif operation == "unassign":
                assign_exception_item(item_id=item_id, assignee=None, by=user)
            elif operation == DISMISS:
                dismiss_exception_item(item_id=item_id, user=user, reason=reason)
            elif operation.startswith("action:"):
                resolve_exception_item(item_id=item_id, action=operation[7:], user=user, data={})
            else:
                raise UnknownAction(f"no bulk operation {operation!r}", operation=operation)
        except DomainError as exc:
            errors.append(f"#{item_id}: {exc.message}")
        else:
            done += 1
    return done, errors
