"""Drafts, lines, tax, corrections and posting (docs/contract.md §5), each amount hand-computed.

Time arrives over signed HTTP, the billing run is the management command of docs/contract.md §2,
approval is the API, the ERP answers through the sandbox and its status webhook.
"""

from datetime import date
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from billing.models import Invoice, InvoiceLine, InvoiceLineEntry, TimeEntry
from billing.services.invoices import month_start
from exceptions_queue.models import ExceptionItem
from integrations.models import OutboxMessage, SandboxRecord
from tests.billing.test_rating import approve, retract
from tests.factories import billing_invoices as f
from tests.helpers import drain, envelope, post_event

pytestmark = pytest.mark.django_db
D = Decimal
NOV = "2026-11"


def run_billing(period=NOV, *extra):
    call_command("billing_run", "--period", period, *extra)


def assert_billed_once():
    """§5: every billable entry is on exactly one active line of one non-void invoice, and
    only invoiced entries have an active line."""
    invoiced = set(
        TimeEntry.objects.filter(status=TimeEntry.Status.INVOICED).values_list("pk", flat=True)
    )
    active = list(
        InvoiceLineEntry.objects.filter(is_active=True)
        .exclude(line__invoice__status=Invoice.Status.VOID)
        .values_list("time_entry_id", flat=True)
    )
    assert len(active) == len(set(active)), "an entry is on two active lines"
    assert set(active) == invoiced
    for line in InvoiceLine.objects.filter(kind=InvoiceLine.Kind.TIME):
        # a posted line keeps its amount when a credit reverses one of its entries
        assert line.amount == sum((link.amount for link in line.entries.all()), D("0"))


def lines_of(invoice):
    return sorted((line.kind, line.role, line.hours, line.amount) for line in invoice.lines.all())


def test_a_run_builds_one_draft_per_group_with_lines_per_role_and_tax(client, psa_secret):
    f.standard_world()
    f.rate_card(
        "GLOBEX",
        entity=f.legal_entity(),
        client_account_id="001A",
        versions=((date(2026, 1, 1), None, {"analyst": "90.00"}),),
    )
    f.tax_rate("US-NY", "0.0800")
    approve(client, psa_secret, time_entry_id="TE-1", hours="7.50", work_date="2026-11-02")
    approve(client, psa_secret, time_entry_id="TE-2", hours="7.50", work_date="2026-11-03")
    approve(client, psa_secret, time_entry_id="TE-3", hours="2.25", role="analyst")
    approve(client, psa_secret, time_entry_id="TE-DEC", hours="1.00", work_date="2026-12-01")
    run_billing()
    invoice = Invoice.objects.get()
    assert (invoice.period, invoice.invoice_date, invoice.sequence) == (
        date(2026, 11, 1),
        date(2026, 11, 30),
        1,
    )
    assert lines_of(invoice) == [
        ("time", "analyst", D("2.25"), D("202.50")),  # 2.25 x 90.00
        ("time", "consultant", D("15.00"), D("2250.00")),  # 2 x 7.5 x 150.00
    ]
    assert (invoice.net_total, invoice.tax_rate, invoice.tax_total, invoice.gross_total) == (
        D("2452.50"),
        D("0.0800"),
        D("196.20"),
        D("2648.70"),
    )
    assert TimeEntry.objects.get(psa_time_entry_id="TE-DEC").status == "rated"  # December
    assert_billed_once()


def test_running_twice_changes_nothing_and_new_time_joins_its_line(client, psa_secret):
    f.standard_world()
    approve(client, psa_secret, time_entry_id="TE-1", hours="1.00")
    run_billing()
    run_billing()
    assert InvoiceLine.objects.count() == 1 and InvoiceLineEntry.objects.count() == 1
    approve(client, psa_secret, time_entry_id="TE-2", hours="2.00")
    run_billing()
    line = InvoiceLine.objects.get()
    assert (line.hours, line.amount) == (D("3.00"), D("450.00"))
    assert Invoice.objects.get().net_total == D("450.00")  # no tax rate known: no estimate
    assert_billed_once()


@pytest.mark.parametrize(
    ("grouping", "expected"),
    [
        ("per_entry", [D("150.00"), D("300.00"), D("450.00")]),
        ("per_person", [D("450.00"), D("450.00")]),  # ana 1h + 2h, bo 3h
        ("per_role", [D("900.00")]),
    ],
)
def test_lines_are_grouped_per_the_clients_rule(client, psa_secret, grouping, expected):
    f.standard_world()
    f.billing_rule(grouping=grouping)
    approve(client, psa_secret, time_entry_id="TE-1", hours="1.00")
    approve(client, psa_secret, time_entry_id="TE-2", hours="2.00")
    approve(client, psa_secret, time_entry_id="TE-3", hours="3.00", person_email="bo@acme.example")
    run_billing()
    assert sorted(InvoiceLine.objects.values_list("amount", flat=True)) == expected
    assert_billed_once()


def test_a_rate_change_mid_month_gives_one_line_per_rate(client, psa_secret):
    entity = f.legal_entity()
    f.rate_card(
        entity=entity,
        versions=(
            (date(2026, 1, 1), date(2026, 11, 15), {"consultant": "150.00"}),
            (date(2026, 11, 16), None, {"consultant": "175.00"}),
        ),
    )
    f.project(entity=entity)
    approve(client, psa_secret, time_entry_id="TE-A", hours="2.00", work_date="2026-11-15")
    approve(client, psa_secret, time_entry_id="TE-B", hours="2.00", work_date="2026-11-16")
    run_billing()
    assert sorted(InvoiceLine.objects.values_list("rate", "amount")) == [
        (D("150.0000"), D("300.00")),
        (D("175.0000"), D("350.00")),
    ]


def test_entities_in_other_currencies_get_their_own_invoices(client, psa_secret):
    us, gb = f.legal_entity(), f.legal_entity("GB01", "GBP", ("GB",))
    f.rate_card(entity=us)
    f.rate_card(
        "GB-STD",
        entity=gb,
        currency="GBP",
        versions=((date(2026, 1, 1), None, {"consultant": "120.00"}),),
    )
    f.tax_rate("US-NY", "0.0800")
    f.tax_rate("GB", "0.2000")
    f.project("PRJ-US", entity=us)
    f.project("PRJ-GB", entity=gb, currency="GBP", tax_jurisdiction="GB")
    approve(client, psa_secret, time_entry_id="TE-US", project_id="PRJ-US", hours="1.00")
    approve(client, psa_secret, time_entry_id="TE-GB", project_id="PRJ-GB", hours="1.00")
    run_billing()
    totals = {i.currency: (i.net_total, i.tax_total, i.gross_total) for i in Invoice.objects.all()}
    assert totals == {
        "USD": (D("150.00"), D("12.00"), D("162.00")),
        "GBP": (D("120.00"), D("24.00"), D("144.00")),
    }
    run_billing(NOV, "--legal-entity", "GB01")  # a run for one entity leaves the other alone
    assert Invoice.objects.count() == 2


def test_fixed_fee_bills_milestones_completed_in_the_month_not_time(client, psa_secret):
    entity = f.legal_entity()
    f.rate_card(entity=entity)
    f.project(
        entity=entity,
        billing_model="fixed_fee",
        milestones=(("Design", "10000.00", date(2026, 11, 20)), ("Build", "5000.00", None)),
    )
    approve(client, psa_secret, time_entry_id="TE-FF", hours="8.00")
    run_billing()
    invoice = Invoice.objects.get()
    assert lines_of(invoice) == [("milestone", "", None, D("10000.00"))]
    assert TimeEntry.objects.get().status == TimeEntry.Status.NON_BILLABLE
    run_billing()
    assert InvoiceLine.objects.count() == 1  # billed once


def test_retainer_is_prorated_and_overage_taken_in_date_order(client, psa_secret):
    entity = f.legal_entity()
    f.rate_card(entity=entity)
    f.project(
        entity=entity,
        billing_model="retainer",
        retainer=("3000.00", "20.00"),
        start=date(2026, 11, 16),
        end=date(2027, 6, 30),
    )
    # November: 15 of 30 days -> 1500.00 and 10.00 h included
    approve(client, psa_secret, time_entry_id="TE-3", hours="2.00", work_date="2026-11-20")
    approve(client, psa_secret, time_entry_id="TE-1", hours="6.00", work_date="2026-11-16")
    approve(client, psa_secret, time_entry_id="TE-2", hours="5.00", work_date="2026-11-17")
    approve(
        client,
        psa_secret,
        time_entry_id="TE-NB",
        hours="4.00",
        work_date="2026-11-18",
        billable=False,
    )
    run_billing()
    invoice = Invoice.objects.get()
    retainer = invoice.lines.get(kind="retainer")
    overage = invoice.lines.get(kind="overage")
    assert (retainer.amount, retainer.hours) == (D("1500.00"), D("13.00"))
    # 6 within (4 left), 5: 4 within, 1 over; 2 over -> 3 h x 150.00
    assert (overage.hours, overage.amount) == (D("3.00"), D("450.00"))
    assert invoice.net_total == D("1950.00")
    assert_billed_once()
    run_billing("2026-12")  # a full month, no time: the monthly amount
    december = Invoice.objects.get(period=date(2026, 12, 1))
    assert lines_of(december) == [("retainer", "", D("0.00"), D("3000.00"))]


def test_approval_posts_once_and_later_time_goes_on_a_supplementary_draft(
    client, psa_secret, systems, api_client_for
):
    f.standard_world()
    approve(client, psa_secret, time_entry_id="TE-1", hours="1.00")
    run_billing()
    invoice = Invoice.objects.get()
    finance = api_client_for("finance")
    response = finance.post(f"/api/v1/invoices/{invoice.pk}/approve/")
    assert response.status_code == 200 and response.json()["status"] == "posting"
    assert finance.post(f"/api/v1/invoices/{invoice.pk}/approve/").status_code == 200  # again
    drain()
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.POSTED and invoice.erp_invoice_id
    erp = SandboxRecord.objects.filter(system__slug="erp", operation="erp.invoice.create")
    assert erp.count() == 1 and erp.get().data["gross_total"] == "150.00"
    crm = SandboxRecord.objects.filter(system__slug="crm", operation="crm.invoice_status.update")
    assert sorted(r.data["status"] for r in crm) == ["approved", "posted", "posting"]

    approve(client, psa_secret, time_entry_id="TE-2", hours="2.00")
    run_billing()
    supplementary = Invoice.objects.get(status=Invoice.Status.DRAFT)
    assert (supplementary.sequence, supplementary.net_total) == (2, D("300.00"))
    assert Invoice.objects.get(pk=invoice.pk).net_total == D("150.00")  # untouched
    assert_billed_once()


def test_retraction_before_approval_takes_the_entry_off_its_draft(client, psa_secret):
    f.standard_world()
    approve(client, psa_secret, time_entry_id="TE-1", hours="1.00")
    approve(client, psa_secret, time_entry_id="TE-2", hours="2.00")
    run_billing()
    retract(client, psa_secret, "TE-2")
    assert Invoice.objects.get().net_total == D("150.00")
    retract(client, psa_secret, "TE-1")
    assert not Invoice.objects.exists()  # a draft left empty is removed
    assert_billed_once()


def _posted_invoice(client, psa_secret, api_client_for):
    approve(client, psa_secret, time_entry_id="TE-1", hours="1.00")
    run_billing()
    invoice = Invoice.objects.get()
    api_client_for("finance").post(f"/api/v1/invoices/{invoice.pk}/approve/")
    drain()
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.POSTED
    return invoice


def test_retraction_after_posting_is_a_credit_line_on_this_months_draft(
    client, psa_secret, systems, api_client_for
):
    f.standard_world()
    posted = _posted_invoice(client, psa_secret, api_client_for)
    retract(client, psa_secret, "TE-1")
    draft = Invoice.objects.get(status=Invoice.Status.DRAFT)
    assert draft.period == month_start(timezone.localdate())
    credit = draft.lines.get()
    assert (credit.kind, credit.amount, credit.hours) == ("credit", D("-150.00"), D("-1.00"))
    assert credit.reverses.invoice_id == posted.pk
    assert Invoice.objects.get(pk=posted.pk).net_total == D("150.00")  # posted is immutable
    assert_billed_once()


def test_a_correction_after_posting_credits_the_old_amount_and_bills_again(
    client, psa_secret, systems, api_client_for
):
    f.standard_world()
    _posted_invoice(client, psa_secret, api_client_for)
    approve(
        client,
        psa_secret,
        time_entry_id="TE-1",
        hours="3.00",
        approved_at="2026-11-06T09:00:00+00:00",
    )
    run_billing()
    # The credit goes on the draft of the month the correction is processed in, the corrected
    # entry on November's supplementary draft: one draft in November, two in a later month.
    drafts = Invoice.objects.filter(status=Invoice.Status.DRAFT)
    credit = InvoiceLine.objects.get(invoice__in=drafts, kind="credit")
    rebilled = InvoiceLine.objects.get(invoice__in=drafts, kind="time")
    assert (credit.role, credit.hours, credit.amount) == ("consultant", D("-1.00"), D("-150.00"))
    assert (rebilled.role, rebilled.hours, rebilled.amount) == (
        "consultant",
        D("3.00"),
        D("450.00"),
    )
    assert credit.invoice.period == month_start(timezone.localdate())
    assert rebilled.invoice.period == date(2026, 11, 1) and rebilled.invoice.sequence == 2
    assert sum((d.net_total for d in drafts), D("0")) == D("300.00")
    assert_billed_once()


def _erp_status(client, systems, invoice, status, total, changed_at="2026-12-02T10:00:00+00:00"):
    body = envelope(
        "erp.invoice.status_changed",
        {
            "invoice_id": invoice.erp_invoice_id,
            "number": "INV-1001",
            "status": status,
            "total": total,
            "amount_due": "0.00" if status in ("paid", "void") else total,
            "currency": invoice.currency,
            "changed_at": changed_at,
        },
    )
    assert post_event(client, "erp", systems["erp"][1], body).status_code == 202
    drain()
    invoice.refresh_from_db()


def test_erp_status_changes_reach_the_crm_and_a_different_total_is_flagged(
    client, psa_secret, systems, api_client_for
):
    f.standard_world()
    invoice = _posted_invoice(client, psa_secret, api_client_for)
    _erp_status(client, systems, invoice, "sent", "150.00")
    assert (invoice.status, invoice.number) == ("sent", "INV-1001")
    assert not ExceptionItem.objects.filter(type_code="rate_mismatch").exists()
    _erp_status(client, systems, invoice, "paid", "151.00")
    item = ExceptionItem.objects.get(type_code="rate_mismatch")
    assert item.subject_key == f"invoice:{invoice.pk}" and item.amount_at_risk == D("1.00")
    # The ERP says so again, with its total corrected a little: the item holds the current
    # difference, not the sum of every report.
    _erp_status(client, systems, invoice, "paid", "151.50", changed_at="2026-12-02T11:00:00+00:00")
    item.refresh_from_db()
    assert item.amount_at_risk == D("1.50") and item.occurrence_count == 1
    statuses = OutboxMessage.objects.filter(kind="crm.invoice_status.update").values_list(
        "payload__status", flat=True
    )
    assert sorted(statuses) == ["approved", "paid", "posted", "posting", "sent"]


def test_void_unbills_its_entries_and_the_next_run_bills_them_again(
    client, psa_secret, systems, api_client_for
):
    f.standard_world()
    invoice = _posted_invoice(client, psa_secret, api_client_for)
    _erp_status(client, systems, invoice, "void", "150.00")
    assert invoice.status == Invoice.Status.VOID
    assert TimeEntry.objects.get().status == TimeEntry.Status.RATED
    run_billing()
    rebill = Invoice.objects.get(status=Invoice.Status.DRAFT)
    assert (rebill.sequence, rebill.net_total) == (2, D("150.00"))
    assert_billed_once()


def test_out_of_order_retraction_then_approval_bills_the_newest_state(client, psa_secret):
    from datetime import UTC, datetime, timedelta

    f.standard_world()
    now = datetime.now(tz=UTC)
    approve(
        client, psa_secret, time_entry_id="TE-1", hours="1.00", timestamp=now - timedelta(minutes=3)
    )
    approve(  # the correction is applied first ...
        client,
        psa_secret,
        time_entry_id="TE-1",
        hours="2.00",
        approved_at="2026-11-07T09:00:00+00:00",
        timestamp=now,
    )
    body = envelope(  # ... then a retraction sent between the two arrives late: superseded
        "psa.time_entry.retracted",
        {"time_entry_id": "TE-1", "reason": "x", "retracted_at": "2026-11-05T09:00:00+00:00"},
        timestamp=now - timedelta(minutes=1),
    )
    post_event(client, "psa", psa_secret, body)
    drain()
    run_billing()
    assert Invoice.objects.get().net_total == D("300.00")
    assert_billed_once()
