"""History of the billing run's set-based changes (config/history_rows.py): the entries it
invoices, the lines it makes and sums and the invoices it totals each get a history row with a
reason, written per batch; approval, posting and a void in the ERP add theirs."""

from datetime import date
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from billing.models import Contract, Invoice, InvoiceLine, TimeEntry
from billing.services.invoice_posting import approve_invoice
from billing.services.invoice_run import create_billing_run, execute_billing_run
from tests.billing.test_rating import approve
from tests.conftest import make_user
from tests.factories import billing_invoices as f
from tests.helpers import drain, envelope, post_event

pytestmark = pytest.mark.django_db
D = Decimal


def _run(user=None):
    run = create_billing_run(
        period=date(2026, 11, 1),
        legal_entity_code=None,
        customer_id=None,
        requested_by=user,
    )
    execute_billing_run(run_id=run.pk)
    return run


def _latest(obj):
    return obj.history.order_by("-history_id").first()


@pytest.fixture
def billed(client, psa_secret):
    """Two T&M entries and one retainer entry approved over HTTP, then a run by finance."""
    f.standard_world()
    f.tax_rate("US-NY", "0.0800")
    f.project(
        "PRJ-RET",
        billing_model=Contract.BillingModel.RETAINER,
        client=f.customer("Initech"),
        crm_account_id="001B",
        retainer=("10000.00", "50"),
    )
    approve(client, psa_secret, time_entry_id="TE-1", hours="7.50")
    approve(client, psa_secret, time_entry_id="TE-2", hours="2.00", work_date="2026-11-03")
    approve(client, psa_secret, time_entry_id="TE-R", hours="3.00", project_id="PRJ-RET")
    finance = make_user("fiona", "finance")
    return finance, _run(finance)


def test_the_run_gives_each_entry_line_and_invoice_a_history_row_with_its_reason(billed):
    finance, run = billed
    reason = f"billing run 2026-11 #{run.pk}"
    for entry in TimeEntry.objects.all():
        row = _latest(entry)
        assert entry.status == TimeEntry.Status.INVOICED
        assert (row.status, row.history_type, row.history_user_id) == ("invoiced", "~", finance.pk)
        assert row.history_change_reason.startswith(f"{reason}: invoiced")
        assert entry.history.filter(status="rated").exists()  # the rating before it
    time_line = InvoiceLine.objects.get(kind=InvoiceLine.Kind.TIME)
    versions = list(time_line.history.order_by("history_id"))
    # Made by the run's INSERT … SELECT (no save()): recorded as created once summed.
    assert [(v.history_type, v.hours, v.amount) for v in versions] == [
        ("+", D("9.50"), D("1425.00"))  # 9.5 h x 150.00
    ]
    assert versions[0].history_change_reason == f"{reason}: totals"
    invoice = Invoice.objects.get(customer__name="Globex")
    totals = invoice.history.filter(history_change_reason=f"{reason}: totals").get()
    assert (totals.net_total, totals.tax_total, totals.gross_total) == (
        D("1425.00"),
        D("114.00"),
        D("1539.00"),
    )
    assert invoice.history.order_by("history_id").first().history_change_reason == "draft opened"


def test_a_second_run_writes_no_history_for_what_did_not_change(billed):
    finance, _run_one = billed
    before = {model: model.history.count() for model in (TimeEntry, InvoiceLine, Invoice)}
    _run(finance)
    assert {model: model.history.count() for model in before} == before


def test_approval_posting_and_a_void_from_the_erp_are_in_the_history(billed, systems, client):
    finance, _run_one = billed
    invoice = Invoice.objects.get(customer__name="Globex")
    approve_invoice(invoice_id=invoice.pk, approved_by=finance)
    drain()  # the sandbox ERP creates it: posted
    invoice.refresh_from_db()
    rows = list(
        invoice.history.order_by("history_id").values_list("status", "history_change_reason")
    )
    assert rows[-3:] == [
        ("approved", "approved: by fiona"),
        ("posting", "posting: queued to the ERP"),
        ("posted", f"posted: ERP invoice {invoice.erp_invoice_id}"),
    ]
    assert invoice.history.get(status="approved").history_user_id == finance.pk
    void = {
        "invoice_id": invoice.erp_invoice_id,
        "status": "void",
        "total": "1539.00",
        "amount_due": "0.00",
        "currency": "USD",
        "changed_at": "2026-12-03T10:00:00+00:00",
    }
    body = envelope("erp.invoice.status_changed", void)
    assert post_event(client, "erp", systems["erp"][1], body).status_code == 202
    drain()
    for entry in TimeEntry.objects.filter(psa_time_entry_id__in=["TE-1", "TE-2"]):
        row = _latest(entry)
        assert (entry.status, row.status) == ("rated", "rated")
        assert row.history_change_reason == f"invoice {invoice.pk} void in the ERP: billable again"


def test_an_admin_reads_and_searches_the_history_pages(billed, client):
    _finance, run = billed
    root = get_user_model().objects.create_superuser("root", "root@acme.example", "pw")
    client.force_login(root)
    invoice = Invoice.objects.get(customer__name="Globex")
    entry = TimeEntry.objects.get(psa_time_entry_id="TE-1")
    for obj in (invoice, entry):
        opts = obj._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_history", args=[obj.pk])
        page = client.get(url)
        assert page.status_code == 200
        assert f"billing run 2026-11 #{run.pk}" in page.content.decode()
    found = client.get(reverse("admin:billing_timeentry_changelist"), {"q": "TE-1"})
    assert found.status_code == 200 and "TE-1" in found.content.decode()
