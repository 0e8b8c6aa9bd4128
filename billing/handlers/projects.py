"""Opportunity-to-project interfaces registered in BillingConfig.ready(): inbox handlers, the
PSA-confirmation delivery hook, and the ``contract_invalid`` exception type with its actions."""

from django import forms

from billing.models import Contract, Project
from billing.services.contracts import activate_project
from billing.services.opportunity import CONTRACT_INVALID, receive_closed_won, rerun_deal
from billing.services.projects import complete_milestone, sync_project_from_psa
from config.roles import FINANCE
from exceptions_queue.registry import ExceptionType, ResolutionAction


def handle_opportunity_closed_won(event) -> None:
    receive_closed_won(data=event.data, occurred_at=event.occurred_at)


def handle_project_updated(event) -> None:
    sync_project_from_psa(data=event.data, system=event.system)


def handle_milestone_completed(event) -> None:
    data = event.data
    complete_milestone(
        psa_project_id=data["project_id"],
        milestone_name=data["milestone_name"],
        completed_on=data["completed_on"],
    )


def on_message_delivered(message) -> None:
    """delivery_hooks: the PSA created the project (``psa.project.create`` sent): activate it.
    Runs in the transaction that marks the message sent, on the deal's trace."""
    if message.kind != "psa.project.create" or not message.object_id:
        return
    if message.content_type is None or message.content_type.model_class() is not Project:
        return
    activate_project(
        project_id=int(message.object_id), psa_project_id=message.external_id, system=message.system
    )


class DealFixForm(forms.Form):
    """Fields finance may correct on a deal; an empty field keeps the deal's value."""

    legal_entity = forms.CharField(
        max_length=20, required=False, help_text="Entity code, e.g. US01"
    )
    currency = forms.CharField(max_length=3, required=False)
    billing_model = forms.ChoiceField(
        choices=[("", "(keep)"), *Contract.BillingModel.choices], required=False
    )
    tax_jurisdiction = forms.CharField(max_length=20, required=False, help_text="e.g. US-NY")
    project_template = forms.CharField(max_length=40, required=False, help_text="Template code")
    rate_card = forms.CharField(
        max_length=40, required=False, help_text='Card code; "-" for the standard card'
    )
    start_date = forms.DateField(required=False)
    end_date = forms.DateField(required=False)
    not_to_exceed = forms.DecimalField(max_digits=19, decimal_places=2, required=False)


def deal_fixes(cleaned: dict) -> dict:
    """The filled fields of a DealFixForm's cleaned data as deal data (JSON: dates and decimals
    as strings)."""
    fixes = {}
    for name, value in cleaned.items():
        if value in (None, ""):
            continue
        if name == "rate_card" and value == "-":
            fixes[name] = None
        elif name == "currency":
            fixes[name] = value.upper()
        else:
            fixes[name] = value if isinstance(value, str) else str(value)
    return fixes


def _opportunity_id(item) -> str:
    return item.subject_key.split(":", 1)[1]


def fix_and_rerun_action(item, *, user, data: dict) -> str:
    return rerun_deal(opportunity_id=_opportunity_id(item), fixes=deal_fixes(data), user=user)


def rerun_action(item, *, user, data: dict) -> str:
    return rerun_deal(opportunity_id=_opportunity_id(item), user=user)


def contract_invalid_type() -> ExceptionType:
    return ExceptionType(
        code=CONTRACT_INVALID,
        queue="finance",
        severity="high",
        title="Contract invalid",
        help_text=(
            "A closed-won deal failed validation, so no customer, contract or project was "
            "created (or, for an amendment, the contract was left as it was). Each failed rule "
            "is listed. Fix the deal's fields here, or fix the reference data (legal entities, "
            "rate cards, templates) or the deal in the CRM, then re-run: the project is "
            "provisioned and this item closes. A rule still failing refuses the re-run."
        ),
        sla_hours=24,
        actions=(
            ResolutionAction(
                name="fix_and_rerun",
                label="Fix fields and re-run",
                handler=fix_and_rerun_action,
                roles=(FINANCE,),
                form_class=DealFixForm,
            ),
            ResolutionAction(
                name="rerun",
                label="Re-run (reference data fixed)",
                handler=rerun_action,
                roles=(FINANCE,),
            ),
        ),
    )
