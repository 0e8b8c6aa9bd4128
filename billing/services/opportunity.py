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

from datetime import datetime
from typing import Any, Protocol, cast

from django.db import transaction
from django.utils import timezone

from billing.models import Contract, OpportunityDeal
from billing.services.contracts import DealTerms, amend_contract, provision_project
from billing.services.deal_rules import decimal_or_none, validate_deal
from billing.services.history import set_change_reason
from config.roles import MaybeUser
from exceptions_queue.errors import ActionRefused
from exceptions_queue.services import raise_exception_item, resolve_items_automatically
from integrations.services.traces import get_trace_id, record_touched, record_trace_step, use_trace
from mdm.models import Customer
from mdm.services import match_or_create_customer

CONTRACT_INVALID = "contract_invalid"


class _Applied(Protocol):
    """A deal ``run_deal`` applied carries its outcome (not a field: for ``rerun_deal``)."""

    last_outcome: str


def subject_key(opportunity_id: str) -> str:
    return f"opportunity:{opportunity_id}"


def _keep_deal(data: dict[str, Any], occurred_at: datetime | None) -> OpportunityDeal:
    deal, _created = OpportunityDeal.objects.get_or_create(
        crm_opportunity_id=data["opportunity_id"],
        defaults={"crm_account_id": data["account_id"], "data": data, "trace_id": get_trace_id()},
    )
    deal = OpportunityDeal.objects.select_for_update().get(pk=deal.pk)
    if deal.data != data:
        deal.data, deal.crm_account_id = data, data["account_id"]
        deal.trace_id, deal.last_event_at = get_trace_id() or deal.trace_id, occurred_at
        set_change_reason(deal, "received from the CRM")
        deal.save()
    return deal


def receive_closed_won(
    *, data: dict[str, Any], occurred_at: datetime | None = None
) -> OpportunityDeal:
    """Handle ``crm.opportunity.closed_won`` (in the inbox's transaction). Idempotent: the
    same deal again writes nothing new and queues nothing new."""
    deal = _keep_deal(data, occurred_at)
    return run_deal(deal=deal, occurred_at=occurred_at)


def run_deal(
    *,
    deal: OpportunityDeal,
    occurred_at: datetime | None = None,
    resolve_open_item: bool = True,
    refuse: bool = False,
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
    assert terms is not None  # a valid validation carries the terms (validate_deal)
    if contract is None:
        customer = _customer_for(terms)
        project = provision_project(terms=terms, customer=customer, occurred_at=occurred_at)
        contract = project.contract
        outcome = f"project {project.name} provisioning in the PSA"
    else:
        changed = amend_contract(contract=contract, terms=terms, occurred_at=occurred_at)
        outcome = f"amended: {', '.join(sorted(changed))}" if changed else "no change"
    _record_result(deal, OpportunityDeal.Status.APPLIED, [], contract)
    cast(_Applied, deal).last_outcome = outcome
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


def _record_result(
    deal: OpportunityDeal, status: str, failures: list[dict], contract: Contract | None
) -> None:
    if (
        deal.status == status
        and deal.errors == failures
        and deal.contract_id == getattr(contract, "pk", None)
    ):
        return
    deal.status, deal.errors, deal.validated_at = status, failures, timezone.now()
    deal.contract = contract
    set_change_reason(deal, f"validated: {status}")
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
        amount=decimal_or_none(data.get("amount")),
        currency=(data.get("currency") or "")[:3],
    )


@transaction.atomic
def rerun_deal(
    *, opportunity_id: str, fixes: dict[str, Any] | None = None, user: MaybeUser = None
) -> str:
    """Apply finance's ``fixes`` (field → value; they stay with the opportunity) and run the
    deal again on its own trace. Raises ActionRefused, naming every rule still failing, when it
    is still invalid (nothing is kept). Returns the outcome. Used by the item's actions."""
    deal = OpportunityDeal.objects.select_for_update().get(crm_opportunity_id=opportunity_id)
    with use_trace(deal.trace_id or get_trace_id()):
        if fixes:
            deal.overrides = {**deal.overrides, **fixes}
            set_change_reason(deal, f"fixed by {getattr(user, 'username', 'finance')}"[:100])
            deal.save()
            record_touched(deal, action="fixed", summary=f"fixed {', '.join(sorted(fixes))}")
        run_deal(deal=deal, resolve_open_item=False, refuse=True)
    return f"Valid now: {cast(_Applied, deal).last_outcome}."
