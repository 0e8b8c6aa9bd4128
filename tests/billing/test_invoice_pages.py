"""Finance pages (drafts list, review, approve with htmx, time, billing runs) and the admin's
rate import with its preview."""

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from billing.models import BillingRun, Invoice, Rate
from billing.services.invoice_run import execute_billing_run
from exceptions_queue.models import ExceptionItem
from tests.billing.test_rating import approve
from tests.conftest import make_user
from tests.factories import billing_invoices as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(client, psa_secret):
    f.standard_world()
    approve(client, psa_secret, time_entry_id="TE-1", hours="7.50")
    approve(client, psa_secret, time_entry_id="TE-H", role="partner", hours="2.00")
    call_command("billing_run", "--period", "2026-11")
    return Invoice.objects.get()


def test_drafts_list_and_review_show_lines_entries_and_what_was_held(finance_client, draft):
    listing = finance_client.get("/invoices/")
    assert listing.status_code == 200 and b"1,125.00 USD" in listing.content  # the money filter
    assert b'href="/invoices/"' in listing.content  # the "Invoices" nav item
    page = finance_client.get(f"/invoices/{draft.pk}/").content.decode()
    assert "TE-1" in page and "1,125.00 USD" in page and "Approve and post to the ERP" in page
    item = ExceptionItem.objects.get(type_code="rate_missing")
    assert "TE-H" in page and f"/exceptions/items/{item.pk}/" in page


def test_approve_with_htmx_swaps_the_status_block(finance_client, draft, systems):
    response = finance_client.post(f"/invoices/{draft.pk}/approve/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert b"Posting to the ERP" in response.content and b"<html" not in response.content
    assert Invoice.objects.get().status == Invoice.Status.POSTING


def test_bulk_approve_from_the_list(finance_client, draft, systems):
    response = finance_client.post("/invoices/approve/", {"invoice": [draft.pk]})
    assert response.status_code == 302
    assert Invoice.objects.get().status == Invoice.Status.POSTING


def test_pages_are_for_finance(client, draft):
    make_user("pm", "pmo")
    client.login(username="pm", password="pw-pm")
    assert client.get("/invoices/").status_code == 403
    assert client.get("/time/").status_code == 200  # PMO sees time


def test_time_page_filters(finance_client, draft):
    page = finance_client.get("/time/", {"status": "on_hold"}).content.decode()
    assert "TE-H" in page and "TE-1</td>" not in page


def test_billing_run_page_polls_while_running_and_links_to_drafts(finance_client, draft):
    response = finance_client.post("/billing-runs/", {"period": "2026-11"})
    run = BillingRun.objects.order_by("-pk").first()
    assert response.status_code == 302 and response["Location"] == f"/billing-runs/{run.pk}/"
    queued = finance_client.get(f"/billing-runs/{run.pk}/").content.decode()
    assert 'hx-trigger="every 2s"' in queued
    execute_billing_run(run_id=run.pk)
    fragment = finance_client.get(f"/billing-runs/{run.pk}/", HTTP_HX_REQUEST="true")
    assert b"every 2s" not in fragment.content and b"Review the drafts" in fragment.content


def test_admin_rate_import_previews_then_applies(client, draft):
    admin = make_user("boss", "admin")
    admin.is_staff = admin.is_superuser = True
    admin.save()
    client.login(username="boss", password="pw-boss")
    f.role("partner")
    csv = b"card,valid_from,valid_to,role,hourly\nUS-STD,2026-01-01,,partner,300.00\n"
    upload = SimpleUploadedFile("rates.csv", csv, content_type="text/csv")
    preview = client.post(
        "/admin/billing/rate/import/", {"import_file": upload, "format": "0", "resource": "0"}
    )
    assert preview.status_code == 200 and b"partner" in preview.content
    assert not Rate.objects.filter(role__code="partner").exists()  # a preview changes nothing
    confirm = {
        name: preview.context["confirm_form"][name].value()
        for name in preview.context["confirm_form"].fields
    }
    applied = client.post("/admin/billing/rate/process_import/", confirm)
    assert applied.status_code == 302
    assert Rate.objects.get(role__code="partner").hourly == 300
    assert ExceptionItem.objects.get(type_code="rate_missing").status == "resolved"  # re-run


def test_rates_and_rules_export_as_csv_and_xlsx(db):
    from billing.admin.resources import BillingRuleResource, RateResource

    f.standard_world()
    f.billing_rule(increment="0.25", non_billable=["travel", "training"])
    rates = RateResource().export()
    assert rates.headers[:5] == ["card", "valid_from", "valid_to", "role", "hourly"]
    assert rates.dict[0]["card"] == "US-STD" and rates.dict[0]["role"] == "consultant"
    assert rates.export("xlsx")[:2] == b"PK"  # an XLSX (zip) file
    rules = BillingRuleResource().export()
    assert rules.dict[0]["non_billable_categories"] == "travel, training"


def test_a_refused_posting_is_visible_on_the_invoice_named_at_risk_and_retried_once(
    finance_client, draft, systems
):
    from billing.panels.risk import get_revenue_at_risk
    from config.money import money_json
    from integrations.models import OutboxMessage
    from integrations.services.systems import set_sandbox_faults
    from tests.helpers import drain

    erp = systems["erp"][0]
    set_sandbox_faults(system=erp, permanent_operations=["erp.invoice.create"])
    finance_client.post(f"/invoices/{draft.pk}/approve/")
    drain()
    invoice = Invoice.objects.get()
    assert invoice.status == Invoice.Status.POSTING
    page = finance_client.get(f"/invoices/{draft.pk}/").content.decode()
    assert "Posting failed" in page and "Posting to the ERP" not in page
    assert "422" in page and "Retry posting to the ERP" in page
    # The operations item names the invoice, its customer and its amount, and counts at risk.
    item = ExceptionItem.objects.get(type_code="delivery_failed")
    assert item.subject_ref.startswith(f"Invoice #{invoice.pk} · {invoice.customer.name} · ")
    assert (item.amount_at_risk, item.currency) == (invoice.gross_total, "USD")
    assert item.details["record_url"] == f"/invoices/{invoice.pk}/"
    assert f"Operations have it as exception #{item.pk}" in page  # finance cannot open it
    operations_queue = get_revenue_at_risk()["by_queue"]
    assert [row["amounts"] for row in operations_queue if row["queue"] == "operations"] == [
        [money_json(invoice.gross_total, "USD")]
    ]
    # Fixed in the ERP, finance retries: posted once, the item closes, the banner goes.
    set_sandbox_faults(system=erp, clear=True)
    response = finance_client.post(f"/invoices/{draft.pk}/retry-posting/", follow=True)
    assert "Posting retried" in response.content.decode()
    drain()
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.POSTED and invoice.erp_invoice_id
    assert OutboxMessage.objects.get(kind="erp.invoice.create").replay_count == 1
    item.refresh_from_db()
    assert not item.is_open
    page = finance_client.get(f"/invoices/{draft.pk}/").content.decode()
    assert "Posting failed" not in page and f"Invoice {invoice.erp_invoice_id}" in page
    again = finance_client.post(f"/invoices/{draft.pk}/retry-posting/", follow=True)
    assert "has no failed posting to retry" in again.content.decode()


def test_retrying_a_posting_is_for_finance(client, draft):
    make_user("ops", "operations")
    client.login(username="ops", password="pw-ops")
    assert client.post(f"/invoices/{draft.pk}/retry-posting/").status_code == 403


def test_the_time_page_says_on_draft_until_approval_and_names_hold_reasons(
    finance_client, draft, systems
):
    from exceptions_queue.registry import exception_types

    page = finance_client.get("/time/").content.decode()
    assert 'pill-invoiced">On draft<' in page and 'pill-invoiced">Invoiced<' not in page
    assert exception_types.get("rate_missing").title in page and ">rate_missing<" not in page
    assert f"Draft #{draft.pk}" in page and "150.00 USD" in page  # the rate as money
    finance_client.post(f"/invoices/{draft.pk}/approve/")
    page = finance_client.get("/time/").content.decode()
    assert 'pill-invoiced">Invoiced<' in page and "On draft" not in page


def test_approval_asks_first_with_the_count_and_totals_then_posts(finance_client, draft, systems):
    other = Invoice.objects.create(
        customer=draft.customer,
        legal_entity=draft.legal_entity,
        currency="USD",
        tax_jurisdiction=draft.tax_jurisdiction,
        period=draft.period.replace(month=draft.period.month - 1),
        sequence=1,
        invoice_date=draft.invoice_date,
    )  # a draft with nothing on it: left out
    page = finance_client.get(
        f"/invoices/approve/confirm/?invoice={draft.pk}&invoice={other.pk}&invoice=x"
    ).content.decode()
    assert "1 invoice</strong> will be approved" in page
    assert f"{draft.gross_total:,.2f} USD" in page and "no lines" in page
    assert Invoice.objects.get(pk=draft.pk).status == Invoice.Status.DRAFT  # nothing yet
    response = finance_client.post("/invoices/approve/", {"invoice": [draft.pk]})
    assert response.status_code == 302
    assert Invoice.objects.get(pk=draft.pk).status == Invoice.Status.POSTING
    again = finance_client.get(f"/invoices/approve/confirm/?invoice={draft.pk}").content
    assert b"Nothing to approve" in again and b"already posting to the erp" in again


def test_the_invoice_shows_its_purchase_order_and_payment_terms(finance_client, draft):
    from billing.models import Contract
    from mdm.models import BillingProfile

    page = finance_client.get(f"/invoices/{draft.pk}/").content.decode()
    assert "No PO number on the contract" in page
    BillingProfile.objects.update_or_create(
        customer=draft.customer,
        legal_entity=draft.legal_entity,
        defaults={"payment_terms": "NET45"},
    )
    page = finance_client.get(f"/invoices/{draft.pk}/").content.decode()
    assert "Payment terms NET45 (from the billing profile)" in page
    Contract.objects.update(po_number="PO-4711", payment_terms="NET30")
    page = finance_client.get(f"/invoices/{draft.pk}/").content.decode()
    assert "PO PO-4711" in page and "Payment terms NET30 (from the contract)" in page


def test_the_project_page_shows_burn_hours_by_phase_invoices_and_time(client, draft):
    from billing.models import Contract, Project

    make_user("pia", "pmo")
    client.login(username="pia", password="pw-pia")
    project = Project.objects.get()
    Contract.objects.update(not_to_exceed=Decimal("1200.00"))
    page = client.get(f"/projects/{project.pk}/").content.decode()
    # 7.50 h x 150.00 = 1,125.00 on the draft; 1,125.00 of 100,000.00 is 1 %, of 1,200.00 94 %.
    assert "1,125.00 USD" in page
    assert "1% of the contract amount (100,000.00 USD)" in page
    assert "98,875.00 USD left" in page
    assert "94% of the cap (1,200.00 USD)" in page and "burn-near" in page
    phases = page[page.index('data-testid="phases"') :]
    assert "DISC" in phases and "9.50" in phases  # 7.50 rated + 2.00 held, all on DISC
    assert f"Draft #{draft.pk}" in page
    assert "ana@acme.example" in page.split("Latest time")[1]
    Contract.objects.update(not_to_exceed=Decimal("1000.00"))
    page = client.get(f"/projects/{project.pk}/").content.decode()
    assert "113% of the cap" in page and "over by 125.00 USD" in page and "burn-over" in page


def test_time_filters_by_customer_entity_person_and_several_statuses(finance_client, draft):
    from billing.models import TimeEntry

    customer = draft.customer_id

    def ids(query: str) -> set[str]:
        page = finance_client.get(f"/time/?{query}").content.decode()
        return {
            e.psa_time_entry_id
            for e in TimeEntry.objects.all()
            if f">{e.psa_time_entry_id}<" in page
        }

    assert ids(f"customer={customer}") == {"TE-1", "TE-H"}
    assert ids(f"customer={customer + 1}") == set()
    assert ids("legal_entity=US01&status=invoiced&status=on_hold") == {"TE-1", "TE-H"}
    assert ids("status=invoiced") == {"TE-1"}
    assert ids("person=ANA@acme.example") == {"TE-1", "TE-H"}
    assert "from a dashboard" in finance_client.get(f"/time/?customer={customer}").content.decode()
    assert finance_client.get("/time/?customer=abc").status_code == 200  # a bad value: no rows


def test_tax_reads_as_money_and_its_rate_as_a_percentage(finance_client, draft):
    from datetime import date

    f.tax_rate("US-NY", "0.08875", valid_from=date(2026, 1, 1))
    call_command("billing_run", "--period", "2026-11")
    draft.refresh_from_db()
    assert draft.tax_total == Decimal("99.84")  # 1,125.00 x 8.875 %, half up
    listing = finance_client.get("/invoices/").content.decode()
    assert "99.84 USD" in listing
    page = finance_client.get(f"/invoices/{draft.pk}/").content.decode()
    assert "8.875 % of net" in page


def test_the_project_page_shows_billed_and_cost_by_month_and_its_open_items(client, draft):
    from billing.models import Project

    make_user("pia", "pmo", "finance")
    client.login(username="pia", password="pw-pia")
    project = Project.objects.get()
    page = client.get(f"/projects/{project.pk}/").content.decode()
    months = page[page.index('data-testid="by-month"') :].split("</table>")[0]
    # November: 1,125.00 on the draft; the cost of 9.50 h at the person's 80.00 = 760.00.
    assert "Nov 2026" in months and "1,125.00 USD" in months and "760.00 USD" in months
    assert "365.00 USD" in months  # the margin
    items = page[page.index('data-testid="project-items"') :].split("</section>")[0]
    held = ExceptionItem.objects.get(type_code="rate_missing")
    assert f"/exceptions/items/{held.pk}/" in items


def test_home_says_what_waits_today_per_role(client, draft):
    make_user("fia", "finance")
    client.login(username="fia", password="pw-fia")
    today = client.get("/").content.decode()
    today = today[today.index('data-testid="today"') :].split("</ul>")[0]
    assert "<strong>1</strong> draft invoices to review" in today
    assert f"{draft.gross_total:,.2f} USD" in today and "?status=draft" in today
    assert "<strong>1</strong> time entries held (2.00 h)" in today  # TE-H
    make_user("ops", "operations")
    client.login(username="ops", password="pw-ops")
    assert 'data-testid="today"' not in client.get("/").content.decode()
