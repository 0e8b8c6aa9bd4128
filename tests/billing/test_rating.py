"""Rating over HTTP (docs/contract.md §5): every rule with a hand-computed amount.

World (tests/factories/billing_invoices.py): US01/USD, US-STD consultant 150.00 from
2026-01-01, Ana's cost rate 80.00, T&M project PRJ-100 with phase DISC open, 2026 contract.
"""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from billing.models import Contract, Phase, Project, TimeEntry
from billing.services.rate_cards import save_rate_card
from billing.services.rating import rerun_for_contract, rerun_for_project
from exceptions_queue.models import ExceptionItem
from tests.factories import billing_invoices as f
from tests.helpers import drain, envelope, post_event, time_entry_data

pytestmark = pytest.mark.django_db
D = Decimal


def approve(client, secret, *, timestamp=None, **data):
    body = envelope("psa.time_entry.approved", time_entry_data(**data), timestamp=timestamp)
    response = post_event(client, "psa", secret, body)
    assert response.status_code == 202, response.content
    drain()
    return TimeEntry.objects.get(psa_time_entry_id=data["time_entry_id"])


def retract(client, secret, entry_id, *, at="2026-11-04T09:00:00+00:00"):
    body = envelope(
        "psa.time_entry.retracted",
        {"time_entry_id": entry_id, "reason": "wrong phase", "retracted_at": at},
    )
    assert post_event(client, "psa", secret, body).status_code == 202
    drain()
    return TimeEntry.objects.get(psa_time_entry_id=entry_id)


def item(type_code):
    return ExceptionItem.objects.get(type_code=type_code)


def test_an_entry_is_rated_with_its_card_version_amount_and_cost(client, psa_secret):
    f.standard_world()
    entry = approve(client, psa_secret, time_entry_id="TE-1", hours="7.50")
    assert entry.status == TimeEntry.Status.RATED
    assert (entry.rate, entry.billed_hours, entry.amount) == (D("150.00"), D("7.50"), D("1125.00"))
    assert entry.currency == "USD" and entry.rate_card_version.card.code == "US-STD"
    assert (entry.cost_amount, entry.cost_currency) == (D("600.00"), "USD")  # 7.5 x 80


@pytest.mark.parametrize(
    ("increment", "mode", "hours", "billed", "amount"),
    [
        ("0.25", "up", "7.10", "7.25", "1087.50"),
        ("0.25", "nearest", "7.12", "7.00", "1050.00"),  # 28.48 increments -> 28
        ("0.25", "nearest", "7.13", "7.25", "1087.50"),  # 28.52 -> 29
        ("0.50", "nearest", "7.25", "7.50", "1125.00"),  # exactly half: half-up
        ("0.25", "down", "7.24", "7.00", "1050.00"),
        ("0.50", "down", "0.25", "0.00", "0.00"),  # a result of 0 is allowed
        (None, "up", "7.33", "7.33", "1099.50"),  # no increment: as given
    ],
)
def test_hours_are_rounded_by_the_clients_rule(
    client, psa_secret, increment, mode, hours, billed, amount
):
    f.standard_world()
    f.billing_rule(increment=increment, rounding=mode)
    entry = approve(client, psa_secret, time_entry_id="TE-R", hours=hours)
    assert (entry.billed_hours, entry.amount) == (D(billed), D(amount))
    assert entry.cost_amount == (D(hours) * 80).quantize(D("0.01"))  # cost on hours worked


def test_amount_is_rounded_half_up_per_entry_to_the_minor_unit(client, psa_secret):
    f.standard_world()
    f.rate_card(
        "US-ODD",
        entity=f.legal_entity(),
        client_account_id="001A",
        versions=((date(2026, 1, 1), None, {"analyst": "33.3350"}),),
    )
    entry = approve(client, psa_secret, time_entry_id="TE-H", role="analyst", hours="1.00")
    assert entry.amount == D("33.34")  # 33.335 -> half-up


def test_jpy_amounts_have_no_minor_unit(client, psa_secret):
    entity = f.legal_entity("JP01", "JPY", ("JP",))
    f.person(entity=entity)
    f.rate_card(
        "JP-STD",
        entity=entity,
        currency="JPY",
        versions=((date(2026, 1, 1), None, {"consultant": "15000.50"}),),
    )
    f.project(entity=entity, currency="JPY", tax_jurisdiction="JP")
    entry = approve(client, psa_secret, time_entry_id="TE-JP", hours="1.00")
    assert (entry.amount, entry.currency) == (D("15001"), "JPY")


@pytest.mark.parametrize(
    ("setup", "data"),
    [
        ("none", {"billable": False}),
        ("travel_rule", {"category": "travel"}),
        ("fixed_fee", {}),
    ],
)
def test_non_billable_entries_have_no_amount_but_a_cost(client, psa_secret, setup, data):
    entity = f.legal_entity()
    f.person(entity=entity)
    f.rate_card(entity=entity)
    model = "fixed_fee" if setup == "fixed_fee" else "time_and_materials"
    f.project(entity=entity, billing_model=model)
    if setup == "travel_rule":
        f.billing_rule(non_billable=["travel"])
    entry = approve(client, psa_secret, time_entry_id="TE-NB", hours="2.00", **data)
    assert entry.status == TimeEntry.Status.NON_BILLABLE
    assert entry.amount is None and entry.cost_amount == D("160.00")
    assert not ExceptionItem.objects.exists()


@pytest.mark.parametrize(
    ("case", "data", "type_code", "subject_key"),
    [
        ("unknown project", {"project_id": "PRJ-404"}, "unknown_project", "psa_project:PRJ-404"),
        ("phase not listed", {"phase_code": "BUILD"}, "closed_phase", "phase:{p}:BUILD"),
        ("phase closed", {"phase_code": "OLD"}, "closed_phase", "phase:{p}:OLD"),
        ("before the contract", {"work_date": "2025-12-31"}, "closed_phase", "dates:{p}"),
        # check 2 comes before check 3: a closed phase holds even non-billable time
        (
            "closed beats non-billable",
            {"phase_code": "OLD", "billable": False},
            "closed_phase",
            "phase:{p}:OLD",
        ),
        ("no rate", {"role": "partner"}, "rate_missing", "contract:{c}:role:partner"),
        (
            "psa rate differs",
            {"bill_rate": "160.00"},
            "rate_mismatch",
            "contract:{c}:role:consultant",
        ),
    ],
)
def test_checks_hold_entries_with_the_first_failing_rule(
    client, psa_secret, case, data, type_code, subject_key
):
    entity = f.legal_entity()
    f.rate_card(entity=entity)
    project = f.project(entity=entity, phases=(("DISC", "open"), ("OLD", "closed")))
    entry = approve(client, psa_secret, time_entry_id="TE-C", hours="7.50", **data)
    assert entry.status == TimeEntry.Status.ON_HOLD and entry.hold_reason == type_code
    held = item(type_code)
    assert held.subject_key == subject_key.format(p=project.pk, c=project.contract_id)
    words = {
        "phase not listed": "phase BUILD not on the project",
        "phase closed": "phase OLD closed",
    }
    words["before the contract"] = "dated outside the contract"
    assert words.get(case, "") in held.subject_ref
    assert held.occurrence_count == 1 and held.hours == D("7.50")
    if type_code == "rate_mismatch":
        assert held.amount_at_risk == D("1125.00")  # at the card's rate


def test_non_billable_wins_over_a_missing_rate(client, psa_secret):
    f.standard_world()
    entry = approve(client, psa_secret, time_entry_id="TE-NR", role="partner", billable=False)
    assert entry.status == TimeEntry.Status.NON_BILLABLE and not ExceptionItem.objects.exists()


def test_a_closed_project_holds_time_on_the_project_as_subject(client, psa_secret):
    f.legal_entity()
    f.rate_card()
    project = f.project(status=Project.Status.ON_HOLD)
    approve(client, psa_secret, time_entry_id="TE-P1")
    approve(client, psa_secret, time_entry_id="TE-P2", hours="2.00")
    held = item("closed_phase")
    assert held.subject_key == f"project:{project.pk}"
    assert held.occurrence_count == 2 and held.hours == D("9.50")
    project.status = Project.Status.ACTIVE
    project.save()
    rerun_for_project(project=project, note="project reactivated")
    held.refresh_from_db()
    assert held.status == ExceptionItem.Status.RESOLVED and held.resolution_action == "auto"
    assert set(TimeEntry.objects.values_list("status", flat=True)) == {"rated"}


def test_a_phase_that_reopens_reruns_its_held_time(client, psa_secret):
    f.legal_entity()
    f.rate_card()
    project = f.project(phases=(("DISC", "closed"),))
    approve(client, psa_secret, time_entry_id="TE-Z")
    Phase.objects.filter(project=project).update(status="open")
    rerun_for_project(project=project, note="phase DISC reopened")
    assert TimeEntry.objects.get().amount == D("1125.00")
    assert item("closed_phase").status == ExceptionItem.Status.RESOLVED


@pytest.mark.parametrize(
    ("client_rates", "named", "expected"),
    [
        ({"consultant": "140.00"}, False, "140.00"),  # the client's card has the role
        ({"partner": "300.00"}, False, "150.00"),  # it does not: the entity's standard card
        (None, False, "150.00"),  # no client card
        ({"consultant": "140.00"}, True, "140.00"),  # the deal names the client card
    ],
)
def test_rate_precedence(client, psa_secret, client_rates, named, expected):
    entity = f.legal_entity()
    f.rate_card(entity=entity)
    card = None
    if client_rates:
        card = f.rate_card(
            "GLOBEX",
            entity=entity,
            client_account_id="001A",
            versions=((date(2026, 1, 1), None, client_rates),),
        )
    f.project(entity=entity, card=card if named else None)
    assert approve(client, psa_secret, time_entry_id="TE-PR").rate == D(expected)


def test_a_named_card_is_used_alone(client, psa_secret):
    entity = f.legal_entity()
    f.rate_card(entity=entity)  # the standard card has consultant
    named = f.rate_card(
        "GLOBEX",
        entity=entity,
        client_account_id="001A",
        versions=((date(2026, 1, 1), None, {"partner": "300.00"}),),
    )
    f.project(entity=entity, card=named)
    entry = approve(client, psa_secret, time_entry_id="TE-N")
    assert entry.status == TimeEntry.Status.ON_HOLD and entry.hold_reason == "rate_missing"


def test_a_rate_change_mid_month_rates_each_side_with_its_version(client, psa_secret):
    entity = f.legal_entity()
    f.rate_card(
        entity=entity,
        versions=(
            (date(2026, 1, 1), date(2026, 11, 15), {"consultant": "150.00"}),
            (date(2026, 11, 16), None, {"consultant": "175.00"}),
        ),
    )
    f.project(entity=entity)
    before = approve(
        client, psa_secret, time_entry_id="TE-15", work_date="2026-11-15", hours="2.00"
    )
    after = approve(client, psa_secret, time_entry_id="TE-16", work_date="2026-11-16", hours="2.00")
    assert (before.amount, after.amount) == (D("300.00"), D("350.00"))
    assert before.rate_card_version_id != after.rate_card_version_id


def test_adding_the_missing_rate_reruns_held_time_and_resolves_the_item(client, psa_secret):
    f.standard_world()
    f.role("partner")
    approve(client, psa_secret, time_entry_id="TE-M1", role="partner", hours="1.00")
    approve(client, psa_secret, time_entry_id="TE-M2", role="partner", hours="2.00")
    assert item("rate_missing").occurrence_count == 2
    card = f.RateCard.objects.get(code="US-STD")
    save_rate_card(
        card=card,
        values={},
        versions=[{"valid_from": "2026-01-01", "rates": [{"role": "partner", "hourly": "300.00"}]}],
    )
    amounts = dict(TimeEntry.objects.values_list("psa_time_entry_id", "amount"))
    assert amounts == {"TE-M1": D("300.00"), "TE-M2": D("600.00")}
    assert item("rate_missing").status == ExceptionItem.Status.RESOLVED


def test_not_to_exceed_allows_exactly_reaching_the_cap_then_holds_in_order(client, psa_secret):
    entity = f.legal_entity()
    f.rate_card(entity=entity)
    project = f.project(entity=entity, not_to_exceed="2250.00")
    approve(client, psa_secret, time_entry_id="TE-1", work_date="2026-11-02")  # 1125.00
    second = approve(client, psa_secret, time_entry_id="TE-2", work_date="2026-11-03")
    assert second.status == TimeEntry.Status.RATED  # 2250.00: exactly the cap
    third = approve(client, psa_secret, time_entry_id="TE-3", work_date="2026-11-05", hours="1.00")
    fourth = approve(client, psa_secret, time_entry_id="TE-4", work_date="2026-11-04", hours="0.50")
    assert third.hold_reason == fourth.hold_reason == "not_to_exceed"  # 4th: one is already held
    held = item("not_to_exceed")
    assert held.subject_key == f"contract:{project.contract_id}"
    assert (held.occurrence_count, held.amount_at_risk) == (2, D("225.00"))  # 150.00 + 75.00
    # finance raises the cap by 80.00: re-run in work_date order, TE-4 (75.00) fits, TE-3 not
    Contract.objects.filter(pk=project.contract_id).update(not_to_exceed=D("2330.00"))
    rerun_for_contract(contract=Contract.objects.get(), note="cap raised")
    statuses = dict(TimeEntry.objects.values_list("psa_time_entry_id", "status"))
    assert statuses == {"TE-1": "rated", "TE-2": "rated", "TE-3": "on_hold", "TE-4": "rated"}
    held.refresh_from_db()
    assert (held.occurrence_count, held.amount_at_risk) == (1, D("150.00"))
    Contract.objects.filter(pk=project.contract_id).update(not_to_exceed=D("5000.00"))
    rerun_for_contract(contract=Contract.objects.get(), note="cap raised again")
    held.refresh_from_db()
    assert held.status == ExceptionItem.Status.RESOLVED


def test_the_cap_applies_only_to_time_and_materials(client, psa_secret):
    entity = f.legal_entity()
    f.rate_card(entity=entity)
    f.project(
        entity=entity, billing_model="retainer", retainer=("1000.00", "10"), not_to_exceed="100.00"
    )
    assert approve(client, psa_secret, time_entry_id="TE-RT").status == TimeEntry.Status.RATED


def test_a_retracted_held_entry_leaves_its_item_which_resolves(client, psa_secret):
    f.standard_world()
    approve(client, psa_secret, time_entry_id="TE-X", role="partner")
    entry = retract(client, psa_secret, "TE-X")
    assert entry.status == TimeEntry.Status.RETRACTED and entry.hold_reason == ""
    assert item("rate_missing").status == ExceptionItem.Status.RESOLVED


def test_a_correction_rerates_and_moves_the_entry_between_items(client, psa_secret):
    f.standard_world()
    approve(client, psa_secret, time_entry_id="TE-K", role="partner")
    corrected = approve(
        client,
        psa_secret,
        time_entry_id="TE-K",
        hours="3.00",
        approved_at="2026-11-05T09:00:00+00:00",
    )
    assert (corrected.status, corrected.amount) == ("rated", D("450.00"))
    assert item("rate_missing").status == ExceptionItem.Status.RESOLVED


def test_duplicate_and_out_of_order_approvals_change_nothing(client, psa_secret):
    f.standard_world()
    now = datetime.now(tz=UTC)
    approve(client, psa_secret, time_entry_id="TE-D", hours="5.00", timestamp=now)
    approve(client, psa_secret, time_entry_id="TE-D", hours="5.00", timestamp=now)  # same again
    approve(  # an older approval that arrives late
        client,
        psa_secret,
        time_entry_id="TE-D",
        hours="2.00",
        approved_at="2026-11-01T09:00:00+00:00",
        timestamp=now - timedelta(minutes=5),
    )
    entry = TimeEntry.objects.get()
    assert (entry.hours, entry.amount) == (D("5.00"), D("750.00"))
    assert entry.history.filter(status="rated").count() == 1


def test_a_retraction_older_than_the_approval_is_ignored(client, psa_secret):
    f.standard_world()
    approve(client, psa_secret, time_entry_id="TE-O", approved_at="2026-11-05T09:00:00+00:00")
    entry = retract(client, psa_secret, "TE-O", at="2026-11-04T09:00:00+00:00")
    assert entry.status == TimeEntry.Status.RATED
