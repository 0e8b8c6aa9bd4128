"""The rules a closed-won deal must pass (docs/billing-projects.md "Validation rules").

``validate_deal`` checks them all in one place and returns every failure, one message per failed
rule, or the deal's terms with their references resolved. It only reads.
"""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from billing.models import Contract, ProjectTemplate, RateCard
from billing.services.contracts import DealTerms, MilestoneTerms
from mdm.models import Customer, LegalEntity
from mdm.selectors import get_customer_by_crm_account_id


@dataclass
class Validation:
    """The outcome of validating a deal: its terms when every rule passed, else the failures."""

    failures: list[dict] = field(default_factory=list)
    terms: DealTerms | None = None

    def fail(self, rule: str, field_name: str, message: str) -> None:
        self.failures.append({"rule": rule, "field": field_name, "message": message})

    @property
    def is_valid(self) -> bool:
        return not self.failures


def decimal_or_none(value: object) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _date(value: object) -> date | None:
    try:
        return date.fromisoformat(str(value))
    except (TypeError, ValueError):
        return None


def validate_deal(data: dict, *, contract: Contract | None = None) -> Validation:
    """Check every rule of a closed-won deal (docs/billing-projects.md lists them) and return
    all failures, or the resolved terms. ``contract``: the opportunity's existing contract (the
    deal is then an amendment). Reads only; never raises for bad data."""
    result = Validation()
    model = data.get("billing_model") or ""
    currency = (data.get("currency") or "").upper()
    entity = _check_entity(result, data, currency)
    template = _check_template(result, data, model)
    start, end = _date(data.get("start_date")), _date(data.get("end_date"))
    amount = decimal_or_none(data.get("amount"))
    _check_dates(result, data, start, end)
    if amount is None or amount < 0:
        result.fail(
            "amount", "amount", f"Amount {data.get('amount')!r} is not a non-negative decimal."
        )
    milestones = _check_milestones(result, data, model, amount, start, end)
    retainer = _check_retainer(result, data, model)
    cap = _check_cap(result, data, model)
    _check_customer(result, data)
    card = _check_rate_card(result, data, entity, currency)
    if contract is not None:
        _check_amendment(result, data, contract, model, currency, milestones)
    if result.failures:
        return result
    # Every rule passed, so each of these was found (a missing one is a failure above).
    assert entity is not None and template is not None and amount is not None
    assert start is not None and end is not None
    result.terms = DealTerms(
        crm_opportunity_id=data["opportunity_id"],
        crm_account_id=data["account_id"],
        account_name=(data.get("account_name") or "").strip(),
        name=data.get("name") or data["opportunity_id"],
        close_date=_date(data.get("close_date")) or start,
        amount=amount,
        currency=currency,
        legal_entity=entity,
        billing_model=model,
        start_date=start,
        end_date=end,
        tax_jurisdiction=data["tax_jurisdiction"],
        template=template,
        rate_card=card,
        not_to_exceed=cap,
        po_number=data.get("po_number") or "",
        payment_terms=data.get("payment_terms") or "",
        milestones=milestones,
        retainer_monthly_amount=retainer[0],
        retainer_included_hours=retainer[1],
    )
    return result


def _check_entity(result: Validation, data: dict, currency: str) -> LegalEntity | None:
    """The entity exists, is active, bills in the currency and invoices in the jurisdiction."""
    entity = LegalEntity.objects.filter(code=data.get("legal_entity") or "").first()
    if entity is None or not entity.is_active:
        what = "is inactive" if entity else "does not exist"
        result.fail(
            "legal_entity", "legal_entity", f"Legal entity {data.get('legal_entity')!r} {what}."
        )
        return None
    if not _entity_bills_in(entity, currency):
        result.fail(
            "currency",
            "currency",
            f"Legal entity {entity.code} cannot bill in {currency or 'no currency'}: it bills in "
            f"{entity.currency} and has no standard rate card in {currency}.",
        )
    if data.get("tax_jurisdiction") not in (entity.tax_jurisdictions or []):
        result.fail(
            "tax_jurisdiction",
            "tax_jurisdiction",
            f"Tax jurisdiction {data.get('tax_jurisdiction')!r} is not one of {entity.code}'s "
            f"({', '.join(entity.tax_jurisdictions or []) or 'none'}).",
        )
    return entity


def _check_template(result: Validation, data: dict, model: str) -> ProjectTemplate | None:
    """The billing model is known, the template exists and fits the billing model."""
    template = ProjectTemplate.objects.filter(code=data.get("project_template") or "").first()
    if model not in Contract.BillingModel.values:
        result.fail("billing_model", "billing_model", f"Billing model {model!r} is unknown.")
    if template is None:
        result.fail(
            "project_template",
            "project_template",
            f"Project template {data.get('project_template')!r} does not exist.",
        )
    elif model in Contract.BillingModel.values and model not in template.billing_models:
        result.fail(
            "billing_model",
            "billing_model",
            f"Template {template.code} is for {', '.join(template.billing_models)}, not {model}.",
        )
    return template


def _entity_bills_in(entity: LegalEntity, currency: str) -> bool:
    """An entity bills in its own currency, and in any other it has a standard card for."""
    return bool(currency) and (
        currency == entity.currency
        or RateCard.objects.filter(
            legal_entity=entity, currency=currency, is_standard=True
        ).exists()
    )


def _check_dates(result: Validation, data: dict, start: date | None, end: date | None) -> None:
    bad = [name for name, value in (("start_date", start), ("end_date", end)) if value is None]
    if data.get("close_date") and _date(data["close_date"]) is None:
        bad.append("close_date")
    if bad:
        result.fail("dates", bad[0], f"Not a date: {', '.join(bad)}.")
    elif start is not None and end is not None and end < start:  # both are dates here
        result.fail("dates", "end_date", f"The contract ends ({end}) before it starts ({start}).")


def _check_milestones(
    result: Validation,
    data: dict,
    model: str,
    amount: Decimal | None,
    start: date | None,
    end: date | None,
) -> tuple[MilestoneTerms, ...]:
    rows = data.get("milestones") or []
    if model != Contract.BillingModel.FIXED_FEE:
        if rows:
            result.fail(
                "milestones",
                "milestones",
                f"Only fixed-fee contracts bill milestones; this {model} deal lists {len(rows)}.",
            )
        return ()
    if not rows:
        result.fail("milestones", "milestones", "A fixed-fee deal needs its milestones.")
        return ()
    milestones = tuple(
        MilestoneTerms(
            name=(row.get("name") or "").strip(),
            amount=decimal_or_none(row.get("amount")) or Decimal("0"),
            due_date=_date(row.get("due_date")) if row.get("due_date") else None,
        )
        for row in rows
    )
    names = [m.name for m in milestones]
    total = sum((m.amount for m in milestones), Decimal("0"))
    problems: list[str] = []
    if "" in names or len(set(names)) != len(names):
        problems.append("each milestone needs its own name")
    if any(m.amount <= 0 for m in milestones):
        problems.append("each milestone needs an amount above zero")
    if amount is not None and total != amount:
        problems.append(f"they sum to {total}, not the deal's amount {amount}")
    if start and end and any(m.due_date and not start <= m.due_date <= end for m in milestones):
        problems.append(f"a due date falls outside {start}..{end}")
    if problems:
        result.fail("milestones", "milestones", "Milestones: " + "; ".join(problems) + ".")
    return milestones


def _check_retainer(
    result: Validation, data: dict, model: str
) -> tuple[Decimal | None, Decimal | None]:
    terms = data.get("retainer")
    if model != Contract.BillingModel.RETAINER:
        if terms:
            result.fail("retainer", "retainer", f"Retainer terms on a {model} deal.")
        return None, None
    monthly = decimal_or_none((terms or {}).get("monthly_amount"))
    hours = decimal_or_none((terms or {}).get("included_hours"))
    if monthly is None or monthly <= 0 or hours is None or hours < 0:
        result.fail(
            "retainer",
            "retainer",
            "A retainer deal needs its terms: a monthly amount above zero and included hours.",
        )
        return None, None
    return monthly, hours


def _check_cap(result: Validation, data: dict, model: str) -> Decimal | None:
    if data.get("not_to_exceed") in (None, ""):
        return None
    cap = decimal_or_none(data["not_to_exceed"])
    if model != Contract.BillingModel.TIME_AND_MATERIALS:
        result.fail(
            "not_to_exceed",
            "not_to_exceed",
            f"Only time-and-materials contracts have a cap ({model}).",
        )
    elif cap is None or cap <= 0:
        result.fail("not_to_exceed", "not_to_exceed", "The not-to-exceed cap must be above zero.")
    return cap


def _check_customer(result: Validation, data: dict) -> None:
    customer = get_customer_by_crm_account_id(data.get("account_id") or "")
    if customer is not None and customer.status != Customer.Status.ACTIVE:
        result.fail(
            "customer",
            "account_id",
            f"Customer {customer.throughline_id} {customer.name} is {customer.status} in the "
            "customer master.",
        )


def _check_rate_card(
    result: Validation, data: dict, entity: LegalEntity | None, currency: str
) -> RateCard | None:
    code = data.get("rate_card")
    if not code:
        if (
            entity is not None
            and currency
            and not RateCard.objects.filter(
                legal_entity=entity, currency=currency, is_standard=True
            ).exists()
        ):
            result.fail(
                "rate_card",
                "rate_card",
                f"No rate card is named and {entity.code} has no standard card in {currency}.",
            )
        return None
    card = RateCard.objects.select_related("legal_entity").filter(code=code).first()
    if card is None:
        result.fail("rate_card", "rate_card", f"Rate card {code!r} does not exist.")
    elif entity is not None and card.legal_entity_id != entity.pk:
        result.fail(
            "rate_card",
            "rate_card",
            f"Rate card {code} belongs to {card.legal_entity.code}, not {entity.code}.",
        )
    elif card.currency != currency:
        result.fail(
            "rate_card", "rate_card", f"Rate card {code} is in {card.currency}, not {currency}."
        )
    elif card.client_account_id and card.client_account_id != data.get("account_id"):
        result.fail("rate_card", "rate_card", f"Rate card {code} is another client's card.")
    return card


def _check_amendment(
    result: Validation,
    data: dict,
    contract: Contract,
    model: str,
    currency: str,
    milestones: tuple[MilestoneTerms, ...],
) -> None:
    was = {
        "legal_entity": contract.legal_entity.code,
        "currency": contract.currency,
        "billing_model": contract.billing_model,
        "project_template": contract.project.template.code,
        "account_id": contract.crm_account_id,
    }
    now = {
        "legal_entity": data.get("legal_entity"),
        "currency": currency,
        "billing_model": model,
        "project_template": data.get("project_template"),
        "account_id": data.get("account_id"),
    }
    for name, old in was.items():
        if now[name] != old:
            result.fail(
                "amendment",
                name,
                f"An amendment cannot change {name} ({old} → {now[name]}): it decides who bills "
                "whom in which ledger; close this contract and win a new opportunity.",
            )
    wanted = {m.name: m for m in milestones}
    for done in contract.milestones.filter(completed_on__isnull=False):
        if done.name not in wanted or wanted[done.name].amount != done.amount:
            result.fail(
                "milestones",
                "milestones",
                f"Milestone {done.name!r} was completed on {done.completed_on}: it cannot be "
                "removed or re-priced by an amendment.",
            )
