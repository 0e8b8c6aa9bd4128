"""The revenue-leakage ledger (billing/selectors/leakage.py, docs/finance-controls/leakage.md):
one entry per reason, made through the real flows where they are cheap, with figures by hand.

The firm: US01 bills USD, consultant 150.00 and partner 300.00 an hour on US-STD, project
PRJ-100 of Globex; GB01 bills GBP, consultant 120.00 on GB-STD, project PRJ-GB1 of Initech.
October's run (every entity) and November's run of US01 ran. The ledger is read on 2027-01-20:

| reason       | entry    | worked     | age | hours | amount     | owner                          |
|--------------|----------|------------|-----|-------|------------|--------------------------------|
| never billed | TE-N     | 2026-10-05 | 107 | 1.00  | 150.00 USD | Finance queue · next billing run |
| late         | TE-L     | 2026-10-20 |  92 | 3.00  | 450.00 USD | (draft: not approved yet), 2 months late |
| written down | line     | 2026-11-03 |  78 | —     | 150.00 USD | fin (600.00 billed as 450.00)  |
| held         | TE-H     | 2026-11-10 |  71 | 2.00  | 300.00 USD | Finance queue · fin            |
| written off  | TE-W     | 2026-11-12 |  69 | 1.50  | 450.00 USD | fin                            |
| never billed | TE-G     | 2026-11-20 |  61 | 2.00  | 240.00 GBP | Finance queue · next billing run |
"""

import csv
import io
import re
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from billing.models import Invoice, InvoiceLine, TimeEntry
from billing.selectors.leakage import REASONS, LeakageFilters, Tally, get_leakage_ledger
from billing.services.invoice_adjustments import adjust_line
from config.money import Money
from exceptions_queue.models import ExceptionItem
from exceptions_queue.services import assign_exception_item, resolve_exception_item
from tests.billing.test_invoices import run_billing
from tests.billing.test_rating import approve
from tests.conftest import make_user
from tests.dashboards import world as w
from tests.factories import billing_invoices as f

pytestmark = pytest.mark.django_db
D = Decimal
AS_OF = date(2027, 1, 20)


def usd(amount: str) -> Money:
    return Money(D(amount), "USD")


def _reference():
    entity = f.legal_entity()
    f.person(entity=entity)
    rates = {"consultant": "150.00", "partner": "300.00"}
    f.rate_card(entity=entity, versions=((date(2026, 1, 1), None, rates),))
    us = f.project(entity=entity)
    gb = f.legal_entity("GB01", currency="GBP", jurisdictions=("GB",))
    f.rate_card(
        "GB-STD",
        entity=gb,
        currency="GBP",
        versions=((date(2026, 1, 1), None, {"consultant": "120.00"}),),
    )
    return us, w.gb_project("PRJ-GB1", "Initech")


@pytest.fixture
def firm(client, psa_secret):
    us, _gb = _reference()
    fin = make_user("fin", "finance")
    run_billing("2026-10")  # October's run: before TE-N and TE-L were approved
    approve(client, psa_secret, time_entry_id="TE-N", hours="1.00", work_date="2026-10-05")
    late = approve(client, psa_secret, time_entry_id="TE-L", hours="3.00", work_date="2026-10-20")
    approve(client, psa_secret, time_entry_id="TE-D1", hours="4.00", work_date="2026-11-03")
    approve(
        client, psa_secret, time_entry_id="TE-H", hours="2.00", work_date="2026-11-10",
        bill_rate="175.00",
    )  # fmt: skip
    approve(
        client, psa_secret, time_entry_id="TE-W", hours="1.50", work_date="2026-11-12",
        role="partner", bill_rate="320.00",
    )  # fmt: skip
    approve(
        client, psa_secret, time_entry_id="TE-G", hours="2.00", work_date="2026-11-20",
        project_id="PRJ-GB1",
    )  # fmt: skip
    held = ExceptionItem.objects.get(type_code="rate_mismatch", subject_key__endswith="consultant")
    assign_exception_item(item_id=held.pk, assignee=fin, by=fin)
    partner = ExceptionItem.objects.get(type_code="rate_mismatch", subject_key__endswith="partner")
    resolve_exception_item(
        item_id=partner.pk, action="write_off", user=fin, data={"reason": "client dispute"}
    )
    run_billing("2026-11", "--legal-entity", "US01")
    november = Invoice.objects.get(period=date(2026, 11, 1))
    line = november.lines.get(kind=InvoiceLine.Kind.TIME)
    adjust_line(
        invoice_id=november.pk, line_id=line.pk, new_amount="450.00", reason="goodwill", user=fin
    )
    december = w.invoice(us, status=Invoice.Status.DRAFT, invoice_date=date(2026, 12, 31))
    w.line(december, us, amount="450.00", entries=[late])  # October's time billed in December
    TimeEntry.objects.filter(pk=late.pk).update(status=TimeEntry.Status.INVOICED)
    return {"fin": fin, "november": november, "line": line, "december": december}


def _row(ledger, reason, key):
    (row,) = [
        r for r in ledger.rows if r.reason == reason and (r.psa_time_entry_id or r.line_id) == key
    ]
    return row


def test_each_reason_has_its_row_with_amount_age_and_owner(firm):
    ledger = get_leakage_ledger(filters=LeakageFilters(as_of=AS_OF))
    assert [(r.reason, r.psa_time_entry_id or r.line_id) for r in ledger.rows] == [
        ("never_billed", "TE-N"),
        ("late", "TE-L"),
        ("written_down", firm["line"].pk),
        ("held", "TE-H"),
        ("written_off", "TE-W"),
        ("never_billed", "TE-G"),
    ]
    facts = [(r.age_days, r.hours, r.amount, r.owner) for r in ledger.rows]
    assert facts == [
        (107, D("1.00"), usd("150.00"), "Finance queue · next billing run"),
        (92, D("3.00"), usd("450.00"), "Finance queue · not approved yet"),
        (78, None, usd("150.00"), "fin"),
        (71, D("2.00"), usd("300.00"), "Finance queue · fin"),
        (69, D("1.50"), usd("450.00"), "fin"),
        (61, D("2.00"), Money(D("240.00"), "GBP"), "Finance queue · next billing run"),
    ]
    never = _row(ledger, "never_billed", "TE-N")
    assert never.detail == "the October 2026 billing run did not bill it"
    assert (
        _row(ledger, "never_billed", "TE-G").detail
        == "not billed 10 days after November 2026 ended"
    )
    late = _row(ledger, "late", "TE-L")
    assert (late.months_late, late.invoice_id, late.month) == (
        2,
        firm["december"].pk,
        date(2026, 10, 1),
    )
    down = _row(ledger, "written_down", firm["line"].pk)
    assert down.invoice_id == firm["november"].pk and down.detail.endswith(": goodwill")
    held = _row(ledger, "held", "TE-H")
    assert held.detail == "Rate differs"
    assert held.item_queue == "finance" and held.item_id
    off = _row(ledger, "written_off", "TE-W")
    assert off.detail.startswith("client dispute (fin, ") and off.happened_at is not None


def _sum(rows) -> Tally:
    tally = Tally()
    for row in rows:
        tally.add(row)
    return tally


def test_the_totals_are_the_sums_of_their_rows_per_currency(firm):
    ledger = get_leakage_ledger(filters=LeakageFilters(as_of=AS_OF))
    assert ledger.total.amounts == {"USD": usd("1500.00"), "GBP": Money(D("240.00"), "GBP")}
    assert (ledger.total.rows, ledger.total.hours) == (6, D("9.50"))
    by_reason = {g.key: (g.tally.rows, g.tally.hours, g.tally.money()) for g in ledger.by_reason}
    assert by_reason == {
        "held": (1, D("2.00"), [usd("300.00")]),
        "written_off": (1, D("1.50"), [usd("450.00")]),
        "written_down": (1, D("0"), [usd("150.00")]),
        "late": (1, D("3.00"), [usd("450.00")]),
        "never_billed": (2, D("3.00"), [Money(D("240.00"), "GBP"), usd("150.00")]),
    }
    by_customer = {g.label: (g.tally.rows, g.tally.money()) for g in ledger.by_customer}
    assert by_customer == {
        "Globex": (5, [usd("1500.00")]),
        "Initech": (1, [Money(D("240.00"), "GBP")]),
    }
    by_month = {g.key: (g.tally.rows, g.tally.hours, g.tally.money()) for g in ledger.by_month}
    assert by_month == {
        "2026-10": (2, D("4.00"), [usd("600.00")]),
        "2026-11": (4, D("5.50"), [Money(D("240.00"), "GBP"), usd("900.00")]),
    }
    # Every group is the sum of its own rows, and the groups of each kind add up to the total.
    for groups, key in (
        (ledger.by_reason, lambda r: r.reason),
        (ledger.by_customer, lambda r: str(r.customer_id or "")),
        (ledger.by_month, lambda r: f"{r.month:%Y-%m}"),
    ):
        for group in groups:
            assert group.tally == _sum(r for r in ledger.rows if key(r) == group.key)
        assert sum(g.tally.rows for g in groups) == ledger.total.rows
    assert "GBP" not in {m.currency for m in ledger.by_customer[0].tally.money()}


def test_filters_narrow_the_rows_and_their_totals(firm):
    def keys(**filters):
        ledger = get_leakage_ledger(filters=LeakageFilters(as_of=AS_OF, **filters))
        assert ledger.total == _sum(ledger.rows)
        return [(r.reason, r.psa_time_entry_id or r.line_id) for r in ledger.rows]

    assert keys(reason="never_billed") == [("never_billed", "TE-N"), ("never_billed", "TE-G")]
    assert keys(legal_entity="GB01") == [("never_billed", "TE-G")]
    initech = TimeEntry.objects.get(psa_time_entry_id="TE-G").project.customer_id
    assert keys(customer=initech) == [("never_billed", "TE-G")]
    october = date(2026, 10, 1)
    assert keys(start=october, end=october) == [("never_billed", "TE-N"), ("late", "TE-L")]
    with pytest.raises(ValueError, match="reason"):
        LeakageFilters.parse({"reason": "lost"})
    with pytest.raises(ValueError, match="from"):
        LeakageFilters.parse({"from": "2026-13"})


def test_never_billed_waits_for_the_run_or_ten_days_after_the_month(firm):
    def never(on):
        ledger = get_leakage_ledger(filters=LeakageFilters(as_of=on, reason="never_billed"))
        return [r.psa_time_entry_id for r in ledger.rows]

    assert never(date(2026, 11, 2)) == ["TE-N"]  # October's run ran: at once
    assert never(date(2026, 12, 10)) == ["TE-N"]  # November: US01's run only, GB01 waits
    assert never(date(2026, 12, 11)) == ["TE-N", "TE-G"]  # ten days after November ended
    assert never(date(2026, 10, 30)) == []  # a month not over is not leakage yet


def _queries(**filters) -> int:
    with CaptureQueriesContext(connection) as queries:
        get_leakage_ledger(filters=LeakageFilters(as_of=AS_OF, **filters))
    return len(queries)


def test_the_queries_do_not_grow_with_the_rows(firm):
    before = _queries()
    us = TimeEntry.objects.get(psa_time_entry_id="TE-N").project
    for n in range(5):  # five more rows of every reason
        w.entry(us, status=TimeEntry.Status.RATED, work_date=date(2026, 10, 6 + n), amount="10.00")
        held = w.entry(us, status=TimeEntry.Status.ON_HOLD, work_date=date(2026, 11, 6 + n))
        TimeEntry.objects.filter(pk=held.pk).update(hold_reason="rate_missing", hold_key=f"k{n}")
        off = w.entry(us, status=TimeEntry.Status.NON_BILLABLE, work_date=date(2026, 11, 7 + n))
        off.write_off_reason = "test"
        off.save()
        late = w.entry(
            us, status=TimeEntry.Status.INVOICED, work_date=date(2026, 9, 1 + n), amount="5.00"
        )
        w.line(firm["december"], us, amount="5.00", entries=[late])
        InvoiceLine.objects.create(
            invoice=firm["november"], kind=InvoiceLine.Kind.ADJUSTMENT, description="down",
            contract=us.contract, amount=D("-1.00"), group_key=f"adjust:{firm['line'].pk}",
        )  # fmt: skip
    ledger = get_leakage_ledger(filters=LeakageFilters(as_of=AS_OF))
    assert ledger.total.rows == 6 + 25
    assert _queries() == before
    assert _queries(reason="held") <= 1


@pytest.fixture
def signed_in(client, firm):
    client.login(username="fin", password="pw-fin")
    return client


def _page_keys(html: str) -> list[str]:
    return re.findall(r'data-row="([^"]+)"', html)


def test_the_page_shows_the_rows_and_the_export_has_the_same_rows(signed_in):
    page = signed_in.get("/leakage/")
    assert page.status_code == 200
    html = page.content.decode()
    ledger = get_leakage_ledger()
    shown = _page_keys(html)
    assert shown == [f"{r.reason}:{r.psa_time_entry_id or r.line_id}" for r in ledger.rows]
    for words in ("Revenue leakage", "Never billed", "Billed late", "Written down", "Held"):
        assert words in html
    assert "1,500.00 USD" in html or "USD" in html
    exported = signed_in.get("/leakage/?format=csv")
    assert exported.status_code == 200
    lines = list(
        csv.DictReader(io.StringIO(b"".join(exported.streaming_content).decode("utf-8-sig")))
    )
    labels = {label: code for code, label in REASONS.items()}
    assert [f"{labels[r['Reason']]}:{r['Entry'] or r['Line']}" for r in lines] == shown
    assert [r["Amount"] for r in lines] == [str(r.amount.amount) for r in ledger.rows]
    workbook = load_workbook(io.BytesIO(signed_in.get("/leakage/?format=xlsx").content))
    assert workbook.active.max_row == len(shown) + 1


def test_the_page_filters_and_refuses_what_does_not_parse(signed_in):
    html = signed_in.get("/leakage/?reason=late").content.decode()
    assert _page_keys(html) == ["late:TE-L"]
    html = signed_in.get("/leakage/?reason=lost", follow=True).content.decode()
    assert "Filter not applied" in html


def test_the_api_answers_the_rows_and_totals_of_the_ledger(firm, api_client_for):
    finance = api_client_for("finance")
    body = finance.get("/api/v1/leakage/").json()
    ledger = get_leakage_ledger()
    assert body["count"] == len(ledger.rows) == len(body["results"])
    assert [r["reason"] for r in body["results"]] == [r.reason for r in ledger.rows]
    total = body["totals"]["total"]
    assert total["amounts"] == [m.as_json() for m in ledger.total.money()]
    reasons = {g["key"]: g["totals"]["amounts"] for g in body["totals"]["by_reason"]}
    assert reasons["written_down"] == [{"amount": "150.00", "currency": "USD"}]
    assert finance.get("/api/v1/leakage/?reason=lost").status_code == 400
    assert finance.get("/api/v1/leakage/?reason=late").json()["count"] == 1
    assert api_client_for("pmo").get("/api/v1/leakage/").status_code == 403


def test_the_finance_dashboard_links_to_the_ledger(signed_in):
    html = signed_in.get("/dashboards/finance/").content.decode()
    assert 'data-panel="billing:revenue-leakage"' in html
    assert 'data-drill="leakage-this-month"' in html and "/leakage/?from=" in html
