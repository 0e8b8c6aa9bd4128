"""Sandbox ERP faults the demo traffic simulator switches on for a minute, and off again: an
outage (every call fails and is retried; the breaker opens) and refused new customers (their
ERP record is dead-lettered: ``delivery_failed``). What it set is kept in the system's settings
under ``demo_traffic`` so that only its own fault is switched off, never one a person set.
"""

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from billing.demo.traffic_crm_erp import deal
from billing.demo.traffic_firm import Plan
from billing.demo.traffic_psa import time_entry
from integrations.models import ExternalSystem

logger = logging.getLogger(__name__)

FAULT_KEY = "demo_traffic"  # in the sandbox ERP's settings: what the simulator switched on


def sandbox_erp() -> ExternalSystem | None:
    return (
        ExternalSystem.objects.filter(
            kind="erp", is_active=True, connector=ExternalSystem.Connector.SANDBOX
        )
        .order_by("slug")
        .first()
    )


def fault_mark(system: ExternalSystem | None) -> dict:
    return dict(((system.settings or {}).get(FAULT_KEY) or {}) if system else {})


def fault_text(*, now: datetime | None = None) -> str | None:
    """The fault the simulator holds on the sandbox ERP, in words, or None."""
    active = fault_mark(sandbox_erp()).get("active")
    if not active:
        return None
    until = parse_datetime(active["until"])
    what = "down" if active.get("outage") else "refusing new customers"
    return f"sandbox ERP {what} until {timezone.localtime(until):%H:%M:%S}"


@transaction.atomic
def switch_on_fault(fault: dict, *, now: datetime) -> bool:
    """Set a fault on the sandbox ERP for ``fault["minutes"]``: an outage (every call fails,
    retried) or permanently refused operations. False when there is no sandbox ERP, or the
    simulator holds a fault already. ``clear_faults`` takes it off again."""
    system = sandbox_erp()
    if system is None:
        return False
    system = ExternalSystem.objects.select_for_update().get(pk=system.pk)
    mark = fault_mark(system)
    if mark.get("active"):
        return False
    sandbox = dict((system.settings or {}).get("sandbox", {}))
    until = now + timedelta(minutes=fault["minutes"])
    active = {"until": until.isoformat(), "outage": bool(fault.get("outage")), "added": []}
    if active["outage"]:
        sandbox["outage_until"] = until.isoformat()
    operations = list(sandbox.get("permanent_operations") or [])
    for operation in fault.get("permanent_operations", []):
        if operation not in operations:
            operations.append(operation)
            active["added"].append(operation)
    if operations:
        sandbox["permanent_operations"] = operations
    mark["active"] = active
    mark.setdefault("last", {})[fault["scenario"]] = now.isoformat()
    reason = f"demo traffic: {fault['scenario']} until {until:%H:%M}"
    _save_settings(system, sandbox, mark, reason=reason)
    return True


@transaction.atomic
def clear_faults(*, now: datetime | None = None) -> bool:
    """Switch off the fault the simulator set on the sandbox ERP: all of it, or (with ``now``)
    only once its time is up. Faults a person set are left as they are. True when cleared."""
    system = sandbox_erp()
    active = fault_mark(system).get("active")
    if not active or (now is not None and parse_datetime(active["until"]) > now):
        return False
    system = ExternalSystem.objects.select_for_update().get(pk=system.pk)
    mark = fault_mark(system)
    active = mark.pop("active", None) or {}
    sandbox = dict((system.settings or {}).get("sandbox", {}))
    if active.get("outage") and sandbox.get("outage_until") == active.get("until"):
        sandbox.pop("outage_until")
    remaining = [
        op for op in sandbox.get("permanent_operations") or [] if op not in active.get("added", [])
    ]
    if remaining:
        sandbox["permanent_operations"] = remaining
    else:
        sandbox.pop("permanent_operations", None)
    _save_settings(system, sandbox, mark, reason="demo traffic: fault switched off")
    return True


def _save_settings(system: ExternalSystem, sandbox: dict, mark: dict, *, reason: str) -> None:
    system.settings = {**(system.settings or {}), "sandbox": sandbox, FAULT_KEY: mark}
    system._change_reason = reason
    system.save(update_fields=["settings", "updated_at"])
    logger.info("demo_traffic.fault", extra={"system": system.slug, "reason": reason})


# --- the problems that need a fault ---------------------------------------------------


def erp_refusal(plan: Plan) -> bool:
    """The sandbox ERP refuses new customers for a minute while a deal closes: its customer's
    ERP record is dead-lettered (delivery_failed, operations queue; replay it afterwards)."""
    plan.fault = {
        "scenario": "delivery_failed",
        "permanent_operations": ["erp.customer.upsert"],
        "minutes": 1,
    }
    return deal(plan, scenario="delivery_failed")


def erp_outage(plan: Plan) -> bool:
    """The sandbox ERP is down for a minute: its calls are retried and its breaker opens."""
    plan.fault = {"scenario": "erp_outage", "outage": True, "minutes": 1}
    return time_entry(plan, "erp_outage")
