"""What the PSA would send about the firm: approved time (most of the traffic), retractions and
corrections, project and phase updates, completed milestones, and time with a problem for each
hold of docs/contract.md §5. Each builder adds deliveries to a tick's plan, or returns False when it
finds nothing to act on. Ids the simulator makes up start with ``SIM`` (entries ``SIM-<tick>-<n>``).
"""

import json
from datetime import date
from decimal import ROUND_DOWN, Decimal

from billing.demo.traffic_crm_erp import PILOT_CAP, deal
from billing.demo.traffic_firm import Plan, Planned, is_time_and_materials
from billing.models import Project
from billing.services.rating import find_rate

QUARTER = Decimal("0.25")
HOURS = [Decimal(h) for h in ("0.5", "1", "1.5", "2", "2.5", "3", "4")]
HOUR_WEIGHTS = [8, 14, 10, 14, 8, 10, 6]
NOTES = {
    "delivery": ["Workshop with the client team", "Build and review", "Status call", "Testing"],
    "travel": ["Travel to the client site"],
    "training": ["Product training"],
}
RETRACT_REASONS = ["wrong project", "hours entered twice", "client asked for detail"]
# A role no rate card has a rate for (rate_missing): the PSA's set-up is ahead of the cards.
UNPRICED_ROLE = "subcontractor"


# --- time ---------------------------------------------------------------------------


def _pick_person(plan: Plan, project: Project | None, day: date, hours: Decimal):
    """Someone with room on ``day`` (the project's own entity first), and the hours that fit."""
    people = list(plan.firm.people)
    plan.rng.shuffle(people)
    entity_id = project.contract.legal_entity_id if project else None
    people.sort(key=lambda p: p.legal_entity_id != entity_id)
    for person in people:
        free = plan.firm.free_hours(person, day)
        if free >= Decimal("0.5"):
            return person, min(hours, free).quantize(QUARTER, rounding=ROUND_DOWN)
    return None, None


def _slot(plan: Plan, project: Project | None, hours: Decimal):
    """(person, day, hours) for an entry: today if anyone has room, else an earlier working
    day of the week; None when everyone is booked to capacity."""
    for day in plan.firm.days:
        if project and not project.contract.start_date <= day <= project.contract.end_date:
            continue
        person, fitted = _pick_person(plan, project, day, hours)
        if person:
            return person, day, fitted
    return None


def _approver(plan: Plan) -> str:
    managers = [p.email for p in plan.firm.people if p.role.code == "manager"]
    return managers[0] if managers else "timesheets@psa.example"


def time_entry(
    plan: Plan,
    scenario: str = "time",
    *,
    project: Project | None = None,
    phase_code: str | None = None,
    psa_project_id: str | None = None,
    role: str | None = None,
    bill_rate: str | None = None,
    hours: Decimal | None = None,
) -> bool:
    """``psa.time_entry.approved``: someone's time on an open phase of an active project."""
    rng = plan.rng
    if project is None and psa_project_id is None:
        candidates = [
            p
            for p in plan.firm.open_projects(plan.firm.days[0])
            if p.contract_id not in plan.firm.capped_contract_ids
        ]
        if not candidates:
            return False
        project = rng.choice(candidates)
    slot = _slot(plan, project, hours or rng.choices(HOURS, HOUR_WEIGHTS)[0])
    if slot is None:
        plan.note("everyone is booked to capacity this week")
        return False
    person, day, fitted = slot
    if phase_code is None:
        phases = [ph.code for ph in project.phases.all() if ph.status == ph.Status.OPEN]
        phase_code = rng.choice(phases)
    category = rng.choices(["delivery", "travel", "training"], [90, 6, 4])[0]
    plan.firm.book(person, day, fitted)
    plan.add(
        "psa",
        scenario,
        "psa.time_entry.approved",
        {
            "time_entry_id": f"SIM-{plan.number:06d}-{len(plan.deliveries) + 1:02d}",
            "project_id": psa_project_id or project.psa_project_id,
            "phase_code": phase_code,
            "person_email": person.email,
            "role": role or person.role.code,
            "work_date": day.isoformat(),
            "hours": str(fitted),
            "billable": category != "training" and rng.random() > 0.05,
            "category": category,
            "bill_rate": bill_rate,
            "notes": rng.choice(NOTES[category]),
            "approved_at": plan.stamp,
            "approved_by": _approver(plan),
        },
    )
    return True


def retraction(plan: Plan) -> bool:
    """``psa.time_entry.retracted``: a recent entry sent back for correction."""
    entries = [e for e in plan.firm.recent_entries if e.status != e.Status.INVOICED]
    if not entries:
        return False
    entry = plan.rng.choice(entries)
    plan.firm.recent_entries.remove(entry)
    plan.add(
        "psa",
        "retract",
        "psa.time_entry.retracted",
        {
            "time_entry_id": entry.psa_time_entry_id,
            "reason": plan.rng.choice(RETRACT_REASONS),
            "retracted_at": plan.stamp,
        },
    )
    return True


def correction(plan: Plan) -> bool:
    """A second approval of a recent entry (later ``approved_at``): fewer hours, the PSA's own
    rate dropped (which also clears a rate mismatch it caused)."""
    if not plan.firm.recent_entries:
        return False
    entry = plan.rng.choice(plan.firm.recent_entries)
    plan.firm.recent_entries.remove(entry)
    hours = max(Decimal("0.5"), entry.hours - Decimal("0.5"))
    plan.add(
        "psa",
        "correct",
        "psa.time_entry.approved",
        {
            "time_entry_id": entry.psa_time_entry_id,
            "project_id": entry.psa_project_id,
            "phase_code": entry.phase_code,
            "person_email": entry.person_email,
            "role": entry.role,
            "work_date": entry.work_date.isoformat(),
            "hours": str(hours),
            "billable": entry.is_billable,
            "category": entry.category,
            "bill_rate": None,
            "notes": f"{entry.notes} (corrected)"[:200],
            "approved_at": plan.stamp,
            "approved_by": entry.approved_by or _approver(plan),
        },
    )
    return True


# --- projects and milestones ---------------------------------------------------------


def _project_data(plan: Plan, project: Project, closing: str | None = None) -> dict:
    return {
        "project_id": project.psa_project_id,
        "opportunity_id": project.contract.crm_opportunity_id,
        "status": "active",
        "phases": [
            {
                "code": phase.code,
                "name": phase.name,
                "status": "closed" if phase.code == closing else phase.status,
            }
            for phase in project.phases.all()
        ],
        "updated_at": plan.stamp,
    }


def confirmations(plan: Plan, limit: int = 3) -> int:
    """``psa.project.updated`` for projects the PSA created and has not confirmed yet."""
    for project in plan.firm.unconfirmed[:limit]:
        plan.add("psa", "confirm", "psa.project.updated", _project_data(plan, project))
    return min(limit, len(plan.firm.unconfirmed))


def phase_closing(plan: Plan) -> bool:
    """``psa.project.updated`` closing the first open phase of a project that has another."""
    candidates = [
        p for p in plan.firm.projects if sum(ph.status == "open" for ph in p.phases.all()) >= 2
    ]
    if not candidates:
        return False
    project = plan.rng.choice(candidates)
    first_open = next(ph for ph in project.phases.all() if ph.status == "open")
    plan.add("psa", "phase", "psa.project.updated", _project_data(plan, project, first_open.code))
    first_open.status = "closed"  # later picks of this tick see it closed
    return True


def milestone(plan: Plan) -> bool:
    """``psa.milestone.completed``: the next open milestone of a fixed-fee project."""
    pending = [
        (p, m)
        for p in plan.firm.projects
        for m in p.contract.milestones.all()
        if m.completed_on is None
    ]
    if not pending:
        return False
    project, done = plan.rng.choice(pending)
    done.completed_on = plan.firm.today
    plan.add(
        "psa",
        "milestone",
        "psa.milestone.completed",
        {
            "project_id": project.psa_project_id,
            "milestone_name": done.name,
            "completed_on": plan.firm.today.isoformat(),
        },
    )
    return True


# --- problems ------------------------------------------------------------------------


def rate_mismatch(plan: Plan) -> bool:
    """Time with the PSA's own bill rate, 5 % above the card's."""
    for project in plan.firm.open_projects(plan.firm.days[0]):
        if not is_time_and_materials(project):
            continue
        person = plan.firm.people[0] if plan.firm.people else None
        found = person and find_rate(
            contract=project.contract, role=person.role.code, work_date=plan.firm.days[0]
        )
        if found:
            rate = (found.hourly * Decimal("1.05")).quantize(Decimal("0.01"))
            return time_entry(plan, "rate_mismatch", project=project, bill_rate=str(rate))
    return False


def closed_phase(plan: Plan) -> bool:
    """Time on a closed phase (or one the project does not list)."""
    for project in plan.firm.open_projects(plan.firm.days[0]):
        closed = [ph.code for ph in project.phases.all() if ph.status == "closed"]
        return time_entry(
            plan, "closed_phase", project=project, phase_code=(closed or ["ARCHIVE"])[0]
        )
    return False


def unknown_project(plan: Plan) -> bool:
    """Time on a PSA project Throughline does not know (an internal project, say)."""
    psa_id = f"PSA-INTERNAL-{plan.rng.randint(1, 3)}"
    return time_entry(plan, "unknown_project", psa_project_id=psa_id, phase_code="ADMIN")


def rate_missing(plan: Plan) -> bool:
    """Time by a role no card prices."""
    candidates = [p for p in plan.firm.open_projects(plan.firm.days[0]) if is_time_and_materials(p)]
    if not candidates:
        return False
    return time_entry(plan, "rate_missing", project=plan.rng.choice(candidates), role=UNPRICED_ROLE)


def cap_reached(plan: Plan) -> bool:
    """Two long days on a small capped pilot, past its cap; with no pilot yet, one closes now."""
    pilots = [
        p
        for p in plan.firm.open_projects(plan.firm.days[0])
        if is_time_and_materials(p)
        and p.contract.not_to_exceed is not None
        and p.contract.not_to_exceed <= PILOT_CAP
    ]
    if not pilots:
        return deal(plan, pilot=True)
    project = plan.rng.choice(pilots)
    booked = [time_entry(plan, "not_to_exceed", project=project, hours=Decimal(8)) for _ in "ab"]
    return any(booked)


def malformed(plan: Plan) -> bool:
    """Signed, but hours as a JSON number: the schema refuses it (422, event_rejected)."""
    project = plan.firm.projects[0] if plan.firm.projects else None
    data = {
        "time_entry_id": f"SIM-{plan.number:06d}-BAD",
        "project_id": project.psa_project_id if project else "PSA-UNKNOWN",
        "phase_code": "DISC",
        "person_email": plan.firm.people[0].email if plan.firm.people else "someone@example.com",
        "role": "consultant",
        "work_date": plan.firm.days[0].isoformat(),
        "hours": 7.5,
        "billable": True,
        "category": "delivery",
        "approved_at": plan.stamp,
    }
    event = {"type": "psa.time_entry.approved", "timestamp": plan.stamp, "data": data}
    plan.deliveries.append(
        Planned("psa", "event_rejected", event, raw_body=json.dumps(event).encode())
    )
    return True
