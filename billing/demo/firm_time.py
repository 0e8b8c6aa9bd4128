"""The demo firm's time: who works on which project when, the odd entries a real month has,
the capped project's overrun, and the corrections and retractions (built by ``firm.py``)."""

import random
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from billing.demo import catalogue as c
from billing.demo.common import ID_PREFIX, at, month_add, standard_rate, working_days
from billing.demo.shapes import Entry, Firm, Project

WORK_SHARE = 0.49  # of a consultant's working days booked to a client project (about 4,000 entries)


def _phase_for(project: Project, work_date: date) -> str:
    codes = [p["code"] for p in project.phases]
    if project.deal["billing_model"] != "time_and_materials":
        start, end = (
            date.fromisoformat(project.deal["start_date"]),
            date.fromisoformat(project.deal["end_date"]),
        )
        share = (work_date - start).days / max(1, (end - start).days)
        return codes[min(len(codes) - 1, int(share * len(codes)))]
    if project.kind == "tm_closed_phase":
        return "BUILD"
    start = date.fromisoformat(project.deal["start_date"])
    return "DISC" if work_date < start + timedelta(days=30) else "BUILD"


def _active(project: Project, day: date) -> bool:
    deal = project.deal
    return date.fromisoformat(deal["start_date"]) <= day <= date.fromisoformat(deal["end_date"])


def _assignments(people, projects) -> tuple[dict, dict]:
    """Per person: their main projects (in order of preference) and their weekly days
    (weekday → project: retainers, and a partner's day on the partner-less card)."""
    main: dict[int, list[Project]] = {p["number"]: [] for p in people}
    weekly: dict[int, dict[int, Project]] = {p["number"]: {} for p in people}
    for code, *_ in c.ENTITIES:
        staff = [p for p in people if p["legal_entity"] == code]
        mine = [j for j in projects if j.deal["legal_entity"] == code]
        delivery = [j for j in mine if not j.kind.startswith("ret")]
        retainers = [j for j in mine if j.kind.startswith("ret")]
        if not staff:
            continue
        for k, person in enumerate(staff):
            if delivery:
                main[person["number"]] = [delivery[(k + n) % len(delivery)] for n in range(2)]
        for r, project in enumerate(retainers):
            for m in range(3 if project.kind == "ret_over" else 2):
                person = staff[(r * 3 + m) % len(staff)]
                weekly[person["number"]].setdefault((r + m) % 5, project)
        for project in (j for j in mine if j.kind == "tm_card"):
            partners = [p for p in staff if p["role"] == "partner"] or staff[:1]
            weekly[partners[0]["number"]][4] = project
    return main, weekly


def _entry(rng, person: dict, project: Project, day: date, today: date, phase: str) -> Entry:
    roll = rng.random()
    category, billable = (
        ("travel", True)
        if roll < 0.04
        else (("training", False) if roll < 0.06 else ("delivery", True))
    )
    approved = min(
        datetime.combine(day + timedelta(days=1), time(9, rng.randint(0, 59)), tzinfo=UTC),
        datetime.combine(today, time(0, 0), tzinfo=UTC) - timedelta(minutes=rng.randint(1, 60)),
    )
    data = {
        "time_entry_id": f"TE-{ID_PREFIX}-{person['number']:03d}-{day:%Y%m%d}",
        "phase_code": phase,
        "person_email": person["email"],
        "role": person["role"],
        "work_date": day.isoformat(),
        "hours": rng.choice(c.HOURS),
        "billable": billable,
        "category": category,
        "bill_rate": None,
        "notes": f"{project.deal['name']}: {category}",
        "approved_at": approved.isoformat(),
        "approved_by": f"pmo@{c.DOMAIN}",
    }
    return Entry(data, project.opportunity_id)


def time_entries(rng: random.Random, firm: Firm, people: list[dict]) -> list[Entry]:
    main, weekly = _assignments(people, firm.projects)
    last_month = firm.months[-1]
    entries = []
    for day in working_days(firm.history_start, firm.today - timedelta(days=1)):
        for person in people:
            project = weekly[person["number"]].get(day.weekday())
            if project is None or not _active(project, day) or rng.random() > 0.9:
                candidates = [j for j in main[person["number"]] if _active(j, day)]
                if not candidates or rng.random() > WORK_SHARE:
                    continue
                project = candidates[0]
            entry = _entry(rng, person, project, day, firm.today, _phase_for(project, day))
            # A few people approve the last days of last month only after its billing run.
            entry.late = (
                day >= last_month
                and day.month == last_month.month
                and (day.day > 24 and person["number"] % 7 == 0)
            )
            entries.append(entry)
    _odd_entries(firm, entries, people)
    return entries


def _odd_entries(firm: Firm, entries: list[Entry], people: list[dict]) -> None:
    """Time that produces exceptions: on the closed phase, and on an internal PSA project
    Throughline does not know (rate_missing comes from the partner's days on the card)."""
    closed = next((j for j in firm.projects if j.kind == "tm_closed_phase"), None)
    if closed is not None:
        for entry in [e for e in entries if e.opportunity_id == closed.opportunity_id][:3]:
            entry.data["phase_code"] = "DISC"
            entry.data["notes"] = "discovery notes finished late"
    if len(firm.projects) < len(c.PROJECT_KINDS):
        return
    for n, person in enumerate(people[:3]):
        day = working_days(firm.months[-1], firm.months[-1] + timedelta(days=10))[n]
        entries.append(
            Entry(
                {
                    "time_entry_id": f"TE-{ID_PREFIX}-INT-{n + 1:03d}",
                    "phase_code": "ADMIN",
                    "person_email": person["email"],
                    "role": person["role"],
                    "work_date": day.isoformat(),
                    "hours": "3.00",
                    "billable": True,
                    "category": "delivery",
                    "bill_rate": None,
                    "notes": "internal knowledge base (logged as billable by mistake)",
                    "approved_at": at(day + timedelta(days=1), 11),
                    "approved_by": f"pmo@{c.DOMAIN}",
                },
                None,
                psa_project_id=f"PRJ-{ID_PREFIX}-INTERNAL",
            )
        )


def cap_the_hit_project(firm: Firm) -> None:
    """Set the cap of the ``tm_cap_hit`` project at about 70 % of what its time is worth, so
    billing reaches it mid-history and later time is held as not_to_exceed."""
    for project in (j for j in firm.projects if j.kind == "tm_cap_hit"):
        currency = project.deal["currency"]
        amounts = [
            Decimal(e.data["hours"])
            * standard_rate(
                currency, e.data["role"], date.fromisoformat(e.data["work_date"]), firm.today
            )
            for e in sorted(
                (e for e in firm.entries if e.opportunity_id == project.opportunity_id),
                key=lambda e: e.data["work_date"],
            )
            if e.data["category"] == "delivery"
        ]
        reached = sum(amounts[: int(len(amounts) * 0.7)], Decimal(0))
        project.deal["not_to_exceed"] = str((reached // 1000 * 1000).quantize(Decimal("1.00")))


def corrections(rng: random.Random, firm: Firm) -> None:
    """A few entries retracted or corrected in the PSA: most before their month is billed,
    two after their invoice was posted (a credit line on this month's draft)."""
    eligible = [e for e in firm.entries if e.opportunity_id and not e.late]
    picked = rng.sample(eligible, min(len(eligible), 14)) if len(eligible) > 30 else []
    for n, entry in enumerate(picked):
        posted = n >= 10
        when = max(datetime.fromisoformat(entry.data["approved_at"]), _month_end_dt(entry))
        when = (
            when + timedelta(days=1)
            if not posted
            else datetime.combine(firm.today, time(0, 0), tzinfo=UTC) - timedelta(hours=2 + n)
        )
        if n % 2 == 0:
            retraction = {
                "time_entry_id": entry.time_entry_id,
                "reason": "logged on the wrong project",
                "retracted_at": when.isoformat(),
            }
            (firm.late_retractions if posted else firm.retractions).append(retraction)
        else:
            data = {**entry.data, "hours": str(Decimal(entry.data["hours"]) - Decimal("1.50"))}
            data["approved_at"] = (when + timedelta(hours=1)).isoformat()
            data["notes"] = "corrected: hours over-reported"
            corrected = Entry(data, entry.opportunity_id)
            (firm.late_corrections if posted else firm.corrections).append(corrected)


def _month_end_dt(entry: Entry) -> datetime:
    day = date.fromisoformat(entry.data["work_date"])
    return datetime.combine(
        month_add(day.replace(day=1), 1) - timedelta(days=1), time(18), tzinfo=UTC
    )
