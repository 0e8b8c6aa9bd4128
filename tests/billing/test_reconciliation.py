"""The reconciliation control (issue 19, docs/finance-controls/reconciliation.md), on the
sandbox peers with the real flows: time approved over signed HTTP, the billing run command, the
approval API, the sandbox ERP and CRM; then discrepancies injected by hand in what the peers
hold. Every figure is computed by hand:

  TE-1 2.00 h + TE-2 1.50 h = 3.50 h × 150.00 = 525.00 USD net; tax 8 % = 42.00; gross 567.00.
"""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from billing.models import Invoice
from billing.selectors.reconciliation import list_latest_results
from billing.services.reconciliation import execute_reconciliation
from exceptions_queue.models import ControlRun, ExceptionItem
from exceptions_queue.services import dismiss_exception_item
from integrations.models import OutboxMessage, SandboxRecord
from tests.billing.test_rating import approve
from tests.conftest import make_user
from tests.factories import billing_invoices as f
from tests.helpers import drain

pytestmark = pytest.mark.django_db
D = Decimal
NOV = "2026-11"
MISMATCH = "reconciliation_mismatch"


@pytest.fixture
def posted(client, psa_secret, systems, api_client_for) -> Invoice:
    """November billed, approved and posted to the sandbox ERP; the CRM told each status."""
    f.standard_world()
    f.tax_rate("US-NY", "0.0800")
    approve(client, psa_secret, time_entry_id="TE-1", hours="2.00")
    approve(client, psa_secret, time_entry_id="TE-2", hours="1.50")
    call_command("billing_run", "--period", NOV)
    invoice = Invoice.objects.get()
    approved = api_client_for("finance").post(f"/api/v1/invoices/{invoice.pk}/approve/")
    assert approved.status_code == 200, approved.content
    drain()
    invoice.refresh_from_db()
    assert (invoice.status, invoice.gross_total) == (Invoice.Status.POSTED, D("567.00"))
    return invoice


def reconcile(*extra: str) -> str:
    out = StringIO()
    call_command("reconcile", "--period", NOV, *extra, stdout=out)
    return out.getvalue()


def items(**filters):
    return ExceptionItem.objects.filter(type_code=MISMATCH, **filters)


def row() -> dict:
    return list_latest_results(period=NOV, legal_entity="US01").get().figures


def erp_record() -> SandboxRecord:
    return SandboxRecord.objects.get(system__slug="erp", operation="erp.invoice.create")


def crm_latest(invoice: Invoice) -> SandboxRecord:
    return (
        SandboxRecord.objects.filter(
            system__slug="crm",
            operation="crm.invoice_status.update",
            data__invoice_id=str(invoice.pk),
        )
        .order_by("created_at", "id")
        .last()
    )


def usd(amount: str) -> list[dict]:
    return [{"amount": amount, "currency": "USD"}]


def test_a_clean_month_raises_nothing_and_shows_the_four_sides_agreeing(posted):
    output = reconcile()
    assert not items().exists()
    figures = row()
    assert figures["time"] == {
        "approved_hours": "3.50",
        "held_hours": "0.00",
        "rated": usd("525.00"),
        "unbilled": [],
        "unbilled_entries": 0,
        "billed": True,
        "closed": False,
    }
    assert figures["invoiced"] == {"net": usd("525.00"), "invoices": 1}
    erp = figures["erp"]
    assert (erp["posted"], erp["checked"], erp["missing"], erp["differing"]) == (1, 1, 0, 0)
    assert erp["ours"] == erp["theirs"] == usd("567.00")
    crm = figures["crm"]
    assert (crm["system"], crm["checked"], crm["stale"], crm["in_flight"]) == ("crm", 1, 0, 0)
    assert "2026-11 US01: 0 mismatch(es)" in output
    run = ControlRun.objects.get()
    assert run.status == ControlRun.Status.FINISHED
    assert (run.counts["rows"], run.counts["mismatches"], run.counts["raised"]) == (1, 0, 0)


def test_an_erp_total_changed_by_hand_is_one_item_with_both_totals_until_it_is_fixed(posted):
    record = erp_record()
    record.data = {**record.data, "tax_total": "52.00", "gross_total": "577.00"}
    record.save()

    reconcile()
    reconcile()  # a second run refreshes the same item
    item = items().get()
    assert item.subject_key == f"2026-11:US01:erp_total:invoice:{posted.pk}"
    assert item.subject == posted and item.queue == "finance"
    assert (item.amount_at_risk, item.currency, item.occurrence_count) == (D("10.00"), "USD", 1)
    assert (
        item.details["ours"] == "Throughline says net 525.00 USD, tax 42.00 USD, gross 567.00 USD"
    )
    assert item.details["theirs"] == "erp says net 525.00 USD, tax 52.00 USD, gross 577.00 USD"
    assert item.details["differences"] == [
        {"field": "tax", "ours": "42.00 USD", "theirs": "52.00 USD"},
        {"field": "gross", "ours": "567.00 USD", "theirs": "577.00 USD"},
    ]
    assert [a["name"] for a in _actions(item)] == ["recheck"]
    figures = row()
    assert figures["erp"]["theirs"] == usd("577.00") and figures["erp"]["differing"] == 1
    [mismatch] = figures["mismatches"]
    assert (mismatch["check"], mismatch["item_id"]) == ("erp_total", item.pk)

    record.data = {**record.data, "tax_total": "42.00", "gross_total": "567.00"}
    record.save()
    reconcile()
    item.refresh_from_db()
    assert (item.status, item.resolution_action) == ("resolved", "auto")
    assert not items(status="open").exists() and row()["mismatches"] == []


def _actions(item: ExceptionItem) -> list[dict]:
    from exceptions_queue.registry import exception_types

    return [{"name": a.name} for a in exception_types[item.type_code].actions]


def test_an_invoice_missing_in_the_erp_is_one_item_resolved_when_it_is_back(posted):
    record = erp_record()
    kept = {f.name: getattr(record, f.name) for f in record._meta.concrete_fields if f.name != "id"}
    record.delete()

    reconcile()
    reconcile()
    item = items().get()
    assert item.subject_key == f"2026-11:US01:erp_missing:invoice:{posted.pk}"
    assert (item.amount_at_risk, item.currency) == (D("567.00"), "USD")
    assert item.details["theirs"] == f"erp has no invoice {posted.erp_invoice_id}"
    assert row()["erp"]["missing"] == 1 and row()["erp"]["theirs"] == []

    SandboxRecord.objects.create(**kept)
    reconcile()
    assert items().get().status == "resolved"


def test_a_stale_crm_status_is_one_item_without_an_amount_until_the_crm_catches_up(posted):
    latest = crm_latest(posted)
    assert latest.data["status"] == "posted"
    latest.data = {**latest.data, "status": "posting"}  # the CRM never heard "posted"
    latest.save()

    reconcile()
    reconcile()
    item = items().get()
    assert item.subject_key == f"2026-11:US01:crm_status:invoice:{posted.pk}"
    assert (item.details["ours"], item.details["theirs"]) == (
        "Throughline says posted",
        "crm says posting",
    )
    assert item.amount_at_risk is None and item.occurrence_count == 1
    assert row()["crm"]["stale"] == 1

    latest.data = {**latest.data, "status": "posted"}
    latest.save()
    reconcile()
    assert items().get().status == "resolved"


def test_a_status_still_on_its_way_to_the_crm_is_not_a_mismatch(posted):
    crm_latest(posted).delete()  # the CRM has not got "posted" yet …
    OutboxMessage.objects.filter(kind="crm.invoice_status.update", payload__status="posted").update(
        status=OutboxMessage.Status.PENDING
    )  # … because it is still in the outbox
    reconcile()
    assert not items().exists()
    assert (row()["crm"]["checked"], row()["crm"]["in_flight"]) == (0, 1)


def test_time_rated_after_the_month_was_billed_is_unbilled_until_the_next_run(
    posted, client, psa_secret
):
    approve(client, psa_secret, time_entry_id="TE-3", hours="1.00")  # late: 150.00
    reconcile()
    item = items().get()
    assert item.subject_key == "2026-11:US01:unbilled_time"
    assert (item.amount_at_risk, item.currency) == (D("150.00"), "USD")
    assert item.details["ours"] == "Throughline rated 675.00 USD of time for 2026-11"
    assert item.details["theirs"] == (
        "the month's invoices bill 525.00 USD of it; 150.00 USD is on no invoice"
    )
    assert row()["time"]["unbilled"] == usd("150.00")

    call_command("billing_run", "--period", NOV)  # the supplementary draft bills it
    reconcile()
    item.refresh_from_db()
    assert item.status == "resolved"
    assert row()["invoiced"] == {"net": usd("675.00"), "invoices": 2}


def test_a_dismissed_difference_stays_dismissed_until_a_side_changes(posted):
    record = erp_record()
    record.data = {**record.data, "gross_total": "567.01", "tax_total": "42.01"}
    record.save()
    reconcile()
    item = items().get()
    dismiss_exception_item(item_id=item.pk, user=make_user("fin", "finance"), reason="a cent")
    reconcile()
    assert items(status="open").count() == 0
    assert row()["mismatches"][0]["dismissed"] is True

    record.data = {**record.data, "gross_total": "570.00", "tax_total": "45.00"}
    record.save()
    reconcile()
    reopened = items(status="open").get()
    assert reopened.pk != item.pk and reopened.amount_at_risk == D("3.00")


def test_an_erp_that_cannot_be_read_is_reported_and_resolves_nothing(posted):
    from integrations.services.systems import set_sandbox_faults

    record = erp_record()
    record.data = {**record.data, "gross_total": "600.00"}
    record.save()
    reconcile()
    assert items(status="open").count() == 1
    set_sandbox_faults(system=record.system, permanent_operations=["erp.invoice.read"])
    record.data = {**record.data, "gross_total": "567.00"}
    record.save()
    reconcile()
    assert items(status="open").count() == 1  # not checked: proves nothing
    erp = row()["erp"]
    assert erp["checked"] == 0 and "erp could not be read (invoices): 422" in erp["errors"][0]
    assert ControlRun.objects.first().counts["not_checked"] == 1


def test_the_api_lists_rows_and_run_queues_a_run(posted, api_client_for):
    finance = api_client_for("finance", username="finance-api")
    response = finance.post("/api/v1/reconciliation/run/", {"period": NOV}, format="json")
    assert response.status_code == 202 and response.json()["status"] == "queued"
    assert response.json()["parameters"] == {"periods": [NOV], "legal_entity": None}
    run = execute_reconciliation(run_id=response.json()["id"])
    assert finance.get(f"/api/v1/reconciliation/runs/{run.pk}/").json()["status"] == "finished"
    listed = finance.get("/api/v1/reconciliation/", {"period": NOV, "legal_entity": "US01"})
    [first] = listed.json()["results"]
    assert (first["period"], first["legal_entity"], first["mismatch_count"]) == (NOV, "US01", 0)
    assert first["erp"]["ours"] == usd("567.00") and first["time"]["approved_hours"] == "3.50"
    assert finance.get("/api/v1/reconciliation/", {"period": "2026-13"}).status_code == 400
    bad = finance.post("/api/v1/reconciliation/run/", {"period": NOV, "legal_entity": "XX"})
    assert bad.status_code == 400 and bad.json()["code"] == "reconciliation_refused"


def test_re_check_now_from_the_item_queues_a_run_of_its_month_and_entity(posted, api_client_for):
    record = erp_record()
    record.delete()
    reconcile()
    item = items().get()
    finance = api_client_for("finance", username="finance-api")
    answer = finance.post(
        f"/api/v1/exceptions/{item.pk}/resolve/", {"action": "recheck"}, format="json"
    )
    assert answer.status_code == 200, answer.content
    run = ControlRun.objects.order_by("-pk").first()
    assert run.parameters == {"periods": [NOV], "legal_entity": "US01"}
    assert run.status == ControlRun.Status.QUEUED
    assert items().get().status == "open"  # the run decides, not the click


def test_the_page_shows_each_side_and_links_each_mismatch_to_its_item(posted, finance_client):
    erp_record().delete()
    reconcile()
    item = items().get()
    page = finance_client.get("/reconciliation/", {"period": NOV}).content.decode()
    assert "3.50 h approved" in page and "525.00 USD rated" in page
    assert "1 of 1 posted read back from erp" in page and "1 of 1 agree" in page
    assert f'href="/exceptions/items/{item.pk}/"' in page and "Invoice missing in the ERP" in page
    assert f"erp has no invoice {posted.erp_invoice_id}" in page
    csv = finance_client.get("/reconciliation/", {"period": NOV, "format": "csv"})
    assert csv.status_code == 200 and b"Missing in the ERP" in b"".join(csv.streaming_content)
    queued = finance_client.post("/reconciliation/", {"period": NOV, "legal_entity": "US01"})
    run = ControlRun.objects.order_by("-pk").first()
    assert queued.status_code == 302 and queued["Location"].endswith(f"?run={run.pk}")
    status = finance_client.get(f"/reconciliation/runs/{run.pk}/").content.decode()
    assert "Queued" in status and 'hx-trigger="every 2s"' in status


def test_the_finance_dashboard_counts_open_mismatches_and_links_the_page(posted, finance_client):
    erp_record().delete()
    reconcile()
    page = finance_client.get("/dashboards/finance/").content.decode()
    assert 'data-panel="billing:reconciliation"' in page
    assert 'data-testid="reconciliation-open">1<' in page and 'href="/reconciliation/"' in page
    assert "Invoice missing in the ERP: <strong>1</strong>" in page


def test_late_time_of_a_closed_month_is_shown_not_raised(posted, client, psa_secret):
    from billing.models import AccountingPeriod

    AccountingPeriod.objects.create(
        legal_entity=posted.legal_entity, period=posted.period, status="closed"
    )
    approve(client, psa_secret, time_entry_id="TE-3", hours="1.00")  # late time: awaits a move
    reconcile()
    assert not items().exists()
    time = row()["time"]
    assert (time["closed"], time["unbilled"]) == (True, usd("150.00"))
