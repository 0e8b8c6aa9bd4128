"""Field-level system of record: apply what an owner says, hold what a non-owner says, and tell
the other systems that hold the record (never the source, so nothing loops).

Echo handling is a comparison, not a flag: an incoming value equal to the golden value (our own
write coming back, a repeated event, a sync that re-reads what we sent) changes nothing and
sends nothing.
"""

from dataclasses import dataclass, field
from typing import Any

from django.db import models

from exceptions_queue.services import raise_exception_item
from integrations.models import ExternalSystem
from integrations.services.outbox import enqueue_outbox_message
from mdm.models import BillingProfile, Contact, Customer, FieldOwnership, LegalEntity
from mdm.services import refs

BILL_TO_PARTS = ("line1", "line2", "city", "region", "postal_code", "country")


def load_ownership() -> dict[tuple[str, str], str]:
    """(entity, field) -> owning system kind, as edited in the admin."""
    return {(o.entity, o.field): o.owner for o in FieldOwnership.objects.all()}


def _clean(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, dict):
        return {key: _clean(value.get(key)) for key in BILL_TO_PARTS}
    return value


def current_value(obj: models.Model, name: str) -> Any:
    if name == "bill_to" and isinstance(obj, BillingProfile):  # others: getattr raises, as before
        return _clean(obj.bill_to)
    if name in ("parent", "legal_entity"):
        return getattr(obj, f"{name}_id") or ""
    return _clean(getattr(obj, name))


def _set_value(obj: models.Model, name: str, value: Any) -> None:
    if name == "bill_to":
        for part in BILL_TO_PARTS:
            setattr(obj, f"bill_to_{part}", value.get(part, ""))
    elif name in ("parent", "legal_entity"):
        setattr(obj, f"{name}_id", value or None)
    else:
        setattr(obj, name, value)


def shown(obj: models.Model, name: str, value: Any) -> Any:
    """A value as a person (and JSON) should see it."""
    if name == "parent" and value:
        parent = Customer.objects.filter(pk=value).first()
        return str(parent) if parent else value
    if name == "legal_entity" and value:
        entity = LegalEntity.objects.filter(pk=value).first()
        return entity.code if entity else value
    return value


@dataclass
class FieldChanges:
    """What one apply did to one record."""

    applied: dict[str, Any] = field(default_factory=dict)  # owner changes (propagated)
    seeded: dict[str, Any] = field(default_factory=dict)  # first values of a new record
    conflicts: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.applied or self.seeded)


def apply_fields(
    *,
    obj: models.Model,
    entity: str,
    incoming: dict[str, Any],
    source: ExternalSystem,
    customer: Customer,
    ownership: dict[tuple[str, str], str],
    seeding: bool = False,
) -> FieldChanges:
    """Apply ``incoming`` (golden field name -> value) to ``obj`` by field ownership.

    Equal values are skipped (echoes). The owner's value applies. A non-owner's differing
    value changes nothing and raises ``ownership_conflict`` for the record and field, unless
    ``seeding`` (the record is being created from this event: it takes what it is given) or
    the value is empty (a system that does not hold a field says nothing about it).
    Does not save ``obj``.
    """
    changes = FieldChanges()
    for name, raw in incoming.items():
        value, ours = _clean(raw), current_value(obj, name)
        if value == ours:
            continue
        owner = ownership.get((entity, name), "")
        if owner == source.kind:
            _set_value(obj, name, value)
            changes.applied[name] = value
        elif seeding and not ours:
            _set_value(obj, name, value)
            changes.seeded[name] = value
        elif value in ("", {}) or (isinstance(value, dict) and not any(value.values())):
            continue
        else:
            raise_ownership_conflict(
                customer=customer,
                obj=obj,
                entity=entity,
                name=name,
                ours=shown(obj, name, ours),
                incoming=shown(obj, name, value),
                incoming_raw=value,
                source=source,
                owner=owner,
            )
            changes.conflicts.append(name)
    return changes


def ownership_subject_key(entity: str, pk: int, name: str) -> str:
    return f"{entity}:{pk}:{name}"


def raise_ownership_conflict(
    *,
    customer: Customer,
    obj: models.Model,
    entity: str,
    name: str,
    ours: Any,
    incoming: Any,
    incoming_raw: Any,
    source: ExternalSystem,
    owner: str,
) -> None:
    raise_exception_item(
        type_code="ownership_conflict",
        subject_key=ownership_subject_key(entity, obj.pk, name),
        subject_ref=f"{customer.throughline_id} {customer.name} · {entity}.{name}",
        subject=customer,
        summary=(
            f"{source.slug} ({source.kind}) sent {name} {incoming!r}; "
            f"the {owner or 'unowned'} owns it and ours is {ours!r}"
        ),
        details={
            "entity": entity,
            "record_id": obj.pk,
            "customer_id": customer.pk,
            "field": name,
            "ours": ours,
            "incoming": incoming,
            "incoming_value": incoming_raw,
            "source_system": source.slug,
            "source_kind": source.kind,
            "owner": owner,
        },
    )


# Golden field -> name on each peer's wire (the names of its docs/contract.md §1 event), so what we
# send reads back through the same mapping (reference sync of our own writes is an echo).
CRM_WIRE = {
    "name": "name",
    "website": "website",
    "industry": "industry",
    "phone": "phone",
    "owner_email": "owner_email",
    "country": "billing_country",
    "parent": "parent_account_id",
    "legal_name": "legal_name",
    "payment_terms": "payment_terms",
    "currency": "currency",
    "tax_id": "tax_id",
}
ERP_WIRE = {
    "name": "name",
    "legal_name": "legal_name",
    "legal_entity": "legal_entity",
    "bill_to": "bill_to",
    "payment_terms": "payment_terms",
    "currency": "currency",
    "tax_id": "tax_id",
    "tax_jurisdiction": "tax_jurisdiction",
    "website": "website",
    "phone": "phone",
    "parent": "parent_customer_id",
    "billing_contact": "billing_contact",
}


def _wire_value(name: str, value: Any, *, kind: str) -> Any:
    if name == "parent":
        parent = Customer.objects.filter(pk=value).first() if value else None
        if parent is None:
            return None
        object_type = refs.CRM_ACCOUNT if kind == "crm" else refs.ERP_CUSTOMER
        return refs.external_id_of(parent, kind=kind, object_type=object_type) or None
    if name == "legal_entity":
        entity = LegalEntity.objects.filter(pk=value).first() if value else None
        return entity.code if entity else None
    return value


def propagate(
    *,
    customer: Customer,
    record: Customer | BillingProfile | Contact,
    values: dict[str, Any],
    source: ExternalSystem | None,
    profile: BillingProfile | None = None,
) -> int:
    """Send owner changes to every other system holding the customer; returns messages queued.

    ERP customers are per legal entity: a billing-profile change goes to that profile's ERP
    customer only; a customer-level change to each. Idempotent per change (the key names the
    record's history row), so re-applying the same change queues nothing new.
    """
    if not values:
        return 0
    history_id = record.history.values_list("history_id", flat=True).first()
    queued = 0
    for ref in refs.refs_of(customer):
        if source is not None and ref.system_id == source.pk:
            continue
        kind = ref.system.kind
        if kind == "crm" and ref.object_type == refs.CRM_ACCOUNT:
            operation, wire = "crm.account.update", CRM_WIRE
        elif kind == "erp" and ref.object_type == refs.ERP_CUSTOMER:
            if profile is not None and profile.erp_customer_id not in ("", ref.external_id):
                continue
            operation, wire = "erp.customer.upsert", ERP_WIRE
        else:
            continue
        payload = {
            wire[name]: _wire_value(name, value, kind=kind)
            for name, value in values.items()
            if name in wire
        }
        if not payload:
            continue
        payload.update(external_id=ref.external_id, throughline_id=customer.throughline_id)
        if profile is not None:
            payload["legal_entity"] = profile.legal_entity.code
        elif kind == "erp":  # an ERP customer is one legal entity's: the profile naming it
            payload["legal_entity"] = (
                customer.billing_profiles.filter(erp_customer_id=ref.external_id)
                .values_list("legal_entity__code", flat=True)
                .first()
            )
        enqueue_outbox_message(
            system=ref.system,
            kind=operation,
            payload=payload,
            idempotency_key=(
                f"{operation}:{ref.system.slug}:{ref.external_id}:"
                f"{record._meta.model_name}:{record.pk}:{history_id}"
            ),
            object_key=f"{ref.object_type}:{ref.external_id}",
            local_object=customer,
            external_object_type=ref.object_type,
        )
        queued += 1
    return queued


def contact_payload(contact: Contact) -> dict:
    return {
        "name": f"{contact.first_name} {contact.last_name}".strip(),
        "email": contact.email,
        "phone": contact.phone,
    }
