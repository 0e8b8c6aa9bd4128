"""Factories of the exception queues: valid minimal items, raised through the service."""

import uuid
from datetime import timedelta
from decimal import Decimal

import factory
from django.db import transaction
from django.utils import timezone

from exceptions_queue.models import ExceptionItem, QueueSubscription
from exceptions_queue.registry import ExceptionType, ResolutionAction, exception_types


class ExceptionItemFactory(factory.django.DjangoModelFactory):
    """An item built directly (for lists and permissions); use ``raise_item`` for behaviour."""

    class Meta:
        model = ExceptionItem

    type_code = "delivery_failed"
    queue = "operations"
    severity = "high"
    subject_key = factory.LazyFunction(lambda: f"outbox:{uuid.uuid4()}")
    subject_ref = factory.Sequence(lambda n: f"erp.time_entry.record → erp · {n:08d}")
    summary = "erp.time_entry.record to erp failed: 422 Unprocessable Entity"
    due_at = factory.LazyFunction(lambda: timezone.now() + timedelta(hours=4))


class QueueSubscriptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = QueueSubscription

    queue = "operations"
    is_active = True


def raise_item(**kwargs) -> ExceptionItem:
    """raise_exception_item in its own transaction, as a workflow would call it."""
    from exceptions_queue.services import raise_exception_item

    kwargs.setdefault("subject_ref", kwargs.get("subject_key", "subject"))
    with transaction.atomic():
        return raise_exception_item(**kwargs)


def record_note(item, *, user, data: dict) -> str:
    return f"noted: {data.get('reason', '')}".strip()


def ensure_test_type(code: str = "test_finance_case", queue: str = "finance") -> ExceptionType:
    """A finance-style type with members, a form action and a role-restricted action."""
    from django import forms

    class ReasonForm(forms.Form):
        reason = forms.CharField()

    if code not in exception_types:
        exception_types.register(
            code,
            ExceptionType(
                code=code,
                queue=queue,
                severity="medium",
                title="Test case",
                help_text="A case made by the tests.",
                sla_hours=24,
                actions=(
                    ResolutionAction(
                        name="write_off",
                        label="Write off",
                        handler=record_note,
                        form_class=ReasonForm,
                    ),
                    ResolutionAction(
                        name="recheck", label="Re-check", handler=record_note, resolves=False
                    ),
                    ResolutionAction(
                        name="admin_only",
                        label="Admin only",
                        handler=record_note,
                        roles=("admin",),
                    ),
                ),
            ),
        )
    return exception_types[code]


AMOUNT = Decimal("150.00")
