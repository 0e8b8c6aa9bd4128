"""The demo firm as data: what its CRM, PSA and ERP would send, and its reference file.

``build_firm(today, scale)`` is pure (no database): a seeded ``random.Random`` draws the same
firm on every machine, with every date relative to ``today``. ``loader.py`` sends it.
"""

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from billing.demo import catalogue as c
from billing.demo.common import (
    ID_PREFIX,
    account_id,
    at,
    client_card_code,
    month_add,
    standard_rate,
    working_days,
)
from billing.demo.reference import reference_data

SEED = 20261  # the firm's seed: change it and every machine gets another (same) firm

WORK_SHARE = 0.49  # of a consultant's working days booked to a client project (about 4,000 entries)


@dataclass(frozen=True)
class Scale:
    """How much of the firm to build (a test loads a slice)."""

    clients: int = len(c.CLIENTS) + len(c.NEAR_DUPLICATES)
    projects: int = len(c.PROJECT_KINDS)
    months: int = 6  # full months of history before the current one
    consultants: int = 60


FULL = Scale()


@dataclass(frozen=True)
class Project:
    """A closed-won deal and what its PSA project does."""

    kind: str  # a catalogue.PROJECT_KINDS value
    deal: dict  # crm.opportunity.closed_won data
    phases: tuple[dict, ...]  # as the PSA confirms them (psa.project.updated)
    closed_on: date | None = None  # the PSA closes the project then (after its time)
    completions: tuple[tuple[str, date], ...] = ()  # milestones completed: (name, day)

    @property
    def opportunity_id(self) -> str:
        return self.deal["opportunity_id"]


@dataclass
class Entry:
    """An approved PSA time entry; ``opportunity_id`` names its project (the PSA id is the
    sandbox PSA's, known once Throughline created the project), else ``psa_project_id``."""

    data: dict  # psa.time_entry.approved data without project_id
    opportunity_id: str | None
    psa_project_id: str | None = None
    late: bool = False  # approved after the month's billing run: stays unbilled

    @property
    def time_entry_id(self) -> str:
        return self.data["time_entry_id"]


@dataclass
class Firm:
    today: date
    months: list[date]  # first days of the billed months, oldest first
    reference: dict
    accounts: list[dict]
    contacts: list[dict]
    projects: list[Project]
    entries: list[Entry]
    retractions: list[dict] = field(default_factory=list)  # before the billing runs
    corrections: list[Entry] = field(default_factory=list)  # before the billing runs
    late_retractions: list[dict] = field(default_factory=list)  # of posted entries
    late_corrections: list[Entry] = field(default_factory=list)  # of posted entries

    @property
    def history_start(self) -> date:
        return self.months[0]


def build_firm(today: date, scale: Scale = FULL) -> Firm:
    """The firm as of ``today`` (deterministic for a given day and scale)."""
    rng = random.Random(SEED)
    first = month_add(today.replace(day=1), -scale.months)
    months = [month_add(first, n) for n in range(scale.months)]
    people = _people(rng, scale)
    accounts, contacts = _accounts(rng, scale, first)
    projects = _projects(rng, scale, accounts, first, today)
    firm = Firm(
        today=today,
        months=months,
        reference={},
        accounts=accounts,
        contacts=contacts,
        projects=projects,
        entries=[],
    )
    firm.entries = _entries(rng, firm, people)
    _cap_the_hit_project(firm)
    _corrections(rng, firm)
    firm.reference = reference_data(firm=firm, people=people, accounts=accounts)
    return firm


def _people(rng: random.Random, scale: Scale) -> list[dict]:
    counts = [int(share * scale.consultants) for *_, share in c.ENTITIES]
    counts[0] += scale.consultants - sum(counts)
    people, used = [], set()
    number = 0
    for (code, _name, _country, currency, *_), count in zip(c.ENTITIES, counts, strict=True):
        for index in range(count):
            first, last = rng.choice(c.FIRST_NAMES), rng.choice(c.LAST_NAMES)
            email = f"{first}.{last}".lower()
            while email in used:
                email += str(rng.randint(1, 9))
            used.add(email)
            role = c.ROLE_MIX[index % len(c.ROLE_MIX)]
            number += 1
            people.append(
                {
                    "number": number,
                    "email": f"{email}@{c.DOMAIN}",
                    "name": f"{first} {last}",
                    "role": role,
                    "legal_entity": code,
                    "currency": currency,
                    "cost_rate": str(
                        (Decimal(c.STANDARD_RATES[currency][role]) * c.COST_SHARE).quantize(
                            Decimal("1.00")
                        )
                    ),
                    "weekly_capacity_hours": rng.choice(c.CAPACITIES),
                }
            )
    return people


def _client_rows(scale: Scale) -> list[tuple[int, str, str, str, str, str]]:
    """(index, name, website, industry, country, jurisdiction): the clients, then the second
    accounts of near-duplicates (index of the client they duplicate + 100)."""
    base = min(scale.clients, len(c.CLIENTS))
    rows = [(i, *c.CLIENTS[i]) for i in range(base)]
    for original, name in c.NEAR_DUPLICATES[: max(0, scale.clients - base)]:
        if original < base:
            rows.append((100 + original, name, *c.CLIENTS[original][1:]))
    return rows


def _accounts(rng: random.Random, scale: Scale, first: date) -> tuple[list[dict], list[dict]]:
    accounts, contacts = [], []
    for index, name, website, industry, country, jurisdiction in _client_rows(scale):
        updated = first - timedelta(days=200 - index % 100)
        accounts.append(
            {
                "account_id": account_id(index),
                "name": name,
                "website": f"https://www.{website}",
                "industry": industry,
                "phone": f"+{rng.randint(10, 49)} {rng.randint(100, 999)} {rng.randint(1000, 9999)}",
                "parent_account_id": None,
                "owner_email": f"sales@{c.DOMAIN}",
                "billing_country": country,
                "updated_at": at(updated, 9),
                "_jurisdiction": jurisdiction,  # the loader drops keys starting with "_"
            }
        )
        for number in range(2 if index < 100 else 1):
            first_name, last_name = rng.choice(c.FIRST_NAMES), rng.choice(c.LAST_NAMES)
            contacts.append(
                {
                    "contact_id": f"003{ID_PREFIX}{index:06d}{number:02d}",
                    "account_id": account_id(index),
                    "first_name": first_name,
                    "last_name": last_name,
                    "email": f"{first_name}.{last_name}@{website}".lower(),
                    "phone": f"+{rng.randint(10, 49)} {rng.randint(1000000, 9999999)}",
                    "title": rng.choice(c.CONTACT_TITLES),
                    "is_billing_contact": number == 0,
                    "updated_at": at(updated + timedelta(days=1), 10, number),
                }
            )
    return accounts, contacts


def _entity_of(country: str) -> tuple:
    return next(e for e in c.ENTITIES if e[2] == country)


def _projects(rng: random.Random, scale: Scale, accounts, first: date, today: date):
    clients = [a for a in accounts if int(a["account_id"][-8:]) < 100]
    projects = []
    for number, kind in enumerate(c.PROJECT_KINDS[: scale.projects], start=1):
        account = clients[(number - 1) % len(clients)]
        if kind == "tm_card":  # the client with the partner-less card
            account = next((a for a in clients if a["account_id"] == account_id(0)), account)
        projects.append(_project(rng, number, kind, account, first, today))
    return projects


def _term(rng: random.Random, kind: str, first: date, today: date) -> tuple[date, date]:
    if kind == "tm_ended":
        return first - timedelta(days=rng.randint(30, 60)), month_add(today.replace(day=1), -2)
    if kind in ("tm_cap_hit", "tm_card", "tm_closed_phase") or rng.random() < 0.65:
        start = first - timedelta(days=rng.randint(10, 120))
    else:
        start = first + timedelta(days=rng.randint(20, max(21, (today - first).days - 45)))
    return start, today + timedelta(days=rng.randint(60, 240))


def _project(rng, number: int, kind: str, account: dict, first: date, today: date) -> Project:
    code, _name, _country, currency, *_ = _entity_of(account["billing_country"])
    model = {"ff": "fixed_fee", "re": "retainer"}.get(kind[:2], "time_and_materials")
    template = {"fixed_fee": c.TEMPLATES[1], "retainer": c.TEMPLATES[2]}.get(model, c.TEMPLATES[0])
    start, end = _term(rng, kind, first, today)
    name = f"{account['name'].split()[0]} {c.PROJECT_WORDS[number % len(c.PROJECT_WORDS)]}"
    amount = Decimal(rng.randint(8, 40) * 10_000)
    deal = {
        "opportunity_id": f"006{ID_PREFIX}{number:08d}",
        "account_id": account["account_id"],
        "account_name": account["name"],
        "name": name,
        "close_date": (start - timedelta(days=rng.randint(5, 30))).isoformat(),
        "amount": f"{amount:.2f}",
        "currency": currency,
        "legal_entity": code,
        "billing_model": model,
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        "tax_jurisdiction": account["_jurisdiction"],
        "project_template": template[0],
        "rate_card": client_card_code(0) if kind == "tm_card" else None,
        "not_to_exceed": f"{amount * 2:.2f}" if kind == "tm_cap" else None,
        "po_number": f"PO-{rng.randint(10000, 99999)}" if rng.random() < 0.5 else None,
        "payment_terms": rng.choice(("NET30", "NET30", "NET45", "NET14")),
        "milestones": [],
        "retainer": None,
    }
    completions = ()
    if model == "fixed_fee":
        deal["milestones"], completions = _milestones(rng, amount, start, end, today)
    if model == "retainer":
        monthly = Decimal(rng.randint(6, 18) * 1000)
        deal["amount"] = str(monthly * 12)
        included = "40.00" if kind == "ret_over" else "160.00"
        deal["retainer"] = {"monthly_amount": str(monthly), "included_hours": included}
    phases = tuple(
        {
            "code": p,
            "name": n,
            "status": "closed" if (kind, p) == ("tm_closed_phase", "DISC") else "open",
        }
        for p, n in template[3]
    )
    closed_on = end + timedelta(days=3) if kind == "tm_ended" else None
    return Project(kind, deal, phases, closed_on, completions)


def _milestones(rng, amount: Decimal, start: date, end: date, today: date):
    rows, completions, left = [], [], amount
    term = (end - start).days
    for position, (name, share, due_share) in enumerate(c.MILESTONES):
        part = (
            left
            if position == len(c.MILESTONES) - 1
            else (amount * Decimal(share)).quantize(Decimal("1.00"))
        )
        left -= part
        due = start + timedelta(days=int(term * Decimal(due_share)))
        rows.append({"name": name, "amount": str(part), "due_date": due.isoformat()})
        done = min(due + timedelta(days=rng.randint(0, 6)), end)
        if done < today:
            completions.append((name, done))
    return rows, tuple(completions)


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


def _entries(rng: random.Random, firm: Firm, people: list[dict]) -> list[Entry]:
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


def _cap_the_hit_project(firm: Firm) -> None:
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


def _corrections(rng: random.Random, firm: Firm) -> None:
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
