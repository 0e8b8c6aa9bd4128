"""Applying CRM and ERP changes to the golden record (docs/contract.md §1 customer events)."""

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import models, transaction

from integrations.models import ExternalSystem
from integrations.services.systems import get_system_for_kind
from integrations.services.traces import get_trace_id, record_touched, record_trace_step
from mdm.errors import UnknownAccount
from mdm.models import Contact, Customer
from mdm.selectors.refs import resolve_merged
from mdm.services import duplicates, matching, refs
from mdm.services.history import set_change_reason
from mdm.services.ownership import FieldChanges, apply_fields, load_ownership, propagate

# Fields whose change can make a customer look like another one.
MATCHING_FIELDS = {"name", "website", "country", "tax_id"}
# CRM account fields beyond the contract that a CRM may carry (Salesforce orgs often hold
# ERP-owned values in custom fields). They are checked against ownership, never trusted.
CRM_EXTENSION_CUSTOMER = {"legal_name": "legal_name"}
CRM_EXTENSION_PROFILE = {
    "payment_terms": "payment_terms",
    "currency": "currency",
    "tax_id": "tax_id",
}


@dataclass
class ApplyResult:
    customer: Customer
    created: bool = False
    changed: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)


def save_record(obj: models.Model, *, action: str, reason: str) -> None:
    """Validate and save a customer-master row with a history reason and a trace step."""
    if isinstance(obj, Customer):
        duplicates.refresh_match_keys(obj)
        obj.trace_id = obj.trace_id or get_trace_id()
    set_change_reason(obj, reason[:100])
    obj.full_clean()
    obj.save()
    record_touched(obj, action=action, summary=f"{obj._meta.verbose_name} {obj}: {reason}"[:300])


def _customer_from_crm(system: ExternalSystem, account_id: str) -> Customer | None:
    return resolve_merged(
        refs.find_local(
            model=Customer, object_type=refs.CRM_ACCOUNT, external_id=account_id, system=system
        )
    )


def _apply_parent(customer: Customer, data: dict, system: ExternalSystem) -> dict:
    """The ``parent`` value to apply (a customer pk or None), remembering an unknown parent."""
    if "parent_account_id" not in data:
        return {}
    parent_account_id = data.get("parent_account_id") or ""
    if not parent_account_id:
        customer.pending_parent_account_id = ""
        return {"parent": None}
    parent = _customer_from_crm(system, parent_account_id)
    if parent is None:
        customer.pending_parent_account_id = parent_account_id
        return {}
    customer.pending_parent_account_id = ""
    return {"parent": parent.pk}


def _refuse_cycle(
    customer: Customer, changes: FieldChanges, previous_parent_id: int | None
) -> None:
    try:
        customer.clean()
    except ValidationError:
        customer.parent_id = previous_parent_id
        changes.applied.pop("parent", None)
        changes.seeded.pop("parent", None)
        record_trace_step(
            kind="note",
            action="refused",
            summary=f"{customer}: the new parent would make the hierarchy a cycle; kept the old one",
            subject=customer,
        )


@transaction.atomic
def apply_crm_account(*, system: ExternalSystem, data: dict) -> ApplyResult:
    """Apply a ``crm.account.upserted`` (or a reference-sync read of a CRM account).

    Creates the customer on first sight (with its CRM cross-reference). Keys absent from
    ``data`` are left alone. Idempotent: the same data again changes and sends nothing.
    """
    account_id = data["account_id"]
    found = _customer_from_crm(system, account_id)
    created = found is None
    customer = Customer(name=data.get("name") or account_id) if found is None else found
    wire = {
        "name": "name",
        "website": "website",
        "industry": "industry",
        "phone": "phone",
        "owner_email": "owner_email",
        "country": "billing_country",
        **CRM_EXTENSION_CUSTOMER,
    }
    incoming = {name: data[key] for name, key in wire.items() if key in data}
    previous_parent, previous_pending = customer.parent_id, customer.pending_parent_account_id
    incoming.update(_apply_parent(customer, data, system))
    changes = apply_fields(
        obj=customer,
        entity="customer",
        incoming=incoming,
        source=system,
        customer=customer,
        ownership=load_ownership(),
        seeding=created,
    )
    _refuse_cycle(customer, changes, previous_parent)
    changed = list(changes.applied | changes.seeded)
    if created:
        save_record(customer, action="created", reason=f"created from {system.slug} {account_id}")
        refs.link(system=system, object_type=refs.CRM_ACCOUNT, external_id=account_id, obj=customer)
    elif changed:
        save_record(customer, action="updated", reason=f"{system.slug}: {', '.join(changed)}")
    elif customer.pending_parent_account_id != previous_pending:
        customer.save(update_fields=["pending_parent_account_id"])
    propagate(customer=customer, record=customer, values=changes.applied, source=system)
    conflicts = changes.conflicts + _check_crm_profile_fields(customer, data, system)
    _adopt_waiting_children(customer, account_id)
    if created or MATCHING_FIELDS & set(changed):
        duplicates.check_duplicates(customer=customer)
    return ApplyResult(customer=customer, created=created, changed=changed, conflicts=conflicts)


def _check_crm_profile_fields(customer: Customer, data: dict, system: ExternalSystem) -> list[str]:
    """ERP-owned billing values carried by a CRM account: compared with each billing profile
    (a customer without one has nothing to compare, so they are ignored)."""
    incoming = {name: data[key] for name, key in CRM_EXTENSION_PROFILE.items() if key in data}
    if not incoming:
        return []
    ownership, conflicts = load_ownership(), []
    for profile in customer.billing_profiles.select_related("legal_entity"):
        changes = apply_fields(
            obj=profile,
            entity="billing_profile",
            incoming=incoming,
            source=system,
            customer=customer,
            ownership=ownership,
        )
        conflicts += changes.conflicts
        if changes.applied:  # the admin made the CRM the owner of a billing field
            save_record(
                profile, action="updated", reason=f"{system.slug}: {', '.join(changes.applied)}"
            )
            propagate(
                customer=customer,
                record=profile,
                values=changes.applied,
                source=system,
                profile=profile,
            )
    return conflicts


def _adopt_waiting_children(customer: Customer, account_id: str) -> None:
    for child in Customer.objects.filter(pending_parent_account_id=account_id).exclude(
        pk=customer.pk
    ):
        child.parent, child.pending_parent_account_id = customer, ""
        try:
            save_record(child, action="updated", reason=f"parent {customer.throughline_id} arrived")
        except ValidationError:
            child.parent = None
            child.save(update_fields=["parent", "pending_parent_account_id"])


@transaction.atomic
def apply_crm_contact(*, system: ExternalSystem, data: dict) -> Contact:
    """Apply a ``crm.contact.upserted``. Raises UnknownAccount when its account has not
    arrived yet (the inbox retries the event with backoff)."""
    customer = _customer_from_crm(system, data["account_id"])
    if customer is None:
        raise UnknownAccount(
            f"account {data['account_id']} of contact {data['contact_id']} is not known yet",
            account_id=data["account_id"],
        )
    found = refs.find_local(
        model=Contact, object_type=refs.CRM_CONTACT, external_id=data["contact_id"], system=system
    )
    created = found is None
    contact = Contact(customer=customer) if found is None else found
    names = ("first_name", "last_name", "email", "phone", "title", "is_billing_contact")
    incoming = {name: data[name] for name in names if name in data}
    changes = apply_fields(
        obj=contact,
        entity="contact",
        incoming=incoming,
        source=system,
        customer=customer,
        ownership=load_ownership(),
        seeding=created,
    )
    moved = contact.customer_id != customer.pk
    contact.customer = customer
    if created or changes.changed or moved:
        save_record(
            contact, action="created" if created else "updated", reason=f"{system.slug} contact"
        )
    if created:
        refs.link(
            system=system, object_type=refs.CRM_CONTACT, external_id=data["contact_id"], obj=contact
        )
    if contact.is_billing_contact and (created or changes.applied or moved):
        _use_as_billing_contact(customer, contact, system)
    return contact


def _use_as_billing_contact(customer: Customer, contact: Contact, system: ExternalSystem) -> None:
    from mdm.services.ownership import contact_payload

    for profile in customer.billing_profiles.select_related("legal_entity"):
        if profile.billing_contact_id not in (None, contact.pk):
            continue
        if profile.billing_contact_id is None:
            profile.billing_contact = contact
            save_record(profile, action="updated", reason=f"billing contact from {system.slug}")
        propagate(
            customer=customer,
            record=contact,
            values={"billing_contact": contact_payload(contact)},
            source=system,
            profile=profile,
        )


@transaction.atomic
def match_or_create_customer(
    *, crm_account_id: str, name: str, billing_country: str = "", website: str = ""
) -> tuple[Customer, bool]:
    """The golden record of a CRM account: by cross-reference, else an existing customer that
    matches with high confidence (score >= matching.AUTO_MATCH_THRESHOLD; the account id is
    linked to it), else a new one. Returns (customer, created). Idempotent per account id."""
    system = get_system_for_kind("crm")
    customer = _customer_from_crm(system, crm_account_id)
    if customer is not None:
        return customer, False
    record = matching.build_record(None, name, website=website, country=billing_country)
    matches = duplicates.find_matches(record, threshold=matching.AUTO_MATCH_THRESHOLD)
    if matches:
        customer = matches[0][0]
        refs.link(
            system=system, object_type=refs.CRM_ACCOUNT, external_id=crm_account_id, obj=customer
        )
        record_trace_step(
            kind="note",
            action="matched",
            summary=f"CRM account {crm_account_id} matched {customer} ({matches[0][1].score:.0f})",
            subject=customer,
        )
        return customer, False
    customer = Customer(name=name, country=billing_country.upper()[:2], website=website)
    save_record(customer, action="created", reason=f"created for CRM account {crm_account_id}")
    refs.link(system=system, object_type=refs.CRM_ACCOUNT, external_id=crm_account_id, obj=customer)
    duplicates.check_duplicates(customer=customer)
    return customer, True
