"""The demo firm: its definition (no server), and a slice of it loaded over real HTTP through
a live server and a real worker process, the way `make run` loads the whole firm."""

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.demo import catalogue
from billing.demo.common import standard_rate
from billing.demo.firm import FULL, Scale, build_firm
from billing.demo.ledger import erp_history
from billing.demo.loader import DONE_WEBHOOK_ID, DemoLoader, envelope, load_demo_firm
from integrations.connectors.schemas import validate_data
from mdm.services import matching

# The end-to-end fixtures (a real worker process on the test database) live with tests/e2e.
from tests.e2e.conftest import (  # noqa: F401 fixtures
    beat_sweeper,
    celery_worker_process,
    real_services,
)

TODAY = date(2026, 12, 2)
SLICE = Scale(clients=2, projects=3, months=3, consultants=6)


@pytest.fixture(scope="module")
def firm():
    return build_firm(TODAY)


def test_the_firm_is_the_same_on_every_build(firm):
    again = build_firm(TODAY)
    assert again.reference == firm.reference
    assert [e.data for e in again.entries] == [e.data for e in firm.entries]


def test_the_firm_has_its_entities_people_clients_and_projects(firm):
    reference = firm.reference
    assert {(e["code"], e["currency"]) for e in reference["legal_entities"]} == {
        ("KP-US", "USD"),
        ("KP-GB", "GBP"),
        ("KP-DE", "EUR"),
    }
    assert all(e["tax_jurisdictions"] for e in reference["legal_entities"])
    assert {t["jurisdiction"] for t in reference["tax_rates"]} == {"US-NY", "US-CA", "GB", "DE"}
    assert {(f["from"], f["to"]) for f in reference["fx_rates"]} == {("GBP", "USD"), ("EUR", "USD")}
    people = reference["people"]
    assert len(people) == 60
    assert {p["role"] for p in people} == {code for code, _ in catalogue.ROLES}
    assert {p["legal_entity"] for p in people} == {"KP-US", "KP-GB", "KP-DE"}
    assert all(Decimal(p["cost_rate"]) > 0 and p["weekly_capacity_hours"] for p in people)
    assert len(firm.accounts) == 30 and len(firm.contacts) >= 30
    assert len(firm.projects) == 40
    assert len({p.opportunity_id for p in firm.projects}) == 40


def test_every_billing_model_is_there_with_its_terms(firm):
    by_model = Counter(p.deal["billing_model"] for p in firm.projects)
    assert set(by_model) == {"time_and_materials", "fixed_fee", "retainer"}
    capped = [p for p in firm.projects if p.deal["not_to_exceed"]]
    assert len(capped) >= 3
    assert any(not p.deal["not_to_exceed"] for p in firm.projects if p.kind.startswith("tm"))
    fixed = [p for p in firm.projects if p.deal["billing_model"] == "fixed_fee"]
    assert all(
        sum(Decimal(m["amount"]) for m in p.deal["milestones"]) == Decimal(p.deal["amount"])
        for p in fixed
    )
    assert sum(len(p.completions) for p in fixed) >= 5  # some milestones completed
    retainers = [p for p in firm.projects if p.deal["billing_model"] == "retainer"]
    assert {p.deal["retainer"]["included_hours"] for p in retainers} == {"40.00", "160.00"}


def test_the_capped_project_bills_past_its_cap(firm):
    project = next(p for p in firm.projects if p.kind == "tm_cap_hit")
    cap = Decimal(project.deal["not_to_exceed"])
    worth = sum(
        Decimal(e.data["hours"])
        * standard_rate(
            project.deal["currency"], e.data["role"], date.fromisoformat(e.data["work_date"]), TODAY
        )
        for e in firm.entries
        if e.opportunity_id == project.opportunity_id and e.data["category"] == "delivery"
    )
    assert worth * Decimal("0.8") > cap > worth * Decimal("0.5")


def test_retainers_with_overage_work_more_than_their_included_hours(firm):
    for project in (p for p in firm.projects if p.kind == "ret_over"):
        month = firm.months[-1]
        hours = sum(
            Decimal(e.data["hours"])
            for e in firm.entries
            if e.opportunity_id == project.opportunity_id
            and e.data["work_date"][:7] == f"{month:%Y-%m}"
        )
        assert hours > Decimal(project.deal["retainer"]["included_hours"])


def test_standard_cards_change_to_higher_rates_three_months_ago(firm):
    standard = [card for card in firm.reference["rate_cards"] if card["standard"]]
    assert len(standard) == 3
    for card in standard:
        first, second = card["versions"]
        assert second["valid_from"] == "2026-09-01"
        assert first["valid_from"] < firm.history_start.isoformat()
        before = {r["role"]: Decimal(r["hourly"]) for r in first["rates"]}
        after = {r["role"]: Decimal(r["hourly"]) for r in second["rates"]}
        assert set(before) == set(after) and all(after[r] > before[r] for r in before)
    client_cards = [card for card in firm.reference["rate_cards"] if not card["standard"]]
    assert len(client_cards) == 2
    named = next(p for p in firm.projects if p.kind == "tm_card")
    card = next(c for c in client_cards if c["code"] == named.deal["rate_card"])
    assert "partner" not in {r["role"] for r in card["versions"][0]["rates"]}  # rate_missing
    assert any(
        e.data["role"] == "partner"
        for e in firm.entries
        if e.opportunity_id == named.opportunity_id
    )


def test_near_duplicate_accounts_score_as_duplicates_and_no_others_do(firm):
    records = [
        matching.build_record(
            a["account_id"], a["name"], website=a["website"], country=a["billing_country"]
        )
        for a in firm.accounts
    ]
    pairs = {
        tuple(sorted((a.name, b.name)))
        for i, a in enumerate(records)
        for b in records[i + 1 :]
        if matching.score_pair(a, b).score >= matching.DUPLICATE_THRESHOLD
    }
    assert pairs == {
        tuple(sorted((catalogue.CLIENTS[i][0], name))) for i, name in catalogue.NEAR_DUPLICATES
    }


def test_six_months_of_time_about_one_entry_a_consultant_a_working_day(firm):
    entries = firm.entries
    assert 4000 <= len(entries) <= 6000
    assert len({e.time_entry_id for e in entries}) == len(entries)
    assert firm.months[0] == date(2026, 6, 1) and len(firm.months) == 6
    days = {e.data["work_date"] for e in entries}
    assert min(days) >= "2026-06-01" and max(days) < TODAY.isoformat()
    assert any(day >= "2026-12-01" for day in days)  # the current month stays unbilled
    assert all(4 <= Decimal(e.data["hours"]) <= 8 for e in entries if e.opportunity_id)
    projects = {p.opportunity_id: p for p in firm.projects}
    for entry in entries:
        if entry.opportunity_id:
            deal = projects[entry.opportunity_id].deal
            assert deal["start_date"] <= entry.data["work_date"] <= deal["end_date"]
    assert any(e.late for e in entries)
    assert firm.retractions and firm.corrections and firm.late_retractions


def test_every_event_the_firm_sends_passes_its_schema(firm):
    events = [("crm.account.upserted", a) for a in firm.accounts]
    events += [("crm.contact.upserted", c) for c in firm.contacts]
    events += [("crm.opportunity.closed_won", p.deal) for p in firm.projects]
    events += [
        ("psa.time_entry.approved", {**e.data, "project_id": "PRO-1"})
        for e in firm.entries + firm.corrections + firm.late_corrections
    ]
    events += [("psa.time_entry.retracted", r) for r in firm.retractions + firm.late_retractions]
    for event_type, data in events:
        sent = envelope(event_type, "2026-01-01T00:00:00+00:00", data)["data"]
        assert validate_data(event_type, sent) == {}, (event_type, sent)


def test_older_invoices_are_mostly_paid_and_last_months_sent():
    now = datetime(2026, 12, 2, 8, tzinfo=UTC)
    statuses = Counter()
    for n in range(200):
        for period in (date(2026, 6, 1), date(2026, 11, 1)):
            history = erp_history(
                key=f"invoice-{n}",
                period=period,
                invoice_date=period + timedelta(days=29),
                gross=Decimal("1000.00"),
                today=TODAY,
                now=now,
            )
            statuses[(period.month, history[-1].status if history else "posted")] += 1
    assert statuses[(6, "paid")] > 150
    assert statuses[(11, "paid")] == 0 and statuses[(11, "sent")] > 100


def test_a_slice_of_the_firm_keeps_every_billing_model():
    firm = build_firm(TODAY, SLICE)
    assert len(firm.accounts) == 2 and len(firm.projects) == 3 and len(firm.months) == 3
    assert {p.deal["billing_model"] for p in firm.projects} == {
        "time_and_materials",
        "fixed_fee",
        "retainer",
    }
    assert FULL.projects == 40


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_slice_loads_over_http_into_posted_paid_invoices_once(
    live_server,
    systems,
    celery_worker_process,  # noqa: F811 the fixture imported above
    beat_sweeper,  # noqa: F811 the fixture imported above
):
    from billing.models import Invoice, Project, TimeEntry
    from billing.panels.unbilled import get_unbilled_time
    from exceptions_queue.models import ExceptionItem
    from integrations.models import InboundEvent

    secrets = {slug: secret for slug, (_system, secret) in systems.items()}
    firm = build_firm(timezone.localdate(), SLICE)
    lines = []
    report = load_demo_firm(firm=firm, base_url=live_server.url, log=lines.append, secrets=secrets)

    assert not report.already_loaded and set(report.sent) == {202}
    assert any("deals closed" in line for line in lines)
    invoices = Invoice.objects.filter(legal_entity__code__startswith="KP-")
    past = invoices.filter(period__lt=timezone.localdate().replace(day=1))
    assert past.exists()
    assert all(i.erp_invoice_id and i.approved_by.username == "demo.finance" for i in past)
    statuses = set(past.values_list("status", flat=True))
    assert statuses <= {"posted", "sent", "partially_paid", "paid"}
    assert statuses & {"sent", "partially_paid", "paid"}  # the ERP's statuses came back
    assert {"time", "retainer", "overage"} <= set(past.values_list("lines__kind", flat=True))
    assert TimeEntry.objects.filter(status="invoiced").count() > 50
    assert Decimal(get_unbilled_time()["total"]["hours"]) > 0  # the current month's time
    assert InboundEvent.objects.filter(status__in=("failed", "dead", "rejected")).count() == 0

    before = (
        InboundEvent.objects.count(),
        sorted(invoices.values_list("pk", "status", "gross_total")),
        ExceptionItem.objects.count(),
    )
    again = load_demo_firm(firm=firm, base_url=live_server.url, log=lines.append, secrets=secrets)
    assert again.already_loaded and not again.sent
    assert InboundEvent.objects.filter(webhook_id=DONE_WEBHOOK_ID).count() == 1

    # The PSA sending its history again: every delivery is a duplicate, nothing changes.
    loader = DemoLoader(firm, base_url=live_server.url, log=lines.append, secrets=secrets)
    loader.psa_ids = dict(
        Project.objects.values_list("contract__crm_opportunity_id", "psa_project_id")
    )
    loader.send_chains([[loader.approval(e)] for e in firm.entries if not e.late])
    assert set(loader.report.sent) == {200}
    assert before == (
        InboundEvent.objects.count(),
        sorted(invoices.values_list("pk", "status", "gross_total")),
        ExceptionItem.objects.count(),
    )
