"""The REST resources of invoicing (docs/contract.md §2): invoices, billing-runs, time-entries,
rate-cards; filters, money shape, permissions and query counts."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.models import BillingRun, Invoice, RateCard
from billing.services.invoice_run import execute_billing_run
from tests.billing.test_rating import approve
from tests.factories import billing_invoices as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def billed(client, psa_secret):
    f.standard_world()
    f.tax_rate()
    approve(client, psa_secret, time_entry_id="TE-1", hours="7.50")
    approve(client, psa_secret, time_entry_id="TE-H", role="partner")
    call_command("billing_run", "--period", "2026-11")
    return Invoice.objects.get()


def test_invoices_list_with_lines_linking_their_entries(billed, api_client_for):
    body = api_client_for("finance").get("/api/v1/invoices/", {"period": "2026-11"}).json()
    assert body["count"] == 1
    invoice = body["results"][0]
    assert invoice["status"] == "draft" and invoice["period"] == "2026-11"
    assert invoice["net_total"] == {"amount": "1125.00", "currency": "USD"}
    assert invoice["tax_total"] == {"amount": "90.00", "currency": "USD"}
    line = invoice["lines"][0]
    assert line["kind"] == "time" and line["project"] == "PRJ-100"
    assert line["time_entries"][0]["psa_time_entry_id"] == "TE-1"


@pytest.mark.parametrize(
    ("params", "count"),
    [
        ({"status": "draft"}, 1),
        ({"status": "posted"}, 0),
        ({"period": "2026-10"}, 0),
        ({"period": "nonsense"}, 0),
        ({"project": "PRJ-100"}, 1),
        ({"project": "PRJ-999"}, 0),
        ({"erp_invoice_id": "X"}, 0),
    ],
)
def test_invoice_filters(billed, api_client_for, params, count):
    assert api_client_for("finance").get("/api/v1/invoices/", params).json()["count"] == count


def test_customer_filter(billed, api_client_for):
    client = api_client_for("finance")
    assert client.get("/api/v1/invoices/", {"customer": billed.customer_id}).json()["count"] == 1


def test_approve_needs_finance(billed, api_client_for):
    assert api_client_for("pmo").post(f"/api/v1/invoices/{billed.pk}/approve/").status_code == 403
    assert Invoice.objects.get().status == Invoice.Status.DRAFT


def test_time_entries_show_rate_amount_version_and_invoice(billed, api_client_for):
    client = api_client_for("pmo")
    body = client.get("/api/v1/time-entries/", {"psa_time_entry_id": "TE-1"}).json()
    entry = body["results"][0]
    assert entry["status"] == "invoiced"
    assert entry["rate"] == {"amount": "150.0000", "currency": "USD"}
    assert entry["amount"] == {"amount": "1125.00", "currency": "USD"}
    assert entry["rate_card_version"]["card"] == "US-STD"
    assert entry["invoice_line"]["invoice"] == billed.pk
    held = client.get("/api/v1/time-entries/", {"status": "on_hold"}).json()["results"]
    assert [(e["psa_time_entry_id"], e["hold_reason"]) for e in held] == [("TE-H", "rate_missing")]
    dated = client.get("/api/v1/time-entries/", {"work_date_after": "2026-11-03"}).json()
    assert dated["count"] == 0


def test_billing_runs_post_answers_queued_and_the_run_finishes(billed, api_client_for):
    client = api_client_for("finance")
    response = client.post("/api/v1/billing-runs/", {"period": "2026-11"}, format="json")
    assert response.status_code == 202 and response.json()["status"] == "queued"
    run = execute_billing_run(run_id=response.json()["id"])
    assert run.status == BillingRun.Status.FINISHED and run.progress == 100
    listed = client.get("/api/v1/billing-runs/", {"period": "2026-11", "status": "finished"})
    assert listed.json()["count"] == 2  # the command's run and this one
    bad = client.post("/api/v1/billing-runs/", {"period": "2026-13x"}, format="json")
    assert bad.status_code == 400


def test_rate_cards_filters_and_admin_only_writes(db, api_client_for):
    entity = f.legal_entity()
    f.role("consultant")
    f.rate_card(
        entity=entity,
        versions=((date(2026, 1, 1), date(2026, 6, 30), {"consultant": "140.00"}),),
    )
    reader = api_client_for("finance")
    assert reader.get("/api/v1/rate-cards/", {"active_on": "2026-05-01"}).json()["count"] == 1
    assert reader.get("/api/v1/rate-cards/", {"active_on": "2026-07-01"}).json()["count"] == 0
    card = reader.get("/api/v1/rate-cards/", {"code": "US-STD", "legal_entity": "US01"}).json()
    assert card["results"][0]["versions"][0]["rates"] == [
        {"role": "consultant", "hourly": "140.0000"}
    ]
    new_card = {
        "code": "GLOBEX",
        "legal_entity": "US01",
        "currency": "USD",
        "client_account_id": "001A",
        "versions": [
            {"valid_from": "2026-01-01", "rates": [{"role": "consultant", "hourly": "135.00"}]}
        ],
    }
    assert reader.post("/api/v1/rate-cards/", new_card, format="json").status_code == 403
    admin = api_client_for("admin")
    response = admin.post("/api/v1/rate-cards/", new_card, format="json")
    assert response.status_code == 201, response.content
    assert RateCard.objects.get(code="GLOBEX").versions.get().rates.get().hourly == Decimal("135")


def test_lists_have_constant_query_counts(client, psa_secret, api_client_for):
    f.standard_world()
    finance = api_client_for("finance")
    finance.get("/api/v1/invoices/")  # the token's last use is recorded once a minute, here

    def counts():
        call_command("billing_run", "--period", "2026-11")
        result = {}
        for url in ("/api/v1/invoices/", "/api/v1/time-entries/", "/api/v1/billing-runs/"):
            with CaptureQueriesContext(connection) as queries:
                assert finance.get(url).status_code == 200
            result[url] = len(queries)
        return result

    approve(client, psa_secret, time_entry_id="TE-0", hours="1.00")
    one = counts()
    f.billing_rule(grouping="per_entry")
    for number in range(1, 12):
        approve(client, psa_secret, time_entry_id=f"TE-{number}", hours="1.00")
    assert counts() == one
