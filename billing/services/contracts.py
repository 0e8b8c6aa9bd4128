"""Writes of contracts and projects: provisioning from a valid deal, amendments, PSA status.

Signals for other parts of billing (issue 8 connects to them; all are sent synchronously
inside the transaction that made the change, so a receiver's writes commit or roll back with
it, and a failing receiver fails the change, which is then retried like any handler error):

- ``contract_amended(sender=Contract, contract, changed)``: a later closed-won changed the
  terms; ``changed`` maps field name → (old, new), e.g. ``{"not_to_exceed": (Decimal("10000.00"),
  Decimal("15000.00"))}`` (re-run entries held for ``not_to_exceed`` when the cap rose, re-check
  dates, rate card).
- ``project_activated(sender=Project, project)``: the PSA confirmed the project (it has its
  ``psa_project_id`` now): time held as ``unknown_project`` for it can be re-run.
- ``phase_reopened(sender=Phase, phase)`` and ``project_reopened(sender=Project, project)``:
  a closed phase is open again, or a closed/on-hold project is active again (re-run entries
  held as ``closed_phase``).
- ``phase_added(sender=Phase, phase)``: the PSA listed a new phase (entries held because
  their phase was not listed can be re-run).
"""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import models, transaction
from django.db.models import Max
from django.dispatch import Signal

from billing.models import (
    Contract,
    Milestone,
    Phase,
    Project,
    ProjectTemplate,
    RateCard,
)
from billing.services.history import set_change_reason, set_history_user
from billing.services.project_messages import (
    PROJECT_ACTIVATED,
    link_psa_project,
    project_event_data,
    publish_event,
    queue_erp_customer,
    queue_psa_project,
)
from config.money import amount_text
from config.roles import MaybeUser
from integrations.models import ExternalSystem
from integrations.services.traces import get_trace_id, record_touched
from mdm.models import Customer, LegalEntity

contract_amended = Signal()
project_activated = Signal()
phase_reopened = Signal()
project_reopened = Signal()
phase_added = Signal()
rate_card_changed = Signal()  # card=: versions or rates were added or changed

# Terms a later closed-won may change (an amendment). The others (entity, currency, billing
# model, template, account) decide who bills whom in which ledger: they need a new deal.
AMENDABLE = (
    "name",
    "amount",
    "close_date",
    "start_date",
    "end_date",
    "not_to_exceed",
    "po_number",
    "payment_terms",
    "tax_jurisdiction",
    "rate_card",
    "retainer_monthly_amount",
    "retainer_included_hours",
)
IMMUTABLE = ("legal_entity", "currency", "billing_model", "template", "crm_account_id")


@dataclass(frozen=True)
class MilestoneTerms:
    name: str
    amount: Decimal
    due_date: date | None


@dataclass(frozen=True)
class DealTerms:
    """A closed-won deal that passed validation, with its references resolved."""

    crm_opportunity_id: str
    crm_account_id: str
    account_name: str
    name: str
    close_date: date
    amount: Decimal
    currency: str
    legal_entity: LegalEntity
    billing_model: str
    start_date: date
    end_date: date
    tax_jurisdiction: str
    template: ProjectTemplate
    rate_card: RateCard | None
    not_to_exceed: Decimal | None
    po_number: str
    payment_terms: str
    milestones: tuple[MilestoneTerms, ...]
    retainer_monthly_amount: Decimal | None
    retainer_included_hours: Decimal | None

    def contract_values(self) -> dict[str, Any]:
        return {
            "name": self.name[:200],
            "amount": self.amount,
            "close_date": self.close_date,
            "start_date": self.start_date,
            "end_date": self.end_date,
            "not_to_exceed": self.not_to_exceed,
            "po_number": self.po_number,
            "payment_terms": self.payment_terms,
            "tax_jurisdiction": self.tax_jurisdiction,
            "rate_card": self.rate_card,
            "retainer_monthly_amount": self.retainer_monthly_amount,
            "retainer_included_hours": self.retainer_included_hours,
        }


def save_record(obj: models.Model, *, action: str, reason: str) -> None:
    """Validate and save with a history reason and a step on the current trace."""
    set_change_reason(obj, reason[:100])
    obj.full_clean()
    obj.save()
    record_touched(obj, action=action, summary=f"{obj._meta.verbose_name} {obj}: {reason}"[:300])


@transaction.atomic
def provision_project(
    *, terms: DealTerms, customer: Customer, occurred_at: datetime | None = None
) -> Project:
    """Write the contract, its project (``provisioning``), the template's phases and the
    milestones, and queue the ERP customer and the PSA project. Idempotent per opportunity:
    an opportunity that has a contract returns its project and writes nothing."""
    existing = Project.objects.filter(contract__crm_opportunity_id=terms.crm_opportunity_id)
    if existing.exists():
        return existing.get()
    trace_id = get_trace_id()
    contract = Contract(
        crm_opportunity_id=terms.crm_opportunity_id,
        crm_account_id=terms.crm_account_id,
        customer=customer,
        legal_entity=terms.legal_entity,
        billing_model=terms.billing_model,
        currency=terms.currency,
        last_event_at=occurred_at,
        trace_id=trace_id,
        **terms.contract_values(),
    )
    save_record(contract, action="created", reason=f"closed-won {terms.crm_opportunity_id}")
    project = Project(
        contract=contract,
        customer=customer,
        template=terms.template,
        name=terms.name[:200],
        trace_id=trace_id,
    )
    save_record(project, action="created", reason="provisioning in the PSA")
    for position, template_phase in enumerate(terms.template.phases.all()):
        Phase.objects.create(
            project=project, code=template_phase.code, name=template_phase.name, position=position
        )
    for milestone in terms.milestones:
        Milestone.objects.create(
            contract=contract,
            name=milestone.name,
            amount=milestone.amount,
            due_date=milestone.due_date,
        )
    queue_erp_customer(contract=contract)
    queue_psa_project(project=project)
    return project


@transaction.atomic
def amend_contract(
    *, contract: Contract, terms: DealTerms, occurred_at: datetime | None = None
) -> dict[str, Any]:
    """Apply a later closed-won's terms to its contract; returns {field: (old, new)} of what
    changed (empty: nothing written). Milestones not yet completed follow the deal (added,
    re-priced, re-dated or removed). Sends ``contract_amended`` when anything changed."""
    contract = Contract.objects.select_for_update().get(pk=contract.pk)
    changed = {
        name: (getattr(contract, name), value)
        for name, value in terms.contract_values().items()
        if getattr(contract, name) != value
    }
    milestone_changes = _sync_milestones(contract, terms.milestones)
    if milestone_changes:
        changed["milestones"] = milestone_changes
    if not changed:
        return {}
    for name, (_old, new) in changed.items():
        if name != "milestones":
            setattr(contract, name, new)
    contract.amendment_count += 1
    contract.last_event_at = occurred_at or contract.last_event_at
    save_record(contract, action="amended", reason=f"amended: {', '.join(sorted(changed))}")
    contract_amended.send(sender=Contract, contract=contract, changed=changed)
    return changed


def _sync_milestones(contract: Contract, wanted: tuple[MilestoneTerms, ...]) -> tuple:
    """(old, new) lists of (name, amount, due) when the open milestones differ, else ()."""
    stored = {m.name: m for m in contract.milestones.all()}
    before = sorted(
        (m.name, amount_text(m.amount, contract.currency), str(m.due_date)) for m in stored.values()
    )
    names = {m.name for m in wanted}
    for gone in stored.values():
        if gone.name not in names and gone.completed_on is None:
            set_change_reason(gone, "removed by an amendment")
            gone.delete()
    for terms in wanted:
        milestone = stored.get(terms.name)
        if milestone is None:
            Milestone.objects.create(
                contract=contract, name=terms.name, amount=terms.amount, due_date=terms.due_date
            )
        elif milestone.completed_on is None and (
            milestone.amount != terms.amount or milestone.due_date != terms.due_date
        ):
            milestone.amount, milestone.due_date = terms.amount, terms.due_date
            save_record(milestone, action="amended", reason="amended deal")
    after = sorted(
        (m.name, amount_text(m.amount, contract.currency), str(m.due_date))
        for m in contract.milestones.all()
    )
    return (before, after) if before != after else ()


@transaction.atomic
def activate_project(*, project_id: int, psa_project_id: str, system: ExternalSystem) -> Project:
    """The PSA created the project: keep its id (and an ExternalRef), make it active and
    publish ``throughline.project.activated``. Idempotent (publication keyed per project)."""
    project = Project.objects.select_for_update().select_related("contract").get(pk=project_id)
    changed = []
    if not project.psa_project_id and psa_project_id:
        project.psa_project_id = psa_project_id
        changed.append("psa_project_id")
    if project.status == Project.Status.PROVISIONING:
        project.status = Project.Status.ACTIVE
        changed.append("status")
    if changed:
        save_record(project, action="activated", reason=f"PSA project {project.psa_project_id}")
    if project.psa_project_id:
        link_psa_project(system=system, external_id=project.psa_project_id, project=project)
    publish_event(
        event_type=PROJECT_ACTIVATED,
        payload=project_event_data(project),
        key=f"project:{project.pk}",
    )
    if changed:
        project_activated.send(sender=Project, project=project)
    return project


def next_phase_position(project: Project) -> int:
    top = project.phases.aggregate(top=Max("position"))["top"]
    return 0 if top is None else top + 1


@transaction.atomic
def edit_contract_terms(
    *, contract_id: int, values: dict[str, Any], user: MaybeUser = None
) -> dict[str, Any]:
    """Finance edits amendable terms (admin): saved with history like an amendment, and
    ``contract_amended`` is sent (raising the cap re-runs entries held for it). Returns
    {field: (old, new)}; refuses fields outside AMENDABLE with ValueError."""
    refused = set(values) - set(AMENDABLE)
    if refused:
        raise ValueError(f"not editable on a contract: {', '.join(sorted(refused))}")
    contract = Contract.objects.select_for_update().get(pk=contract_id)
    changed = {
        name: (getattr(contract, name), value)
        for name, value in values.items()
        if getattr(contract, name) != value
    }
    if not changed:
        return {}
    for name, (_old, new) in changed.items():
        setattr(contract, name, new)
    contract.amendment_count += 1
    set_history_user(contract, user)
    who = getattr(user, "username", "finance")
    save_record(
        contract, action="amended", reason=f"amended by {who}: {', '.join(sorted(changed))}"
    )
    contract_amended.send(sender=Contract, contract=contract, changed=changed)
    return changed
