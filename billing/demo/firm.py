"""The demo firm as data: what its CRM, PSA and ERP would send, and its reference file.

``build_firm(today, scale)`` is pure (no database): a seeded ``random.Random`` draws the same
firm on every machine, with every date relative to ``today``. ``loader.py`` sends it.
"""

import random
from datetime import date, timedelta
from decimal import Decimal

from billing.demo import catalogue as c
from billing.demo.common import (
    ID_PREFIX,
    account_id,
    at,
    client_card_code,
    month_add,
)
from billing.demo.firm_time import cap_the_hit_project, corrections, time_entries
from billing.demo.reference import reference_data
from billing.demo.shapes import FULL, Entry, Firm, Project, Scale

SEED = 20261  # the firm's seed: change it and every machine gets another (same) firm


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
    firm.entries = time_entries(rng, firm, people)
    cap_the_hit_project(firm)
    corrections(rng, firm)
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


__all__ = ["FULL", "Entry", "Firm", "Project", "Scale", "build_firm"]
