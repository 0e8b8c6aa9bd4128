"""Messages about contracts and projects to the other systems: the ERP customer and the PSA
project a new contract needs, the PSA project's ExternalRef, and Throughline events to the
active subscriptions (all queued in the caller's transaction)."""

from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from billing.models import Contract, EventSubscription, Project
from config.money import amount_text
from integrations.models import ExternalRef, ExternalSystem
from integrations.services.outbox import enqueue_outbox_message, publish_to_subscribers
from integrations.services.traces import get_trace_id, record_trace_step
from mdm.models import BillingProfile
from mdm.services.routing import system_for_entity

PROJECT_ACTIVATED = "throughline.project.activated"
PSA_PROJECT = "project"  # ExternalRef object type of a PSA project
ERP_CUSTOMER = "customer"  # ExternalRef object type of an ERP customer (as mdm.services.refs)


def queue_erp_customer(*, contract: Contract) -> None:
    """Create or match the ERP customer of the contract's customer and legal entity. One
    message per customer and entity (a second deal of the same pair queues nothing)."""
    customer, entity = contract.customer, contract.legal_entity
    profile = BillingProfile.objects.filter(customer=customer, legal_entity=entity).first()
    payload = {
        "throughline_id": customer.throughline_id,
        "name": customer.name,
        "legal_name": customer.legal_name or customer.name,
        "crm_account_id": contract.crm_account_id,
        "legal_entity": entity.code,
        "currency": (profile.currency if profile and profile.currency else contract.currency),
        "payment_terms": (profile.payment_terms if profile else "") or contract.payment_terms,
        "tax_jurisdiction": (profile.tax_jurisdiction if profile else "")
        or contract.tax_jurisdiction,
    }
    if profile and profile.erp_customer_id:
        payload["external_id"] = profile.erp_customer_id  # match, not create
    enqueue_outbox_message(
        system=system_for_entity("erp", entity),
        kind="erp.customer.upsert",
        payload=payload,
        idempotency_key=f"erp.customer.upsert:customer:{customer.pk}:{entity.code}",
        object_key=f"customer:{customer.throughline_id}:{entity.code}",
        local_object=customer,
        external_object_type=ERP_CUSTOMER,
    )


def queue_psa_project(*, project: Project) -> None:
    contract = project.contract
    enqueue_outbox_message(
        system=system_for_entity("psa", contract.legal_entity),
        kind="psa.project.create",
        payload={
            "opportunity_id": contract.crm_opportunity_id,
            "name": project.name,
            "customer": {
                "throughline_id": project.customer.throughline_id,
                "name": project.customer.name,
                "crm_account_id": contract.crm_account_id,
            },
            "legal_entity": contract.legal_entity.code,
            "billing_model": contract.billing_model,
            "currency": contract.currency,
            "start_date": contract.start_date.isoformat(),
            "end_date": contract.end_date.isoformat(),
            "template": project.template.code,
            "phases": [
                {"code": p.code, "name": p.name, "status": p.status}
                for p in project.phases.order_by("position", "code")
            ],
            "milestones": [
                {
                    "name": m.name,
                    "amount": amount_text(m.amount, contract.currency),
                    "due_date": m.due_date.isoformat() if m.due_date else None,
                }
                for m in contract.milestones.all()
            ],
        },
        idempotency_key=f"psa.project.create:opportunity:{contract.crm_opportunity_id}",
        object_key=f"project:opportunity:{contract.crm_opportunity_id}",
        local_object=project,
        external_object_type=PSA_PROJECT,
    )


def link_psa_project(*, system: ExternalSystem, external_id: str, project: Project) -> None:
    """Record that ``project`` is ``external_id`` in the PSA ``system`` (idempotent)."""
    ExternalRef.objects.get_or_create(
        system=system,
        object_type=PSA_PROJECT,
        external_id=external_id,
        defaults={
            "content_type": ContentType.objects.get_for_model(Project),
            "object_id": str(project.pk),
            "trace_id": get_trace_id(),
        },
    )


def project_event_data(project: Project) -> dict:
    contract = project.contract
    return {
        "project_id": project.pk,
        "psa_project_id": project.psa_project_id,
        "crm_opportunity_id": contract.crm_opportunity_id,
        "crm_account_id": contract.crm_account_id,
        "customer": project.customer.throughline_id,
        "legal_entity": contract.legal_entity.code,
        "billing_model": contract.billing_model,
        "currency": contract.currency,
        "start_date": contract.start_date.isoformat(),
        "end_date": contract.end_date.isoformat(),
        "status": project.status,
        "phases": [{"code": p.code, "status": p.status} for p in project.phases.all()],
    }


def publish_event(*, event_type: str, payload: dict, key: str) -> int:
    """Queue a Throughline event to each active subscription (``<kind>.event.publish``) in the
    caller's transaction; idempotent per (event type, key, system). Returns messages queued."""
    subscriptions = EventSubscription.objects.filter(
        event_type=event_type, is_active=True, system__is_active=True
    ).select_related("system")
    queued = publish_to_subscribers(
        (subscription.system for subscription in subscriptions),
        payload={"type": event_type, "timestamp": timezone.now().isoformat(), "data": payload},
        idempotency_key=lambda system: f"billing.publish:{event_type}:{key}:{system.pk}",
        object_key=f"event:{key}",
    )
    if queued:
        record_trace_step(kind="note", action="published", summary=f"{event_type} to {queued}")
    return queued
