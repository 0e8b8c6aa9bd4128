"""Loading reference data (docs/contract.md §4 ``load_reference``): upsert by code, all or nothing.

A row is saved only when one of its values differs from what is stored, so a second run of the
same file writes nothing (no history rows either). A bad row raises ReferenceRowInvalid naming
its section, number and code, and the caller's transaction keeps nothing. Nothing is deleted:
a row missing from the file stays as it is.
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, TypedDict

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import transaction

from billing.models import (
    BillingRule,
    Contract,
    EventSubscription,
    FxRate,
    Person,
    ProjectTemplate,
    Rate,
    RateCard,
    RateCardVersion,
    Role,
    TaxRate,
    TemplatePhase,
    TimeEntry,
)
from billing.services.contracts import rate_card_changed
from billing.services.upsert import upsert
from config.errors import DomainError
from integrations.models import ExternalSystem
from mdm.models import LegalEntity
from mdm.services import load_legal_entities

# Sections in the order they are loaded (later ones refer to earlier ones by code).
SECTIONS = (
    "legal_entities",
    "roles",
    "tax_rates",
    "fx_rates",
    "people",
    "rate_cards",
    "project_templates",
    "billing_rules",
    "event_subscriptions",  # Throughline's extension: who hears throughline.* events
)
_ROW_ERRORS = (KeyError, ValueError, TypeError, InvalidOperation, ValidationError)


class ReferenceFileInvalid(DomainError):
    code = "reference_file_invalid"


class ReferenceRowInvalid(DomainError):
    code = "reference_row_invalid"


@dataclass
class LoadResult:
    """Per section: rows created, updated, unchanged."""

    counts: dict[str, Counter] = field(default_factory=dict)

    def add(self, section: str, outcome: str) -> None:
        self.counts.setdefault(section, Counter())[outcome] += 1

    @property
    def changed(self) -> int:
        return sum(c["created"] + c["updated"] for c in self.counts.values())


def _decimal(value: Any, name: str) -> Decimal:
    if isinstance(value, float):
        raise ValueError(f'{name} must be a decimal string such as "150.00", not a number')
    return Decimal(str(value))


def _date(value: Any, name: str) -> date:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a date YYYY-MM-DD")
    return date.fromisoformat(value)


def _entity(code: str) -> LegalEntity:
    try:
        return LegalEntity.objects.get(code=code)
    except LegalEntity.DoesNotExist as exc:
        raise ValueError(f"unknown legal entity {code!r}") from exc


def _role(code: str) -> Role:
    try:
        return Role.objects.get(code=code)
    except Role.DoesNotExist as exc:
        raise ValueError(f"unknown role {code!r}") from exc


def load_legal_entity_rows(rows: list[dict], result: LoadResult) -> None:
    """Legal entities are the customer master's (mdm.LegalEntity): upserted through mdm."""
    for row in rows:
        if not isinstance(row, dict) or "code" not in row:
            raise ValueError("each legal entity needs a code")
    before = {e.code: e.pk for e in LegalEntity.objects.filter(code__in=[r["code"] for r in rows])}
    changed_codes = _changed_entity_codes(rows)
    load_legal_entities(rows=rows)
    for row in rows:
        if row["code"] not in before:
            result.add("legal_entities", "created")
        elif row["code"] in changed_codes:
            result.add("legal_entities", "updated")
        else:
            result.add("legal_entities", "unchanged")


def _changed_entity_codes(rows: list[dict]) -> set[str]:
    stored = {e.code: e for e in LegalEntity.objects.filter(code__in=[r["code"] for r in rows])}
    changed = set()
    for row in rows:
        entity = stored.get(row["code"])
        if entity is None:
            continue
        if any(getattr(entity, k) != v for k, v in row.items() if k != "code"):
            changed.add(row["code"])
    return changed


def _load_role(row: dict) -> str:
    return upsert(Role, lookup={"code": row["code"]}, values={"name": row["name"]})[1]


def _load_tax_rate(row: dict) -> str:
    return upsert(
        TaxRate,
        lookup={
            "jurisdiction": row["jurisdiction"],
            "valid_from": _date(row["valid_from"], "valid_from"),
        },
        values={"rate": _decimal(row["rate"], "rate")},
    )[1]


def _load_fx_rate(row: dict) -> str:
    return upsert(
        FxRate,
        lookup={
            "from_currency": row["from"],
            "to_currency": row["to"],
            "date": _date(row["date"], "date"),
        },
        values={"rate": _decimal(row["rate"], "rate")},
    )[1]


def _load_person(row: dict) -> str:
    values = {
        "name": row["name"],
        "role": _role(row["role"]),
        "legal_entity": _entity(row["legal_entity"]),
        "cost_rate": _decimal(row["cost_rate"], "cost_rate"),
    }
    if row.get("weekly_capacity_hours") is not None:
        values["weekly_capacity_hours"] = _decimal(
            row["weekly_capacity_hours"], "weekly_capacity_hours"
        )
    return upsert(Person, lookup={"email": row["email"]}, values=values)[1]


def _load_template(row: dict) -> str:
    models_ = row["billing_models"]
    unknown = set(models_) - set(Contract.BillingModel.values)
    if not models_ or unknown:
        raise ValueError(f"billing_models must list some of {Contract.BillingModel.values}")
    template, outcome = upsert(
        ProjectTemplate,
        lookup={"code": row["code"]},
        values={"name": row["name"], "billing_models": list(models_)},
    )
    for position, phase in enumerate(row.get("phases") or []):
        _row, phase_outcome = upsert(
            TemplatePhase,
            lookup={"template": template, "code": phase["code"]},
            values={"name": phase["name"], "position": position},
        )
        if outcome == "unchanged" and phase_outcome != "unchanged":
            outcome = "updated"
    return outcome


def _load_billing_rule(row: dict) -> str:
    increment = row.get("rounding_increment_hours")
    values = {
        "rounding_increment_hours": None
        if increment in (None, "")
        else _decimal(increment, "rounding_increment_hours"),
        "rounding": row.get("rounding") or BillingRule.Rounding.UP,
        "non_billable_categories": list(row.get("non_billable_categories") or []),
    }
    if row.get("invoice_grouping"):
        values["invoice_grouping"] = row["invoice_grouping"]
    return upsert(
        BillingRule, lookup={"client_account_id": row["client_account_id"]}, values=values
    )[1]


def _load_subscription(row: dict) -> str:
    try:
        system = ExternalSystem.objects.get(slug=row["system"])
    except ExternalSystem.DoesNotExist as exc:
        raise ValueError(f"unknown system {row['system']!r}") from exc
    return upsert(
        EventSubscription,
        lookup={"system": system, "event_type": row["event_type"]},
        values={"is_active": bool(row.get("is_active", True))},
    )[1]


def _load_rate_card(row: dict) -> str:
    card, outcome = upsert(
        RateCard,
        lookup={"code": row["code"]},
        values={
            "name": row.get("name") or "",
            "legal_entity": _entity(row["legal_entity"]),
            "currency": row["currency"],
            "client_account_id": row.get("client_account_id") or "",
            "is_standard": bool(row.get("standard", False)),
        },
    )
    changed = load_rate_card_versions(card=card, versions=row.get("versions") or [])
    if changed or outcome == "created":
        rate_card_changed.send(sender=RateCard, card=card)
    return "updated" if outcome == "unchanged" and changed else outcome


class _Version(TypedDict):
    valid_to: date | None
    rates: dict[str, Decimal]  # role code → hourly


def load_rate_card_versions(*, card: RateCard, versions: list[dict]) -> int:
    """Upsert ``versions`` of ``card`` by ``valid_from`` and their rates by role; returns rows
    changed. An open-ended version followed by a later one is closed the day before it starts
    (a new version closes the previous one); an explicit ``valid_to`` that overlaps the next
    version raises ValueError. The rates of a version that already rated time cannot change
    (add a new version instead). Idempotent."""
    wanted: dict[date, _Version] = {}
    for given in versions:
        start = _date(given["valid_from"], "valid_from")
        if start in wanted:
            raise ValueError(f"two versions start on {start}")
        end = given.get("valid_to")
        wanted[start] = {
            "valid_to": _date(end, "valid_to") if end else None,
            "rates": {r["role"]: _decimal(r["hourly"], "hourly") for r in given.get("rates", [])},
        }
    stored = {v.valid_from: v for v in card.versions.all()}
    ends = {start: v.valid_to for start, v in stored.items()}
    ends.update({start: w["valid_to"] for start, w in wanted.items()})
    starts = sorted(ends)
    for start, following in zip(starts, starts[1:], strict=False):
        until = ends[start]
        if until is None:
            ends[start] = following - timedelta(days=1)
        elif until >= following:
            raise ValueError(f"the version from {start} ends {until}, after {following}")
    changed = 0
    for start in starts:
        version, outcome = upsert(
            RateCardVersion,
            lookup={"card": card, "valid_from": start},
            values={"valid_to": ends[start]},
        )
        changed += outcome != "unchanged"
        for role_code, hourly in (wanted[start]["rates"] if start in wanted else {}).items():
            role = _role(role_code)
            current = version.rates.filter(role=role).first()
            if current is not None and current.hourly != hourly and _has_rated_time(version):
                raise ValueError(
                    f"version from {start} already rated time: add a new version to change "
                    f"the {role_code} rate"
                )
            _rate, rate_outcome = upsert(
                Rate, lookup={"version": version, "role": role}, values={"hourly": hourly}
            )
            changed += rate_outcome != "unchanged"
    return changed


def _has_rated_time(version: RateCardVersion) -> bool:
    return TimeEntry.objects.filter(rate_card_version=version).exists()


_LOADERS = {
    "roles": (_load_role, "code"),
    "tax_rates": (_load_tax_rate, "jurisdiction"),
    "fx_rates": (_load_fx_rate, "from"),
    "people": (_load_person, "email"),
    "rate_cards": (_load_rate_card, "code"),
    "project_templates": (_load_template, "code"),
    "billing_rules": (_load_billing_rule, "client_account_id"),
    "event_subscriptions": (_load_subscription, "event_type"),
}


def _describe(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]!r}"
    if isinstance(exc, ValidationError):
        return (
            "; ".join(
                f"{name}: {' '.join(errors)}" if name != "__all__" else " ".join(errors)
                for name, errors in exc.message_dict.items()
            )
            if hasattr(exc, "error_dict")
            else " ".join(exc.messages)
        )
    return str(exc)


@transaction.atomic
def load_reference_data(*, data: dict) -> LoadResult:
    """Load a reference file's sections (docs/contract.md §4) in one transaction.

    Raises ReferenceFileInvalid for an unknown section or a section that is not a list, and
    ReferenceRowInvalid ("rate_cards row 2 (US-STD): unknown legal entity 'XX01'") for a bad
    row; either way nothing is kept. Idempotent: a second run changes nothing.
    """
    if not isinstance(data, dict):
        raise ReferenceFileInvalid("the file must hold a JSON object of sections")
    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        raise ReferenceFileInvalid(f"unknown sections: {', '.join(unknown)}; known: {SECTIONS}")
    result = LoadResult()
    for section in SECTIONS:
        rows = data.get(section) or []
        if not isinstance(rows, list):
            raise ReferenceFileInvalid(f"{section} must be a list of rows")
        if section == "legal_entities":
            _load_section_entities(rows, result)
            continue
        loader, key = _LOADERS[section]
        for number, row in enumerate(rows, start=1):
            try:
                if not isinstance(row, dict):
                    raise ValueError("a row must be an object")
                result.add(section, loader(row))
            except (*_ROW_ERRORS, ObjectDoesNotExist) as exc:
                code = row.get(key, "?") if isinstance(row, dict) else "?"
                raise ReferenceRowInvalid(
                    f"{section} row {number} ({code}): {_describe(exc)}",
                    section=section,
                    row=number,
                ) from exc
    return result


def _load_section_entities(rows: list, result: LoadResult) -> None:
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, dict) or not row.get("code"):
            raise ReferenceRowInvalid(
                f"legal_entities row {number} (?): missing field 'code'",
                section="legal_entities",
                row=number,
            )
        if not isinstance(row.get("tax_jurisdictions", []), list):
            raise ReferenceRowInvalid(
                f"legal_entities row {number} ({row['code']}): tax_jurisdictions must be a list",
                section="legal_entities",
                row=number,
            )
    try:
        load_legal_entity_rows(rows, result)
    except _ROW_ERRORS as exc:
        raise ReferenceRowInvalid(_describe(exc), section="legal_entities") from exc
