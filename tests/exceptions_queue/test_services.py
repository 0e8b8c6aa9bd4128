"""Raising, deduplicating, members, SLA and the resolution rules, through the services."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from config.errors import NotAllowed
from exceptions_queue.errors import (
    ActionInputInvalid,
    ExceptionItemClosed,
    ExceptionItemNotFound,
    UnknownAction,
    UnknownExceptionType,
)
from exceptions_queue.models import ExceptionItem
from exceptions_queue.services import (
    apply_bulk_operation,
    assign_exception_item,
    dismiss_exception_item,
    release_member,
    resolve_exception_item,
    resolve_items_automatically,
)
from integrations.models import TraceStep
from integrations.services.traces import use_trace
from tests.conftest import make_user
from tests.factories.exceptions_queue import ensure_test_type, raise_item

pytestmark = pytest.mark.django_db


def test_raising_the_same_problem_twice_makes_one_item_with_count_2():
    first = raise_item(
        type_code="delivery_failed",
        subject_key="outbox:1",
        amount=Decimal("10.00"),
        currency="EUR",
        summary="first",
    )
    second = raise_item(
        type_code="delivery_failed",
        subject_key="outbox:1",
        amount=Decimal("2.50"),
        currency="EUR",
        summary="second",
    )

    assert first.pk == second.pk
    item = ExceptionItem.objects.get()
    assert item.occurrence_count == 2
    assert item.amount_at_risk == Decimal("12.50") and item.currency == "EUR"
    assert item.summary == "second"
    assert item.history.count() >= 2


def test_members_count_once_each_and_carry_their_own_amount_and_hours():
    ensure_test_type()
    common = {"type_code": "test_finance_case", "subject_key": "contract:9:role:dev"}
    raise_item(
        **common, member_key="TE-1", amount=Decimal("100.00"), currency="USD", hours=Decimal("1.00")
    )
    raise_item(
        **common, member_key="TE-2", amount=Decimal("50.00"), currency="USD", hours=Decimal("0.50")
    )
    item = raise_item(
        **common, member_key="TE-1", amount=Decimal("200.00"), currency="USD", hours=Decimal("2.00")
    )

    assert item.occurrence_count == 2
    assert item.amount_at_risk == Decimal("250.00")
    assert item.hours == Decimal("2.50")


def test_member_totals_are_exact_decimals_on_every_database():
    # 1.00 + 0.10 is 1.1000000000000001 as a float (SQLite's SUM of decimals).
    ensure_test_type()
    common = {"type_code": "test_finance_case", "subject_key": "contract:9:role:qa"}
    raise_item(
        **common, member_key="TE-1", amount=Decimal("0.10"), currency="USD", hours=Decimal("1.00")
    )
    item = raise_item(
        **common, member_key="TE-2", amount=Decimal("0.20"), currency="USD", hours=Decimal("0.10")
    )
    item.refresh_from_db()
    assert (item.amount_at_risk, item.hours) == (Decimal("0.30"), Decimal("1.10"))


def test_an_item_left_with_no_members_resolves_itself():
    ensure_test_type()
    common = {"type_code": "test_finance_case", "subject_key": "phase:7"}
    raise_item(**common, member_key="TE-1", hours=Decimal("3.00"))
    raise_item(**common, member_key="TE-2", hours=Decimal("4.00"))

    item = release_member(**common, member_key="TE-1", note="TE-1 retracted")
    assert item.status == "open" and item.occurrence_count == 1 and item.hours == Decimal("4.00")

    item = release_member(**common, member_key="TE-2", note="TE-2 corrected")
    assert item.status == "resolved"
    assert item.resolved_by is None and item.resolution_outcome == "TE-2 corrected"
    assert release_member(**common, member_key="TE-2", note="again") is None


def test_a_resolved_problem_raised_again_opens_a_new_item():
    raise_item(type_code="delivery_failed", subject_key="outbox:2")
    assert (
        resolve_items_automatically(
            type_code="delivery_failed", subject_key="outbox:2", note="delivered"
        )
        == 1
    )
    raise_item(type_code="delivery_failed", subject_key="outbox:2")
    assert list(ExceptionItem.objects.order_by("pk").values_list("status", flat=True)) == [
        "resolved",
        "open",
    ]


def test_due_time_comes_from_the_sla_and_late_items_are_overdue():
    item = raise_item(type_code="delivery_failed", subject_key="outbox:3")
    assert (item.due_at - item.first_seen_at) == timedelta(hours=4)
    assert not item.is_overdue
    ExceptionItem.objects.filter(pk=item.pk).update(due_at=timezone.now() - timedelta(minutes=1))
    item.refresh_from_db()
    assert item.is_overdue


def test_raising_writes_a_trace_step_on_the_callers_trace():
    with use_trace("a" * 32):
        raise_item(type_code="delivery_failed", subject_key="outbox:4")
    step = TraceStep.objects.get(trace_id="a" * 32, kind="exception")
    assert step.action == "raised"


def test_an_unknown_type_is_refused():
    with pytest.raises(UnknownExceptionType):
        raise_item(type_code="no_such_type", subject_key="x")


def test_actions_check_input_roles_and_whether_they_resolve(finance_user):
    ensure_test_type()
    item = raise_item(type_code="test_finance_case", subject_key="contract:1")

    with pytest.raises(ActionInputInvalid):
        resolve_exception_item(item_id=item.pk, action="write_off", user=finance_user, data={})
    with pytest.raises(NotAllowed):
        resolve_exception_item(item_id=item.pk, action="admin_only", user=finance_user)
    with pytest.raises(UnknownAction):
        resolve_exception_item(item_id=item.pk, action="nope", user=finance_user)

    item = resolve_exception_item(item_id=item.pk, action="recheck", user=finance_user)
    assert item.status == "open" and item.resolution_action == "recheck"

    item = resolve_exception_item(
        item_id=item.pk, action="write_off", user=finance_user, data={"reason": "too small"}
    )
    assert item.status == "resolved" and item.resolved_by == finance_user
    assert item.resolution_outcome == "noted: too small"
    with pytest.raises(ExceptionItemClosed):
        resolve_exception_item(item_id=item.pk, action="recheck", user=finance_user)


def test_a_user_cannot_act_outside_their_queues(pmo_user, operations_user):
    item = raise_item(type_code="delivery_failed", subject_key="outbox:5")
    with pytest.raises(ExceptionItemNotFound):
        dismiss_exception_item(item_id=item.pk, user=pmo_user, reason="not mine")
    with pytest.raises(ExceptionItemNotFound):
        resolve_exception_item(item_id=item.pk, action="replay", user=pmo_user)
    with pytest.raises(NotAllowed):  # nor give it to someone outside the queue
        assign_exception_item(item_id=item.pk, assignee=pmo_user, by=operations_user)


def test_dismissing_needs_a_reason_and_records_it(operations_user):
    item = raise_item(type_code="delivery_failed", subject_key="outbox:6")
    with pytest.raises(ActionInputInvalid):
        dismiss_exception_item(item_id=item.pk, user=operations_user, reason=" ")
    item = dismiss_exception_item(item_id=item.pk, user=operations_user, reason="test message")
    assert item.status == "dismissed" and item.resolution_outcome == "test message"
    assert item.comments.filter(kind="action").exists()


def test_bulk_claim_applies_to_each_item_and_reports_refusals(operations_user):
    ensure_test_type()
    mine = [raise_item(type_code="delivery_failed", subject_key=f"outbox:b{n}") for n in range(3)]
    finance_item = raise_item(type_code="test_finance_case", subject_key="contract:b")
    done, errors = apply_bulk_operation(
        user=operations_user, item_ids=[i.pk for i in mine] + [finance_item.pk], operation="claim"
    )
    assert done == 3 and len(errors) == 1
    assert set(
        ExceptionItem.objects.filter(assignee=operations_user).values_list("pk", flat=True)
    ) == {i.pk for i in mine}
    assert ExceptionItem.objects.get(pk=mine[0].pk).status == "assigned"


@pytest.mark.django_db(transaction=True)
def test_concurrent_raises_of_one_problem_make_one_item():
    """Two workers raise the same problem at the same moment: the partial unique index and the
    IntegrityError retry leave one item counted twice."""
    if connection.vendor == "sqlite":
        pytest.skip("SQLite serialises writers (IMMEDIATE transactions): no race to test")
    make_user("someone")  # the database is ready for threads
    barrier, errors = threading.Barrier(4), []

    def worker():
        try:
            barrier.wait()
            raise_item(type_code="delivery_failed", subject_key="outbox:race")
        except Exception as exc:  # noqa: BLE001 collected and asserted below
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    item = ExceptionItem.objects.get(subject_key="outbox:race")
    assert item.occurrence_count == 4
    with transaction.atomic():
        assert ExceptionItem.objects.filter(subject_key="outbox:race").count() == 1
