"""The demo traffic simulator: keeps a loaded firm alive by posting signed webhooks as its CRM,
PSA and ERP would, so every dashboard, queue and exception type has live content.

Switch: ``start`` / ``stop`` enable or disable a django-celery-beat ``PeriodicTask``
(``demo-traffic``) that runs ``billing.tasks.demo_traffic_tick_task`` every ``interval``
seconds on the real worker; it survives restarts. State lives in existing tables: the periodic
task (on/off, interval), the inbox (every simulated delivery has a webhook id
``sim_<tick>_<n>_<what>``, so ``status`` counts them and the next tick number follows the last),
and the sandbox ERP's settings (a fault the simulator switched on, until when).

A tick reads the firm from the database (``traffic_firm``) and plans a handful of deliveries
with a random seeded by the tick number (``traffic_psa``, ``traffic_crm_erp``): approved time
for today's working day (most of it; nobody above their daily capacity), retractions and
corrections, phase closings, milestones, deals closing and their PSA confirmations, CRM account
and contact changes, ERP invoice status and payments; and, one at a time, a problem for each
exception type that has no open item, including a minute of sandbox ERP trouble
(``traffic_faults``). docs/demo.md, "Traffic simulator", says what a person sees.
"""

import logging
import random
import time
from collections import Counter
from datetime import datetime, timedelta

import requests
from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from billing.demo import traffic_crm_erp as crm_erp
from billing.demo import traffic_psa as psa
from billing.demo.traffic_faults import (
    clear_faults,
    erp_outage,
    erp_refusal,
    fault_mark,
    fault_text,
    sandbox_erp,
    switch_on_fault,
)
from billing.demo.traffic_firm import Plan, free_hours_this_week, load_firm
from billing.models import Project
from exceptions_queue.models import ExceptionItem
from integrations.models import ExternalSystem, InboundEvent
from integrations.webhooks.sender import WebhookSender

logger = logging.getLogger(__name__)

TASK_NAME = "demo-traffic"
TASK = "billing.tasks.demo_traffic_tick_task"
WEBHOOK_PREFIX = "sim_"
MIN_INTERVAL = 1.0  # seconds; beat's own loop wakes every few seconds anyway
# A tick must end well inside the task's 45 s soft limit, even with the web server down.
SEND_TIMEOUT = 5.0  # seconds per delivery
TICK_BUDGET = 20.0  # seconds; what is left unsent waits for the next tick
# A problem that has no open item yet is tried again after this long (its events need a
# moment to be applied).
RETRY_SECONDS = 60
# How often the sandbox ERP goes down on its own (it shows retries and an open breaker).
OUTAGE_EVERY = timedelta(minutes=15)
# Below this many live projects a deal closes on every tick that has none pending.
MIN_PROJECTS = 3

# (scenario, the exception type it raises or None, builder), in the order they are tried.
INCIDENTS = (
    ("event_rejected", "event_rejected", psa.malformed),
    ("unknown_project", "unknown_project", psa.unknown_project),
    ("closed_phase", "closed_phase", psa.closed_phase),
    ("rate_mismatch", "rate_mismatch", psa.rate_mismatch),
    ("rate_missing", "rate_missing", psa.rate_missing),
    ("duplicate_customer", "duplicate_customer", crm_erp.duplicate_account),
    ("ownership_conflict", "ownership_conflict", crm_erp.ownership_conflict),
    ("contract_invalid", "contract_invalid", lambda plan: crm_erp.deal(plan, invalid=True)),
    ("not_to_exceed", "not_to_exceed", psa.cap_reached),
    ("delivery_failed", "delivery_failed", erp_refusal),
    ("erp_outage", None, erp_outage),
)
FAULT_SCENARIOS = {"delivery_failed", "erp_outage"}
# The rest of a tick's traffic besides time: (builder, weight).
OTHERS = (
    (crm_erp.account_update, 3),
    (crm_erp.contact_update, 2),
    (crm_erp.invoice_status, 3),
    (psa.retraction, 1),
    (psa.correction, 1.5),
    (psa.phase_closing, 0.7),
    (psa.milestone, 1),
    (crm_erp.deal, 1),
)


# --- the switch -----------------------------------------------------------------------------


def _periodic_task():
    from django_celery_beat.models import PeriodicTask

    return PeriodicTask.objects.select_related("interval").filter(name=TASK_NAME).first()


@transaction.atomic
def start(interval: float = 10.0) -> dict:
    """Turn the simulator on (create or enable its periodic task, every ``interval`` seconds).
    Idempotent; raises ValueError for an interval under a second. Returns ``status()``."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    interval = float(interval)
    if interval < MIN_INTERVAL:
        raise ValueError(f"interval must be at least {MIN_INTERVAL:g} seconds, not {interval:g}")
    if interval.is_integer():
        every, period = int(interval), IntervalSchedule.SECONDS
    else:
        every, period = round(interval * 1_000_000), IntervalSchedule.MICROSECONDS
    schedule, _ = IntervalSchedule.objects.get_or_create(every=every, period=period)
    PeriodicTask.objects.update_or_create(
        name=TASK_NAME,
        defaults={
            "task": TASK,
            "interval": schedule,
            "enabled": True,
            # A tick not started within one interval is dropped: the next one replaces it.
            "expire_seconds": max(1, round(interval)),
            "description": "Demo traffic simulator: signed webhooks as the CRM, PSA and ERP "
            "would send them (manage.py demo traffic stop, or the operations dashboard).",
        },
    )
    logger.info("demo_traffic.started", extra={"interval": interval})
    return status()


def stop() -> dict:
    """Turn the simulator off: disable its periodic task and switch off any sandbox fault it
    set. Idempotent. Returns ``status()``."""
    from django_celery_beat.models import PeriodicTask

    with transaction.atomic():
        for task in PeriodicTask.objects.select_for_update().filter(name=TASK_NAME, enabled=True):
            task.enabled = False
            task.save()  # save(), not update(): beat learns of the change through its signal
    clear_faults()
    logger.info("demo_traffic.stopped")
    return status()


def is_on() -> bool:
    task = _periodic_task()
    return bool(task and task.enabled)


def interval_seconds(task) -> float | None:
    if task is None or task.interval is None:
        return None
    return task.interval.schedule.run_every.total_seconds()


# --- status ---------------------------------------------------------------------------------


def simulated_events():
    return InboundEvent.objects.filter(webhook_id__startswith=WEBHOOK_PREFIX)


def parse_webhook_id(webhook_id: str) -> tuple[int, str]:
    """``sim_000042_03_time`` → (42, "time")."""
    _, number, _, scenario = webhook_id.split("_", 3)
    return int(number), scenario


def status(*, now: datetime | None = None) -> dict:
    """What the simulator is doing: on or off, interval, last tick, ticks so far, deliveries
    of the last hour by event type, answers refused, a sandbox fault it holds, which exception
    types have open items, live projects and the hours still free to book. Reads only."""
    now = now or timezone.now()
    task = _periodic_task()
    last = simulated_events().order_by("-id").only("webhook_id", "received_at").first()
    hour = simulated_events().filter(received_at__gte=now - timedelta(hours=1))
    by_type = dict(hour.values_list("event_type").annotate(n=Count("id")).order_by("event_type"))
    open_types = set(
        ExceptionItem.objects.filter(status__in=ExceptionItem.OPEN_STATUSES)
        .values_list("type_code", flat=True)
        .distinct()
    )
    wanted = [code for _, code, _ in INCIDENTS if code]
    return {
        "state": "on" if task and task.enabled else "off",
        "interval_seconds": interval_seconds(task),
        "last_tick_at": last.received_at.isoformat() if last else None,
        "ticks": parse_webhook_id(last.webhook_id)[0] if last else 0,
        "beat_runs": task.total_run_count if task else 0,
        "sent_last_hour": sum(by_type.values()),
        "sent_last_hour_by_type": by_type,
        "refused_last_hour": hour.filter(status=InboundEvent.Status.REJECTED).count(),
        "erp_fault": fault_text(now=now),
        "exception_types_open": f"{len(open_types & set(wanted))} of {len(wanted)}",
        "exception_types_waiting": [code for code in wanted if code not in open_types],
        "live_projects": Project.objects.filter(
            status=Project.Status.ACTIVE, psa_project_id__isnull=False
        ).count(),
        # Time is booked up to capacity: once this is 0 the CRM and ERP carry the traffic.
        "hours_free_this_week": str(free_hours_this_week(timezone.localdate(now))),
    }


# --- a tick ---------------------------------------------------------------------------------


def next_tick_number() -> int:
    last = simulated_events().order_by("-id").values_list("webhook_id", flat=True).first()
    return parse_webhook_id(last)[0] + 1 if last else 1


def _recent_scenarios(now: datetime) -> set[str]:
    ids = simulated_events().filter(received_at__gte=now - timedelta(seconds=RETRY_SECONDS))
    return {parse_webhook_id(w)[1] for w in ids.values_list("webhook_id", flat=True)}


def _due_incidents(now: datetime, recent: set[str]) -> list[tuple]:
    """Problems to show now: each exception type without an open item that was not tried in
    the last minute, and an ERP outage when the last is a while ago; none while a fault holds."""
    open_types = set(
        ExceptionItem.objects.filter(status__in=ExceptionItem.OPEN_STATUSES)
        .values_list("type_code", flat=True)
        .distinct()
    )
    erp = sandbox_erp()
    mark = fault_mark(erp)
    due = []
    for incident in INCIDENTS:
        scenario, code, _ = incident
        if scenario in FAULT_SCENARIOS:
            last = parse_datetime((mark.get("last") or {}).get(scenario) or "")
            if erp is None or mark.get("active"):
                continue
            if code is None and last and now - last < OUTAGE_EVERY:
                continue
        if code and (code in open_types or scenario in recent):
            continue
        due.append(incident)
    return due


def plan_tick(*, number: int, now: datetime) -> Plan:
    """What tick ``number`` sends, from the database as it is and a random seeded by
    ``number`` (the same state and number give the same plan). Reads only."""
    rng = random.Random(f"demo-traffic:{number}")
    plan = Plan(number=number, now=now, rng=rng, firm=load_firm(timezone.localdate(now)))
    recent = _recent_scenarios(now)
    pending = Project.objects.filter(status=Project.Status.PROVISIONING).count()
    if len(plan.firm.projects) + pending < MIN_PROJECTS and "deal" not in recent:
        crm_erp.deal(plan)
    psa.confirmations(plan)
    booked = sum(psa.time_entry(plan) for _ in range(rng.choice([2, 3, 3, 4])))
    builders, weights = zip(*OTHERS, strict=True)
    # With everyone booked to capacity, the CRM and the ERP carry the traffic.
    for _ in range(rng.choice([1, 1, 2]) if booked else 3):
        for builder in rng.choices(builders, weights, k=3):  # the next when one finds nothing
            if builder(plan):
                break
    for scenario, _code, builder in _due_incidents(now, recent):
        if builder(plan):
            plan.notes.append(f"problem: {scenario}")
            break
    return plan


def run_tick(*, number: int | None = None, now: datetime | None = None, sender=None) -> dict:
    """One tick: clear an expired fault, plan, switch on a planned fault, post the deliveries
    signed as their systems (secrets of ``var/demo-secrets.json``). Returns a summary: the tick
    number, deliveries sent, the answers' status codes, notes. Stops at the first delivery the
    server does not answer (it is down: the next tick tries again)."""
    now = now or timezone.now()
    clear_faults(now=now)
    number = number or next_tick_number()
    plan = plan_tick(number=number, now=now)
    if plan.fault:
        switch_on_fault(plan.fault, now=now)
    slugs = _system_slugs()
    own_sender = sender is None
    sender = sender or WebhookSender(timeout=SEND_TIMEOUT)
    answers: Counter = Counter()
    started = time.monotonic()
    try:
        for seq, item in enumerate(plan.deliveries, 1):
            if time.monotonic() - started > TICK_BUDGET:
                plan.notes.append("out of time: the rest waits for the next tick")
                break
            webhook_id = f"{WEBHOOK_PREFIX}{number:06d}_{seq:02d}_{item.scenario}"
            try:
                delivery = sender.send(
                    slugs[item.system], item.event, webhook_id=webhook_id, raw_body=item.raw_body
                )
            except requests.RequestException as exc:
                logger.warning("demo_traffic.unreachable", extra={"error": str(exc)[:200]})
                plan.notes.append(f"Throughline did not answer: {type(exc).__name__}")
                break
            answers[delivery.status_code] += 1
    finally:
        if own_sender:
            sender.close()
    summary = {
        "tick": number,
        "planned": len(plan.deliveries),
        "sent": sum(answers.values()),
        "answers": dict(sorted(answers.items())),
        "notes": plan.notes,
    }
    logger.info("demo_traffic.tick", extra=summary)
    return summary


def _system_slugs() -> dict[str, str]:
    """kind → slug of the system each delivery is posted as (the demo's are crm, psa, erp)."""
    slugs = {}
    for system in ExternalSystem.objects.filter(is_active=True).order_by("-slug"):
        slugs[system.kind] = system.slug
    return slugs


def run_scheduled_tick() -> dict:
    """The periodic task's body: a tick while the simulator is on; when it was turned off
    after this tick was queued, only its fault is switched off."""
    if not is_on():
        clear_faults()
        return {"tick": None, "notes": ["the simulator is off"]}
    return run_tick()
