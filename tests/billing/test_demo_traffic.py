"""The demo traffic simulator: its switch (a django-celery-beat periodic task), ticks posting
signed webhooks to a real server, and the operations dashboard's panel and switch."""

import json
import re
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.test import Client
from django_celery_beat.models import PeriodicTask

from billing.demo import traffic
from billing.models import Person, TimeEntry
from exceptions_queue.models import ExceptionItem
from integrations.models import ExternalSystem, InboundEvent
from tests.conftest import make_user
from tests.helpers import drain

CONTRACT_TYPES = {
    "closed_phase",
    "rate_missing",
    "rate_mismatch",
    "not_to_exceed",
    "unknown_project",
    "duplicate_customer",
    "ownership_conflict",
    "contract_invalid",
    "delivery_failed",
    "event_rejected",
}
REFERENCE = Path(django_settings.BASE_DIR) / "docs/examples/reference.json"


@pytest.mark.django_db
def test_start_and_stop_turn_the_beat_schedule_on_and_off_and_status_says_so():
    assert traffic.status()["state"] == "off"

    on = traffic.start(interval=5)
    traffic.start(interval=5)  # again: still one schedule

    task = PeriodicTask.objects.get(name=traffic.TASK_NAME)
    assert task.enabled and task.task == "billing.tasks.demo_traffic_tick_task"
    assert task.interval.every == 5 and task.interval.period == "seconds"
    assert PeriodicTask.objects.filter(task=traffic.TASK).count() == 1
    assert on["state"] == "on" and on["interval_seconds"] == 5.0
    assert on["ticks"] == 0 and on["sent_last_hour"] == 0 and on["last_tick_at"] is None

    off = traffic.stop()
    task.refresh_from_db()
    assert not task.enabled and off["state"] == "off"
    assert traffic.start(interval=2.5)["interval_seconds"] == 2.5  # fractions: microseconds
    with pytest.raises(ValueError, match="at least"):
        traffic.start(interval=0.5)


@pytest.mark.django_db
def test_a_tick_queued_before_stop_sends_nothing(systems):
    traffic.start(interval=10)
    traffic.stop()

    assert traffic.run_scheduled_tick()["tick"] is None
    assert not traffic.simulated_events().exists()


@pytest.mark.django_db
def test_stop_switches_off_the_erp_fault_the_simulator_set_and_keeps_a_persons_own(systems):
    from django.utils import timezone

    from integrations.services.systems import set_sandbox_faults

    erp = systems["erp"][0]
    set_sandbox_faults(system=erp, error_rate=0.1)  # a person's own fault
    now = timezone.now()
    fault = {"scenario": "erp_outage", "outage": True, "minutes": 1}
    assert traffic.switch_on_fault(fault, now=now)
    assert not traffic.switch_on_fault(fault, now=now)  # one at a time
    erp.refresh_from_db()
    assert erp.settings["sandbox"]["outage_until"]
    assert "down until" in traffic.status()["erp_fault"]

    assert not traffic.clear_faults(now=now)  # not yet: it lasts a minute
    traffic.stop()

    erp.refresh_from_db()
    assert erp.settings["sandbox"] == {"error_rate": 0.1}
    assert traffic.status()["erp_fault"] is None


# --- ticks against a real server ---------------------------------------------------------------


@pytest.fixture
def demo_secrets(systems, settings, tmp_path, live_server):
    """What ``bootstrap`` leaves for the simulator: var/demo-secrets.json, and the server's URL."""
    settings.VAR_DIR = tmp_path
    settings.THROUGHLINE_URL = live_server.url
    secrets = {slug: secret for slug, (_system, secret) in systems.items()}
    (tmp_path / "demo-secrets.json").write_text(json.dumps(secrets))
    call_command("load_reference", str(REFERENCE), stdout=open("/dev/null", "w"))  # noqa: SIM115
    return secrets


def _open_types() -> set[str]:
    return set(
        ExceptionItem.objects.filter(status__in=ExceptionItem.OPEN_STATUSES).values_list(
            "type_code", flat=True
        )
    )


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_ticks_against_a_live_server_bring_every_exception_type_within_minutes(
    demo_secrets, monkeypatch
):
    # Between ticks the events are applied at once here (drain), so a problem that has no item
    # yet is retried on the next tick instead of a minute later.
    monkeypatch.setattr(traffic, "RETRY_SECONDS", 0)
    summaries = []
    for _ in range(30):
        summaries.append(traffic.run_tick())
        drain()
        if _open_types() >= CONTRACT_TYPES:
            break

    assert _open_types() >= CONTRACT_TYPES, f"missing {CONTRACT_TYPES - _open_types()}"
    # 30 ticks are 5 minutes at the default interval; each sends a handful of deliveries.
    assert len(summaries) <= 30
    assert [s["tick"] for s in summaries] == list(range(1, len(summaries) + 1))
    assert all(1 <= s["sent"] <= 12 for s in summaries), summaries
    answers = defaultdict(int)
    for summary in summaries:
        for code, count in summary["answers"].items():
            answers[code] += count
    assert set(answers) == {202, 422}, answers  # signed and accepted; one malformed on purpose

    events = InboundEvent.objects.all()
    assert all(re.fullmatch(r"sim_\d{6}_\d{2}_[a-z_]+", e.webhook_id) for e in events)
    kinds = set(events.values_list("event_type", flat=True))
    assert {
        "psa.time_entry.approved",
        "psa.project.updated",
        "crm.opportunity.closed_won",
        "crm.account.upserted",
    } <= kinds
    assert events.filter(status=InboundEvent.Status.REJECTED).count() >= 1
    assert not events.filter(status__in=["failed", "dead"]).exists()
    _assert_nobody_is_booked_above_capacity()

    status = traffic.status()
    assert status["ticks"] == len(summaries)
    assert status["sent_last_hour"] == events.count()
    assert status["sent_last_hour_by_type"]["psa.time_entry.approved"] >= len(summaries)
    assert status["exception_types_waiting"] == []
    assert status["erp_fault"]  # the ERP refused new customers for a minute (delivery_failed)
    assert Decimal(status["hours_free_this_week"]) > 0

    traffic.stop()
    erp = ExternalSystem.objects.get(slug="erp")
    assert "permanent_operations" not in erp.settings["sandbox"]


def _assert_nobody_is_booked_above_capacity() -> None:
    booked = defaultdict(Decimal)
    for entry in TimeEntry.objects.exclude(status=TimeEntry.Status.RETRACTED):
        booked[(entry.person_email, entry.work_date)] += entry.hours
        assert entry.work_date.weekday() < 5
    capacity = {p.email: p.weekly_capacity_hours / 5 for p in Person.objects.all()}
    over = {key: hours for key, hours in booked.items() if hours > capacity[key[0]]}
    assert booked and not over


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_the_same_tick_number_on_the_same_state_plans_the_same_deliveries(demo_secrets):
    from django.utils import timezone

    now = timezone.now()
    first = traffic.plan_tick(number=7, now=now)
    again = traffic.plan_tick(number=7, now=now)
    other = traffic.plan_tick(number=8, now=now)

    assert [d.event for d in first.deliveries] == [d.event for d in again.deliveries]
    assert [d.event for d in first.deliveries] != [d.event for d in other.deliveries]


# --- the panel and the switch ----------------------------------------------------------------


def _signed_in(username: str, *roles: str) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user(username, *roles))
    return client


def _csrf(client: Client, page: str = "/dashboards/operations/") -> str:
    response = client.get(page)
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.text).group(1)


@pytest.mark.django_db
def test_operations_turns_demo_traffic_on_and_off_from_the_operations_dashboard(systems):
    client = _signed_in("olga", "operations")

    page = client.get("/dashboards/operations/")
    assert page.status_code == 200
    assert "Demo traffic" in page.text and "Turn demo traffic on" in page.text
    assert "Nothing sent yet" in page.text

    response = client.post(
        "/demo/traffic/", {"action": "start", "csrfmiddlewaretoken": _csrf(client)}
    )
    assert response.status_code == 302 and response["Location"] == "/dashboards/operations/"
    assert PeriodicTask.objects.get(name=traffic.TASK_NAME).enabled
    page = client.get("/dashboards/operations/")
    assert "Demo traffic is on" in page.text  # the message
    assert "Turn demo traffic off" in page.text and "every 10 s" in page.text

    client.post("/demo/traffic/", {"action": "stop", "csrfmiddlewaretoken": _csrf(client)})
    assert not PeriodicTask.objects.get(name=traffic.TASK_NAME).enabled
    assert "Turn demo traffic on" in client.get("/dashboards/operations/").text


@pytest.mark.django_db
def test_the_panel_lists_recent_deliveries_in_words(systems):
    from tests.helpers import envelope, post_event, time_entry_data

    body = envelope("psa.time_entry.approved", time_entry_data())
    post_event(Client(), "psa", systems["psa"][1], body, webhook_id="sim_000001_01_time")
    client = _signed_in("olga", "operations")

    page = client.get("/dashboards/operations/").text

    assert "Time approved" in page and "PSA" in page and "psa.time_entry" not in page


@pytest.mark.django_db
def test_the_switch_refuses_finance_without_a_change_and_a_post_without_csrf(systems):
    finance = _signed_in("fiona", "finance")
    token = _csrf(finance, "/dashboards/finance/")

    response = finance.post("/demo/traffic/", {"action": "start", "csrfmiddlewaretoken": token})

    assert response.status_code == 403
    assert finance.get("/dashboards/operations/").status_code == 403  # no panel there for her
    operations = _signed_in("olga", "operations")
    assert operations.post("/demo/traffic/", {"action": "start"}).status_code == 403  # no CSRF
    assert operations.get("/demo/traffic/").status_code == 405
    assert not PeriodicTask.objects.filter(name=traffic.TASK_NAME).exists()
