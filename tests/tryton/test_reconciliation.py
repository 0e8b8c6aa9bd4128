"""The reconciliation against the live Tryton (docs/finance-controls/reconciliation.md): an
invoice posted to Tryton is read back by its Tryton id (number, state, untaxed, tax and total
amounts, currency) in one call, agrees with ours, and the month reconciles with no item."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from billing.selectors.reconciliation import list_latest_results
from exceptions_queue.models import ExceptionItem
from integrations.models import SyncRun
from integrations.services.connectors import connector_for
from tests.tryton.firm import NOV, bill_and_approve, book_time, firm, poll, rpc, win_deal

pytestmark = pytest.mark.django_db(transaction=True)
__all__ = ["firm", "rpc"]  # fixtures, imported for pytest


def test_a_posted_invoice_reads_back_from_tryton_with_our_totals(client, firm, rpc, api_client_for):
    project = win_deal(client, firm)
    book_time(rpc, project, "DISC", NOV)
    assert poll(firm["psa"], "time").status == SyncRun.Status.FINISHED
    [invoice] = bill_and_approve(api_client_for("finance"))
    # 3.5 h × 150.00 = 525.00, + 8.875 % = 46.59: 571.59
    assert invoice.gross_total == Decimal("571.59") and invoice.erp_invoice_id

    read = connector_for(firm["erp"]).read_invoices([invoice.erp_invoice_id, "999999999"])
    assert list(read) == [invoice.erp_invoice_id]  # the unknown id is absent
    booked = read[invoice.erp_invoice_id]
    assert (booked.number, booked.state, booked.currency) == (invoice.number, "posted", "USD")
    assert (booked.net_total, booked.tax_total, booked.gross_total) == (
        invoice.net_total,
        invoice.tax_total,
        invoice.gross_total,
    )

    call_command("reconcile", "--period", "2026-11", "--entity", "US01", stdout=StringIO())
    assert not ExceptionItem.objects.filter(type_code="reconciliation_mismatch").exists()
    erp = list_latest_results(period="2026-11", legal_entity="US01").get().figures["erp"]
    assert (erp["systems"], erp["checked"], erp["missing"], erp["differing"]) == (
        ["tryton-erp"],
        1,
        0,
        0,
    )
    assert erp["ours"] == erp["theirs"] == [{"amount": "571.59", "currency": "USD"}]
