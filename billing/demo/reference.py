"""The demo firm's reference file (docs/contract.md §4 ``load_reference`` format)."""

from datetime import date, timedelta
from decimal import Decimal

from billing.demo import catalogue as c
from billing.demo.common import (
    account_id,
    client_card_code,
    month_add,
    rate_change_on,
    standard_rate,
)


def reference_data(*, firm, people: list[dict], accounts: list[dict]) -> dict:
    """Entities, roles, tax and FX rates, people, rate cards (each standard card with a second,
    higher version from three months ago), templates and client billing rules."""
    first_version = month_add(firm.history_start, -6)
    cards = _standard_cards(firm, first_version)
    known = {a["account_id"] for a in accounts}
    cards += _client_cards(firm, known, first_version)
    return {
        "legal_entities": [
            {
                "code": code,
                "name": name,
                "country": country,
                "currency": currency,
                "tax_jurisdictions": list(jurisdictions),
            }
            for code, name, country, currency, jurisdictions, _share in c.ENTITIES
        ],
        "roles": [{"code": code, "name": name} for code, name in c.ROLES],
        "tax_rates": [
            {"jurisdiction": j, "rate": rate, "valid_from": c.TAX_RATES_FROM}
            for j, rate in c.TAX_RATES
        ],
        "fx_rates": _fx_rates(firm),
        "people": [
            {k: p[k] for k in ("email", "name", "role", "legal_entity", "cost_rate")}
            | {"weekly_capacity_hours": p["weekly_capacity_hours"]}
            for p in people
        ],
        "rate_cards": cards,
        "project_templates": [
            {
                "code": code,
                "name": name,
                "billing_models": models,
                "phases": [{"code": p, "name": n} for p, n in phases],
            }
            for code, name, models, phases in c.TEMPLATES
        ],
        "billing_rules": [
            {
                "client_account_id": _account(index),
                "rounding_increment_hours": increment,
                "rounding": rounding,
                "non_billable_categories": categories,
                "invoice_grouping": grouping,
            }
            for index, increment, rounding, categories, grouping in c.BILLING_RULES
            if _account(index) in known
        ],
        "event_subscriptions": [
            {"system": "crm", "event_type": "throughline.project.activated"},
            {"system": "erp", "event_type": "throughline.project.activated"},
        ],
    }


def _standard_cards(firm, first_version: date) -> list[dict]:
    """Each entity's standard card: a first version, and a higher one from the rate change."""
    change = rate_change_on(firm.today)
    return [
        {
            "code": f"{code}-STD",
            "name": f"{name} standard rates",
            "legal_entity": code,
            "currency": currency,
            "client_account_id": None,
            "standard": True,
            "versions": [
                {
                    "valid_from": day.isoformat(),
                    "valid_to": None,
                    "rates": [
                        {
                            "role": role,
                            "hourly": str(standard_rate(currency, role, day, firm.today)),
                        }
                        for role, _ in c.ROLES
                    ],
                }
                for day in (first_version, change)
            ],
        }
        for code, name, _country, currency, *_ in c.ENTITIES
    ]


def _account(index: int) -> str:
    return account_id(index)


def _client_cards(firm, known: set[str], valid_from: date) -> list[dict]:
    cards = []
    for index, roles, discount in c.CLIENT_CARDS:
        if _account(index) not in known:
            continue
        _name, _site, _industry, country, _j = c.CLIENTS[index]
        code, _n, _c, currency, *_ = next(e for e in c.ENTITIES if e[2] == country)
        cards.append(
            {
                "code": client_card_code(index),
                "name": f"{c.CLIENTS[index][0]} negotiated rates",
                "legal_entity": code,
                "currency": currency,
                "client_account_id": _account(index),
                "standard": False,
                "versions": [
                    {
                        "valid_from": valid_from.isoformat(),
                        "valid_to": None,
                        "rates": [
                            {
                                "role": role,
                                "hourly": str(
                                    (
                                        standard_rate(currency, role, valid_from, firm.today)
                                        * discount
                                    ).quantize(Decimal("1.00"))
                                ),
                            }
                            for role in roles
                        ],
                    }
                ],
            }
        )
    return cards


def _fx_rates(firm) -> list[dict]:
    """Mid-month rates to USD for the history (the 15th: the example file uses the 1st)."""
    rows = []
    for n, month in enumerate([month_start - timedelta(days=0) for month_start in firm.months]):
        for currency, base in c.FX_TO_USD.items():
            drift = Decimal(n % 3 - 1) / 100
            rows.append(
                {
                    "from": currency,
                    "to": "USD",
                    "rate": str((base + drift).quantize(Decimal("0.0001"))),
                    "date": month.replace(day=15).isoformat(),
                }
            )
    return rows
