"""Deciding a four-eyes request (``decide``: approve, and the action runs, or reject) and the
actions it can hold, and the guard around the exception items'
money-moving actions (write off, bill at the PSA's rate).

An item's action runs inside the item's own transaction (exceptions_queue resolve), so its
guard records the request and answers with words (the item stays open with a note) instead of
raising: a raise would roll the request back with the action.
"""

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db import transaction
from django.utils import timezone

from billing.models import ApprovalAction, ApprovalRequest, Project
from billing.services import invoice_adjustments, invoice_posting, rating_actions
from billing.services.amendments import rerate_project
from billing.services.approvals import (
    ApprovalRefused,
    SelfApprovalRefused,
    ask,
    rule_for,
    waiting_words,
)
from config.errors import DomainError
from config.money import Money
from config.roles import User
from exceptions_queue.models import ExceptionComment, ExceptionItem
from exceptions_queue.services.items import add_note
from integrations.models import OutboxMessage
from integrations.services.outbox.replay import CURRENT, replay_outbox_message
from integrations.services.traces import record_trace_step

ItemHandler = Callable[..., str]
ITEM_HANDLERS: dict[str, ItemHandler] = {
    ApprovalAction.WRITE_OFF: rating_actions.write_off_action,
    ApprovalAction.PSA_RATE: rating_actions.bill_at_psa_rate_action,
}


def _item_amount(item: ExceptionItem) -> Money | None:
    if item.amount_at_risk is None or not item.currency:
        return None
    return Money(Decimal(item.amount_at_risk), item.currency)


def guarded(action: str) -> ItemHandler:
    """The item action ``action`` with four eyes in front of it."""
    handler = ITEM_HANDLERS[action]

    def run(item: ExceptionItem, *, user: User, data: dict[str, Any]) -> str:
        amount = _item_amount(item)
        if rule_for(action, amount) is None:
            return handler(item, user=user, data=data)
        request = ask(
            action=action,
            subject_key=f"item:{item.pk}",
            label=f"item #{item.pk} ({item.subject_ref})",
            payload={"item_id": item.pk, "data": {k: str(v) for k, v in data.items()}},
            amount=amount,
            user=user,
        )
        return f"Not done yet: {waiting_words(request)}"

    run.__name__ = f"guarded_{action}"
    return run


def decide(*, request_id: int, user: User, approve: bool, note: str = "") -> ApprovalRequest:
    """Approve (the action runs now, in this transaction) or reject a pending request."""
    with transaction.atomic():
        request = ApprovalRequest.objects.select_for_update().filter(pk=request_id).first()
        if request is None:
            raise ApprovalRefused(f"no approval request {request_id}")
        if request.status != ApprovalRequest.Status.PENDING:
            raise ApprovalRefused(
                f"request #{request.pk} is {request.get_status_display().lower()} already"
            )
        if request.requested_by_id == user.pk:
            raise SelfApprovalRefused(
                f"you asked for request #{request.pk}: someone else has to approve or reject it"
            )
        if not approve and not note.strip():
            raise ApprovalRefused("say why it is rejected")
        request.decided_by, request.decided_at = user, timezone.now()
        request.decision_note = note.strip()[:500]
        if approve:
            _run(request, user)
        else:
            request.status, request.result = ApprovalRequest.Status.REJECTED, "rejected"
        request.save()
    verb = {"approved": "approved", "rejected": "rejected", "failed": "approved, refused when done"}
    record_trace_step(
        kind="record",
        action=f"approval_{request.status}",
        summary=f"request #{request.pk} {verb[request.status]} by {user.get_username()}: {request.result}",
        subject=request,
        trace_id=request.trace_id or None,
    )
    return request


def _run(request: ApprovalRequest, approver: User) -> None:
    try:
        with transaction.atomic():
            request.result = run(request, approver)[:2000]
    except DomainError as exc:
        request.status, request.result = ApprovalRequest.Status.FAILED, exc.message[:2000]
    except (ObjectDoesNotExist, KeyError, ValueError, TypeError) as exc:
        # What it was asked for is gone (the record deleted) or the stored arguments do not
        # fit any more: the request is answered, never a server error.
        request.status = ApprovalRequest.Status.FAILED
        request.result = f"cannot be done: what it was asked for is gone or incomplete ({exc!r})"[
            :2000
        ]
    else:
        request.status = ApprovalRequest.Status.APPROVED


def run(request: ApprovalRequest, approver: User) -> str:
    """Do what ``request`` asked, as its requester asked it, with the request as authority."""
    payload, requester = request.payload, request.requested_by
    if request.action == ApprovalAction.POST_INVOICE:
        invoice = invoice_posting.approve_invoice(
            invoice_id=int(payload["invoice_id"]), approved_by=requester, approval=request
        )
        return f"{invoice.title} approved by {requester} and {approver}: queued to the ERP"
    if request.action == ApprovalAction.WRITE_DOWN:
        line = invoice_adjustments.adjust_line(
            invoice_id=int(payload["invoice_id"]), line_id=int(payload["line_id"]),
            new_amount=payload["new_amount"], reason=payload["reason"], user=requester,
            approval=request,
        )  # fmt: skip
        return f"Line {line.pk} written down to {payload['new_amount']}: {payload['reason']}"
    if request.action == ApprovalAction.RATE_CHANGE:
        project = Project.objects.get(pk=int(payload["project_id"]))
        done = rerate_project(project=project, user=requester, approval=request)
        return (
            f"{done.entries} entries re-rated, {done.credited} credited and re-billed, "
            f"{done.moved_off_drafts} taken off drafts"
        )
    if request.action == ApprovalAction.REPLAY_POSTED:
        message = replay_outbox_message(
            message_id=payload["message_id"], mapping=CURRENT, user=requester, approval=request
        )
        return f"{message.kind} to {message.system.slug} queued again, built again now"
    if request.action in ITEM_HANDLERS:
        return _run_item_action(request, approver)
    raise ApprovalRefused(f"nothing runs {request.action!r}")


def _run_item_action(request: ApprovalRequest, approver: User) -> str:
    item = ExceptionItem.objects.select_for_update().filter(pk=request.payload["item_id"]).first()
    if item is None or not item.is_open:
        raise ApprovalRefused(f"item #{request.payload['item_id']} is not open any more")
    outcome = ITEM_HANDLERS[request.action](
        item, user=request.requested_by, data=dict(request.payload.get("data") or {})
    )
    label = request.get_action_display()
    add_note(item, f"{label}, approved by {approver.get_username()} (request #{request.pk}): "
             f"{outcome}", kind=ExceptionComment.Kind.ACTION, author=approver)  # fmt: skip
    return outcome


def guard_posting_replay(
    message: OutboxMessage, payload: dict, user: User | None, approval: ApprovalRequest | None
) -> str:
    """integrations' replay guard for ``erp.invoice.create``: a replay built again whose gross
    total differs from the one sent changes a posted amount, so a rule (``replay_posted``) may
    put it under four eyes. Answers why it waits, or "" to go ahead."""
    before, after = message.payload.get("gross_total"), payload.get("gross_total")
    currency = payload.get("currency") or message.payload.get("currency") or ""
    if before == after or after is None:
        return ""
    moved = Money(Decimal(str(after)) - Decimal(str(before or "0")), currency)
    subject = f"outbox:{message.pk}"
    if (
        approval is not None
        and approval.action == ApprovalAction.REPLAY_POSTED
        and approval.subject_key == subject
    ):
        return ""
    if rule_for(ApprovalAction.REPLAY_POSTED, moved) is None:
        return ""
    if user is None:
        return "a replay that changes a posted amount needs a person to ask for it (four eyes)"
    request = ask(
        action=ApprovalAction.REPLAY_POSTED,
        subject_key=subject,
        label=f"invoice {payload.get('invoice_id')} to {message.system.slug} ({before} → {after} {currency})",
        payload={"message_id": str(message.pk)},
        amount=abs(moved),
        user=user,
    )
    return waiting_words(request)
