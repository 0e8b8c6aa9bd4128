"""Four eyes (docs/finance-controls/four-eyes.md): a money-moving action a rule names, at or
above its threshold, is not done by the person who asks for it. It becomes an
ApprovalRequest; another person with the role approves it (then it runs, with both names on
record) or rejects it. The requester can never approve their own request.

An action's service calls ``require_second_pair`` before it changes anything: it returns when
the action may go ahead (no rule, under the threshold, or run by an approved request) and
raises SecondApprovalRequired, the request recorded, otherwise. Deciding a request (and running
its action) is billing/services/approval_actions.py ``decide``.
"""

from collections.abc import Callable
from decimal import Decimal
from functools import wraps
from typing import Any, TypeVar

from django.db import IntegrityError, transaction

from billing.models import ApprovalRequest, ApprovalRule
from config.errors import DomainError
from config.money import Money
from config.roles import User
from integrations.services.traces import current_or_new_trace_id, record_trace_step

T = TypeVar("T")


class SecondApprovalRequired(DomainError):
    """Not an error of the asker's: the action waits for a second person (202 in the API)."""

    code, http_status = "second_approval_required", 202


class ApprovalRefused(DomainError):
    code, http_status = "approval_refused", 409


class SelfApprovalRefused(ApprovalRefused):
    code, http_status = "self_approval_refused", 403


def rule_for(action: str, amount: Money | None) -> ApprovalRule | None:
    """The active rule that puts ``amount`` of ``action`` under four eyes, if any. An amount in
    another currency than the threshold's, or unknown, needs a second person (no FX guess)."""
    rule = ApprovalRule.objects.filter(action=action, is_active=True).first()
    if rule is None:
        return None
    if rule.threshold is None:
        return rule
    if amount is None or (rule.currency and amount.currency != rule.currency.upper()):
        return rule
    return rule if abs(amount.amount) >= rule.threshold else None


class SecondApprovalNeeded(DomainError):
    """Raised inside an action's transaction before it changes anything (so it rolls back
    cleanly); ``asks_second_pair`` outside it records the request (``ask``)."""

    code = "second_approval_needed"

    def __init__(self, ask: dict[str, Any]) -> None:
        super().__init__("a second person's approval is needed")
        self.ask = ask


def require_second_pair(
    *,
    action: str,
    subject_key: str,
    subject_label: str,
    payload: dict[str, Any],
    amount: Money | None,
    user: User,
    approved: ApprovalRequest | None = None,
) -> None:
    """Return when the action may go ahead now (no rule applies, or ``approved`` is the
    approved request for it); else raise SecondApprovalNeeded."""
    if approved is not None and approved.action == action and approved.subject_key == subject_key:
        return  # run by the approved request itself
    if rule_for(action, amount) is None:
        return
    raise SecondApprovalNeeded(
        {
            "action": action,
            "subject_key": subject_key,
            "label": subject_label,
            "payload": payload,
            "amount": amount,
            "user": user,
        }  # fmt: skip
    )


def asks_second_pair(function: Callable[..., T]) -> Callable[..., T]:
    """Wrap an action's service (outside its transaction): a SecondApprovalNeeded becomes a
    recorded request and SecondApprovalRequired naming it."""

    @wraps(function)
    def asking(*args: Any, **kwargs: Any) -> T:
        try:
            return function(*args, **kwargs)
        except SecondApprovalNeeded as needed:
            request = ask(**needed.ask)
            raise SecondApprovalRequired(
                waiting_words(request), approval_request=request.pk
            ) from None

    return asking


def waiting_words(request: ApprovalRequest) -> str:
    return (
        f"{request.get_action_display()} of {request.subject_label} waits for a second person's "
        f"approval (request #{request.pk}): someone other than {request.requested_by} approves "
        "it on the approvals page"
    )


def ask(
    *,
    action: str,
    subject_key: str,
    label: str,
    payload: dict[str, Any],
    amount: Money | None,
    user: User,
    note: str = "",
) -> ApprovalRequest:
    """The pending request for this action on this subject (recorded now, or the one asked
    before: one per subject)."""
    existing = ApprovalRequest.objects.filter(
        action=action, subject_key=subject_key, status=ApprovalRequest.Status.PENDING
    ).first()
    if existing is not None:
        return existing  # asked twice: one request
    try:
        with transaction.atomic():
            request = ApprovalRequest.objects.create(
                action=action, subject_key=subject_key, subject_label=label[:300],
                payload=payload, requested_by=user, request_note=note[:500],
                amount=amount.amount if amount else None, currency=amount.currency if amount else "",
                trace_id=current_or_new_trace_id(),
            )  # fmt: skip
    except IntegrityError:  # asked at the same moment by another request: that one stands
        return ApprovalRequest.objects.get(
            action=action, subject_key=subject_key, status=ApprovalRequest.Status.PENDING
        )
    shown = amount.format() if amount else "an amount not known yet"
    record_trace_step(
        kind="record",
        action="approval_requested",
        summary=f"{request.get_action_display()} of {label} ({shown}) asked by {user.get_username()}",
        subject=request,
    )
    return request


def pending_total() -> dict[str, Decimal]:
    """Pending amounts per currency (the finance dashboard)."""
    totals: dict[str, Decimal] = {}
    for amount, currency in ApprovalRequest.objects.filter(
        status=ApprovalRequest.Status.PENDING, amount__isnull=False
    ).values_list("amount", "currency"):
        totals[currency] = totals.get(currency, Decimal("0")) + abs(amount or Decimal("0"))
    return totals
