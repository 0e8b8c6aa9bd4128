"""Opportunity-to-project interfaces registered in BillingConfig.ready(): inbox handlers and the
PSA-confirmation delivery hook (the ``contract_invalid`` type: billing/exception_types.py)."""

from billing.models import Project
from billing.services.contracts import activate_project
from billing.services.opportunity import receive_closed_won
from billing.services.projects import complete_milestone, sync_project_from_psa


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
