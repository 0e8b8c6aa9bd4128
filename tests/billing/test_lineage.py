"""Lineage (billing/selectors/lineage.py, docs/finance-controls/lineage.md): a time entry
delivered, corrected by a second delivery, rated, billed and posted to the sandbox ERP, read
back from its invoice line and forward from each delivery. Figures by hand: consultant at
150.00 USD on US-STD; the client's rule rounds up to 0.25 h, so 1.10 h bills 1.25 h (187.50)
and the correction's 2.10 h bills 2.25 h (337.50)."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.models import Invoice, InvoiceLine
from billing.selectors.lineage import billed_this_delivery, delivery_lineage, line_lineage
from integrations.models import InboundEvent
from tests.billing.test_invoices import run_billing
from tests.billing.test_rating import approve
from tests.conftest import make_user
from tests.factories import billing_invoices as f
from tests.helpers import drain

pytestmark = pytest.mark.django_db
D = Decimal
FIRST, CORRECTED = "2026-11-03T09:00:00+00:00", "2026-11-05T09:00:00+00:00"


def _world():
    f.standard_world()
    f.billing_rule("001A", increment="0.25", rounding="up")


def _delivered(client, psa_secret, entry_id, hours, approved_at):
    approve(client, psa_secret, time_entry_id=entry_id, hours=hours, approved_at=approved_at)
    return InboundEvent.objects.filter(object_key=f"time_entry:{entry_id}").latest("id")


def _post(api_client_for, invoice):
    finance = api_client_for("finance", username=f"finance-{invoice.pk}")
    response = finance.post(f"/api/v1/invoices/{invoice.pk}/approve/")
    assert response.status_code == 200, response.content
    drain()
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.POSTED and invoice.erp_invoice_id
    return invoice


@pytest.fixture
def posted(client, psa_secret, systems, api_client_for):
    """TE-1 delivered (1.10 h), corrected (2.10 h), billed on November's invoice, posted."""
    _world()
    first = _delivered(client, psa_secret, "TE-1", "1.10", FIRST)
    second = _delivered(client, psa_secret, "TE-1", "2.10", CORRECTED)
    run_billing()
    invoice = _post(api_client_for, Invoice.objects.get())
    line = invoice.lines.get(kind=InvoiceLine.Kind.TIME)
    return {"first": first, "second": second, "invoice": invoice, "line": line}


def test_a_lines_lineage_names_both_versions_deliveries_the_rating_and_the_posting(posted):
    lineage = line_lineage(posted["line"])
    (entry,) = lineage.entries
    first, second = posted["first"], posted["second"]
    assert [d.id for d in entry.deliveries] == [first.pk, second.pk]
    carried = [(v.delivery_id, v.summary) for v in entry.versions if v.from_delivery]
    assert carried == [
        (first.pk, "Received: 1.10 h on 2026-11-02 by ana@acme.example as consultant, phase DISC"),
        (second.pk, "Corrected in the PSA (approved again 2026-11-05 09:00)"),
    ]
    correction = next(v for v in entry.versions if v.delivery_id == second.pk and v.from_delivery)
    assert ("hours", "1.10", "2.10") in [(c.field, c.before, c.after) for c in correction.changes]
    # The line billed the corrected version, rated on the standard card with the client's rule.
    billed = entry.versions[entry.billing.billed_version - 1]
    assert billed.delivery_id == second.pk and billed.status == "invoiced"
    rating = entry.rating
    assert (rating.card_code, rating.valid_from.isoformat(), rating.valid_to) == (
        "US-STD",
        "2026-01-01",
        None,
    )
    assert (rating.rule, rating.card_rate, rating.rate) == ("standard_card", D("150"), D("150"))
    assert (rating.hours, rating.billed_hours) == (D("2.10"), D("2.25"))
    assert rating.rounding == "2.10 h rounded up to 0.25 h: 2.25 h"
    assert (rating.unrounded.amount, rating.amount.format()) == (D("337.5"), "337.50 USD")
    assert (entry.billing.amount.format(), entry.billing.state) == ("337.50 USD", "billed")
    posting = lineage.posting
    assert posting.external_id == posted["invoice"].erp_invoice_id and posting.status == "sent"
    assert [a.outcome for a in posting.attempts] == ["success"]


def test_backwards_from_each_delivery_reaches_the_same_line(posted):
    for event, billed_it in ((posted["first"], False), (posted["second"], True)):
        lineage = delivery_lineage(event)
        (delivered,) = lineage.entries
        assert delivered.entry.psa_time_entry_id == "TE-1"
        (billing,) = delivered.billings
        assert (billing.line.pk, billing.invoice.pk) == (posted["line"].pk, posted["invoice"].pk)
        assert billed_this_delivery(billing, delivered) is billed_it
        assert (
            lineage.postings[posted["invoice"].pk].external_id == posted["invoice"].erp_invoice_id
        )
        assert delivered.made and all(
            delivered.versions[n - 1].trace_id == event.trace_id for n in delivered.made
        )


def test_a_correction_after_posting_keeps_the_old_version_on_the_posted_line(
    posted, client, psa_secret
):
    third = _delivered(client, psa_secret, "TE-1", "3.00", "2026-11-07T09:00:00+00:00")
    (entry,) = line_lineage(posted["line"]).entries
    assert entry.billing.state.startswith("reversed by a credit on ")
    assert entry.versions[entry.billing.billed_version - 1].delivery_id == posted["second"].pk
    assert entry.rating.amount.format() == "337.50 USD"  # what the posted line billed, not now
    assert [d.id for d in entry.deliveries][-1] == third.pk
    (delivered,) = delivery_lineage(posted["second"]).entries
    (billing,) = [b for b in delivered.billings if b.line.pk == posted["line"].pk]
    assert billed_this_delivery(billing, delivered)


def _queries(function, *args) -> int:
    with CaptureQueriesContext(connection) as queries:
        function(*args)
    return len(queries)


def test_lineage_queries_do_not_grow_with_entries_versions_or_deliveries(
    posted, client, psa_secret, api_client_for
):
    one_entry = _queries(line_lineage, posted["line"])
    for number in range(2, 6):  # four more entries, each delivered and corrected
        _delivered(client, psa_secret, f"TE-{number}", "1.00", FIRST)
        _delivered(client, psa_secret, f"TE-{number}", "1.50", CORRECTED)
    run_billing()
    supplementary = _post(api_client_for, Invoice.objects.get(sequence=2))
    line = supplementary.lines.get(kind=InvoiceLine.Kind.TIME)
    assert line.entries.count() == 4
    assert _queries(line_lineage, line) == one_entry
    assert _queries(delivery_lineage, posted["first"]) <= 9


def test_the_pages_show_the_path_and_link_it_both_ways(posted, client):
    invoice, line, first = posted["invoice"], posted["line"], posted["first"]
    make_user("fiona", "finance")
    client.login(username="fiona", password="pw-fiona")
    detail = client.get(f"/invoices/{invoice.pk}/").content.decode()
    url = f"/invoices/{invoice.pk}/lines/{line.pk}/lineage/"
    assert url in detail
    page = client.get(url).content.decode()
    for words in (
        f"Delivery #{first.pk} from the PSA: approved time",
        f"Delivery #{posted['second'].pk} from the PSA",
        "Corrected in the PSA",
        "2.10 h rounded up to 0.25 h: 2.25 h",
        "Billed on this line: 2.25 h, 337.50 USD",
        f"Posted: the ERP&#x27;s invoice id is {invoice.erp_invoice_id}",
    ):
        assert words in page, words
    assert f"/events/{first.pk}/lineage/" in page
    forward = client.get(f"/events/{first.pk}/lineage/").content.decode()
    assert url in forward and "It billed another version of the entry" in forward
    assert "(operations can open it)" in forward  # finance reads no raw event body
    make_user("piet", "pmo")
    client.login(username="piet", password="pw-piet")
    assert client.get(url).status_code == 403


def test_operations_reach_the_forward_lineage_from_the_trace_and_the_events_tab(posted, client):
    first = posted["first"]
    make_user("olga", "operations")
    client.login(username="olga", password="pw-olga")
    link = f"/events/{first.pk}/lineage/"
    assert link in client.get(f"/traces/{first.trace_id}/").content.decode()
    assert link in client.get("/operations/", {"tab": "events"}).content.decode()
    assert client.get(link).status_code == 200


def test_the_api_answers_both_paths_and_hides_the_raw_evidence_from_finance(posted, api_client_for):
    invoice, line, first = posted["invoice"], posted["line"], posted["first"]
    finance = api_client_for("finance", username="api-finance")
    body = finance.get(f"/api/v1/invoices/{invoice.pk}/lines/{line.pk}/lineage/").json()
    (entry,) = body["entries"]
    assert [d["id"] for d in entry["deliveries"]] == [first.pk, posted["second"].pk]
    assert {d["event_url"] for d in entry["deliveries"]} == {None}
    rating = entry["rating"]
    assert (rating["card_code"], rating["rule"], rating["billed_hours"]) == (
        "US-STD",
        "standard_card",
        "2.25",
    )
    assert rating["amount"] == {"amount": "337.50", "currency": "USD"}
    assert body["posting"]["external_id"] == invoice.erp_invoice_id
    forward = finance.get(f"/api/v1/events/{first.pk}/lineage/").json()
    (billing,) = forward["entries"][0]["billings"]
    assert (billing["line_id"], billing["billed_this_delivery"]) == (line.pk, False)
    operations = api_client_for("operations", username="api-operations")
    seen = operations.get(f"/api/v1/events/{first.pk}/lineage/").json()
    assert seen["delivery"]["event_url"] == f"/api/v1/events/{first.pk}/"
    assert api_client_for("pmo").get(f"/api/v1/events/{first.pk}/lineage/").status_code == 403
