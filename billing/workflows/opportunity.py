"""Opportunity to project: a closed-won deal becomes a customer, a contract and a PSA project.

Steps, each idempotent, in the transaction of the event (or of the finance action that re-runs
the deal after a fix):

1. keep the deal (``OpportunityDeal``: the CRM's data, finance's fixes, the result);
2. validate every rule in one place (``validate_deal``), one message per failed rule;
3. invalid: one ``contract_invalid`` item per opportunity (finance) listing every failure;
4. valid, first time: customer matched or created through the customer master (with its
   duplicate check), contract + project + phases + milestones written, ERP customer and PSA
   project queued (``billing.services.contracts.provision_project``); the PSA's confirmation
   activates the project and publishes ``throughline.project.activated``;
5. valid, contract exists: an amendment (``amend_contract``);
6. an open ``contract_invalid`` item of the opportunity resolves itself.
"""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone

from billing.models import Contract, OpportunityDeal, ProjectTemplate, RateCard
from billing.services.contracts import (
    DealTerms,
    MilestoneTerms,
    amend_contract,
    provision_project,
)
from exceptions_queue.exceptions import ActionRefused
from exceptions_queue.services import raise_exception_item, resolve_items_automatically
from integrations.traces import get_trace_id, record_touched, record_trace_step, use_trace
from mdm.models import Customer, LegalEntity
from mdm.selectors import get_customer_by_crm_account_id
from mdm.services import match_or_create_customer

CONTRACT_INVALID = "contract_invalid"


def subject_key(opportunity_id: str) -> str:
    return f"opportunity:{opportunity_id}"


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


def _decimal(value) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _date(value) -> date | None:
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
    entity = LegalEntity.objects.filter(code=data.get("legal_entity") or "").first()
    template = ProjectTemplate.objects.filter(code=data.get("project_template") or "").first()
    if entity is None or not entity.is_active:
        what = "is inactive" if entity else "does not exist"
        result.fail(
            "legal_entity", "legal_entity", f"Legal entity {data.get('legal_entity')!r} {what}."
        )
        entity = None
    elif not _entity_bills_in(entity, currency):
        result.fail(
            "currency",
            "currency",
            f"Legal entity {entity.code} cannot bill in {currency or 'no currency'}: it bills in "
            f"{entity.currency} and has no standard rate card in {currency}.",
        )
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
    if entity is not None and data.get("tax_jurisdiction") not in (entity.tax_jurisdictions or []):
        result.fail(
            "tax_jurisdiction",
            "tax_jurisdiction",
            f"Tax jurisdiction {data.get('tax_jurisdiction')!r} is not one of {entity.code}'s "
            f"({', '.join(entity.tax_jurisdictions or []) or 'none'}).",
        )
    start, end, amount = (
        _date(data.get("start_date")),
        _date(data.get("end_date")),
        _decimal(data.get("amount")),
    )
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
        _check_amendment(result, data, contract, entity, template, model, currency, milestones)
    if result.failures:
        return result
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


def _entity_bills_in(entity: LegalEntity, currency: str) -> bool:
    """An entity bills in its own currency, and in any other it has a standard card for."""
    return bool(currency) and (
        currency == entity.currency
        or RateCard.objects.filter(
            legal_entity=entity, currency=currency, is_standard=True
        ).exists()
    )


def _check_dates(result: Validation, data: dict, start, end) -> None:
    bad = [name for name, value in (("start_date", start), ("end_date", end)) if value is None]
    if data.get("close_date") and _date(data["close_date"]) is None:
        bad.append("close_date")
    if bad:
        result.fail("dates", bad[0], f"Not a date: {', '.join(bad)}.")
    elif end < start:
        result.fail("dates", "end_date", f"The contract ends ({end}) before it starts ({start}).")


def _check_milestones(result, data, model, amount, start, end) -> tuple[MilestoneTerms, ...]:
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
            amount=_decimal(row.get("amount")) or Decimal("0"),
            due_date=_date(row.get("due_date")) if row.get("due_date") else None,
        )
        for row in rows
    )
    names = [m.name for m in milestones]
    total = sum((m.amount for m in milestones), Decimal("0"))
    problems = []
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


def _check_retainer(result, data, model) -> tuple[Decimal | None, Decimal | None]:
    terms = data.get("retainer")
    if model != Contract.BillingModel.RETAINER:
        if terms:
            result.fail("retainer", "retainer", f"Retainer terms on a {model} deal.")
        return None, None
    monthly = _decimal((terms or {}).get("monthly_amount"))
    hours = _decimal((terms or {}).get("included_hours"))
    if monthly is None or monthly <= 0 or hours is None or hours < 0:
        result.fail(
            "retainer",
            "retainer",
            "A retainer deal needs its terms: a monthly amount above zero and included hours.",
        )
        return None, None
    return monthly, hours


def _check_cap(result, data, model) -> Decimal | None:
    if data.get("not_to_exceed") in (None, ""):
        return None
    cap = _decimal(data["not_to_exceed"])
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


def _check_rate_card(result, data, entity, currency) -> RateCard | None:
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


def _check_amendment(result, data, contract, entity, template, model, currency, milestones) -> None:
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


# ---------------------------------------------------------------------------------------------


def _keep_deal(data: dict, occurred_at) -> OpportunityDeal:
    deal, _created = OpportunityDeal.objects.get_or_create(
        crm_opportunity_id=data["opportunity_id"],
        defaults={"crm_account_id": data["account_id"], "data": data, "trace_id": get_trace_id()},
    )
    deal = OpportunityDeal.objects.select_for_update().get(pk=deal.pk)
    if deal.data != data:
        deal.data, deal.crm_account_id = data, data["account_id"]
        deal.trace_id, deal.last_event_at = get_trace_id() or deal.trace_id, occurred_at
        deal._change_reason = "received from the CRM"
        deal.save()
    return deal


def receive_closed_won(*, data: dict, occurred_at=None) -> OpportunityDeal:
    """Handle ``crm.opportunity.closed_won`` (in the inbox's transaction). Idempotent: the
    same deal again writes nothing new and queues nothing new."""
    deal = _keep_deal(data, occurred_at)
    return run_deal(deal=deal, occurred_at=occurred_at)


def run_deal(
    *, deal: OpportunityDeal, occurred_at=None, resolve_open_item: bool = True, refuse: bool = False
) -> OpportunityDeal:
    """Validate the deal (CRM data + finance's fixes) and act on the result.

    ``refuse``: an invalid deal raises ActionRefused (rolling the caller back) instead of
    raising ``contract_invalid`` (used by the item's own actions). ``resolve_open_item``: a
    valid deal resolves the open item (False when the item's action resolves it itself).
    """
    contract = Contract.objects.filter(crm_opportunity_id=deal.crm_opportunity_id).first()
    data = deal.effective_data
    validation = validate_deal(data, contract=contract)
    if not validation.is_valid:
        if refuse:
            raise ActionRefused(
                "Still invalid: " + " ".join(f["message"] for f in validation.failures),
                failures=validation.failures,
            )
        _record_result(deal, OpportunityDeal.Status.INVALID, validation.failures, contract)
        _raise_invalid(deal, validation.failures, amended=contract is not None)
        return deal
    terms = validation.terms
    if contract is None:
        customer = _customer_for(terms)
        project = provision_project(terms=terms, customer=customer, occurred_at=occurred_at)
        contract = project.contract
        outcome = f"project {project.name} provisioning in the PSA"
    else:
        changed = amend_contract(contract=contract, terms=terms, occurred_at=occurred_at)
        outcome = f"amended: {', '.join(sorted(changed))}" if changed else "no change"
    _record_result(deal, OpportunityDeal.Status.APPLIED, [], contract)
    deal.last_outcome = outcome
    record_trace_step(
        kind="note",
        action="deal_applied",
        summary=f"{deal.crm_opportunity_id}: {outcome}",
        subject=deal,
    )
    if resolve_open_item:
        resolve_items_automatically(
            type_code=CONTRACT_INVALID,
            subject_key=subject_key(deal.crm_opportunity_id),
            note=f"The deal is valid now ({outcome}).",
        )
    return deal


def _customer_for(terms: DealTerms) -> Customer:
    customer, _created = match_or_create_customer(
        crm_account_id=terms.crm_account_id,
        name=terms.account_name or f"CRM account {terms.crm_account_id}",
    )
    return customer


def _record_result(deal, status, failures, contract) -> None:
    if (
        deal.status == status
        and deal.errors == failures
        and deal.contract_id == getattr(contract, "pk", None)
    ):
        return
    deal.status, deal.errors, deal.validated_at = status, failures, timezone.now()
    deal.contract = contract
    deal._change_reason = f"validated: {status}"
    deal.save()
    record_touched(deal, action=status, summary=f"deal {deal.crm_opportunity_id}: {status}")


def _raise_invalid(deal: OpportunityDeal, failures: list[dict], *, amended: bool) -> None:
    data = deal.effective_data
    what = "Amendment refused" if amended else "Deal invalid"
    raise_exception_item(
        type_code=CONTRACT_INVALID,
        subject_key=subject_key(deal.crm_opportunity_id),
        subject_ref=f"{deal.crm_opportunity_id} {data.get('name', '')}".strip(),
        subject=deal,
        summary=f"{what}: {len(failures)} rule(s) failed: "
        + "; ".join(f["message"] for f in failures),
        details={
            "opportunity_id": deal.crm_opportunity_id,
            "account_id": deal.crm_account_id,
            "failures": failures,
            "deal": data,
            "fixed_by_finance": deal.overrides,
        },
        member_key=subject_key(deal.crm_opportunity_id),
        amount=_decimal(data.get("amount")),
        currency=(data.get("currency") or "")[:3],
    )


@transaction.atomic
def rerun_deal(*, opportunity_id: str, fixes: dict | None = None, user=None) -> str:
    """Apply finance's ``fixes`` (field → value; they stay with the opportunity) and run the
    deal again on its own trace. Raises ActionRefused, naming every rule still failing, when it
    is still invalid (nothing is kept). Returns the outcome. Used by the item's actions."""
    deal = OpportunityDeal.objects.select_for_update().get(crm_opportunity_id=opportunity_id)
    with use_trace(deal.trace_id or get_trace_id()):
        if fixes:
            deal.overrides = {**deal.overrides, **fixes}
            deal._change_reason = f"fixed by {getattr(user, 'username', 'finance')}"[:100]
            deal.save()
            record_touched(deal, action="fixed", summary=f"fixed {', '.join(sorted(fixes))}")
        run_deal(deal=deal, resolve_open_item=False, refuse=True)
    return f"Valid now: {deal.last_outcome}."
