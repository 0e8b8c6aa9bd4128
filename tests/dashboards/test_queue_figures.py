"""Exception queue and customer-master figures on hand-built items."""

from datetime import timedelta

import pytest
from django.utils import timezone

from exceptions_queue.panels import get_queue_ages
from mdm.panels import get_customer_master_figures
from tests.factories import billing_invoices as f
from tests.factories.exceptions_queue import ExceptionItemFactory

pytestmark = pytest.mark.django_db


def test_queue_counts_and_ages_of_open_items():
    now = timezone.now()
    finance = {"queue": "finance", "type_code": "rate_missing"}
    ExceptionItemFactory(first_seen_at=now - timedelta(hours=2), **finance)
    ExceptionItemFactory(
        first_seen_at=now - timedelta(days=3), due_at=now - timedelta(hours=1), **finance
    )
    ExceptionItemFactory(
        first_seen_at=now - timedelta(days=40), queue="finance", type_code="not_to_exceed"
    )
    ExceptionItemFactory(status="resolved", resolved_at=now - timedelta(days=2), **finance)
    ExceptionItemFactory(queue="pmo", type_code="closed_phase")

    data = get_queue_ages(queue="finance")

    assert (data["open"], data["overdue"], data["unassigned"]) == (3, 1, 3)
    assert data["oldest_age_hours"] == 960 and data["closed_last_7_days"] == 1
    assert data["ages"] == {"under_1d": 1, "1_7d": 1, "7_30d": 0, "over_30d": 1}
    assert [(t["type"], t["open"], t["overdue"]) for t in data["by_type"]] == [
        ("rate_missing", 2, 1),
        ("not_to_exceed", 1, 0),
    ]


def test_customer_master_figures_count_duplicates_and_ownership_conflicts():
    now = timezone.now()
    ExceptionItemFactory(
        type_code="duplicate_customer", queue="finance", first_seen_at=now - timedelta(days=5)
    )
    ExceptionItemFactory(
        type_code="duplicate_customer", queue="finance", due_at=now - timedelta(hours=1)
    )
    ExceptionItemFactory(type_code="ownership_conflict", queue="operations")
    ExceptionItemFactory(
        type_code="ownership_conflict", queue="operations", status="dismissed", resolved_at=now
    )
    ExceptionItemFactory(type_code="rate_missing", queue="finance")
    f.customer("Globex")

    data = get_customer_master_figures()

    rows = {r["type"]: r for r in data["exceptions"]}
    assert (rows["duplicate_customer"]["open"], rows["duplicate_customer"]["overdue"]) == (2, 1)
    assert rows["duplicate_customer"]["oldest_age_hours"] == 120
    assert (
        rows["ownership_conflict"]["open"],
        rows["ownership_conflict"]["closed_last_30_days"],
    ) == (1, 1)
    assert data["customers"] == {"active": 1, "blocked": 0, "merged": 0}
