"""Applying ERP customers to the golden record (docs/contract.md §1 ``erp.customer.upserted``)
and loading legal entities. The CRM side is in ``customers``."""

from django.core.exceptions import ValidationError
from django.db import transaction

from integrations.models import ExternalSystem
from integrations.services.systems import get_system_for_kind
from mdm.errors import UnknownLegalEntity
from mdm.models import BillingProfile, Customer, LegalEntity
from mdm.selectors.refs import resolve_merged
from mdm.services import duplicates, refs
from mdm.services.customers import MATCHING_FIELDS, ApplyResult, save_record
from mdm.services.ownership import apply_fields, load_ownership, propagate


def _erp_customer_lookup(system: ExternalSystem, data: dict) -> tuple[Customer, bool]:
    customer = resolve_merged(
        refs.find_local(
            model=Customer,
            object_type=refs.ERP_CUSTOMER,
            external_id=data["customer_id"],
            system=system,
        )
    )
    crm_account_id = data.get("crm_account_id") or ""
    if customer is None and crm_account_id:
        customer = resolve_merged(
            refs.find_local(
                model=Customer,
                object_type=refs.CRM_ACCOUNT,
                external_id=crm_account_id,
                kind="crm",
            )
        )
    if customer is not None:
        return customer, False
    customer = Customer(name=data["legal_name"], legal_name=data["legal_name"])
    save_record(
        customer, action="created", reason=f"created from {system.slug} {data['customer_id']}"
    )
    if crm_account_id:
        refs.link(
            system=get_system_for_kind("crm"),
            object_type=refs.CRM_ACCOUNT,
            external_id=crm_account_id,
            obj=customer,
        )
    return customer, True


@transaction.atomic
def apply_erp_customer(*, system: ExternalSystem, data: dict) -> ApplyResult:
    """Apply an ``erp.customer.upserted`` (or a reference-sync read of an ERP customer).

    Finds the golden record by the ERP cross-reference, then by ``crm_account_id``, else
    creates it; keeps one billing profile per legal entity. Raises UnknownLegalEntity for a
    legal entity missing from the reference data. Idempotent.
    """
    customer, created = _erp_customer_lookup(system, data)
    refs.link(
        system=system, object_type=refs.ERP_CUSTOMER, external_id=data["customer_id"], obj=customer
    )
    ownership = load_ownership()
    incoming = {name: data[name] for name in ("legal_name", "name") if name in data}
    changes = apply_fields(
        obj=customer,
        entity="customer",
        incoming=incoming,
        source=system,
        customer=customer,
        ownership=ownership,
        seeding=created,
    )
    changed = list(changes.applied | changes.seeded)
    if changed:
        save_record(customer, action="updated", reason=f"{system.slug}: {', '.join(changed)}")
    propagate(customer=customer, record=customer, values=changes.applied, source=system)
    profile_result = _apply_erp_profile(customer, system, data, ownership)
    changed += profile_result.changed
    if created or MATCHING_FIELDS & set(changed):
        duplicates.check_duplicates(customer=customer)
    return ApplyResult(
        customer=customer,
        created=created,
        changed=changed,
        conflicts=changes.conflicts + profile_result.conflicts,
    )


def _apply_erp_profile(
    customer: Customer,
    system: ExternalSystem,
    data: dict,
    ownership: dict[tuple[str, str], str],
) -> ApplyResult:
    code = data.get("legal_entity")
    profile = customer.billing_profiles.filter(erp_customer_id=data["customer_id"]).first()
    entity = LegalEntity.objects.filter(code=code).first() if code else None
    if entity is None and profile is None:
        raise UnknownLegalEntity(
            f"legal entity {code!r} of ERP customer {data['customer_id']} is not in the reference data",
            legal_entity=code,
        )
    if profile is None:
        profile = customer.billing_profiles.filter(legal_entity=entity).first()
    created = profile is None
    if profile is None:
        profile = BillingProfile(customer=customer, legal_entity=entity)
    if not profile.erp_customer_id:
        profile.erp_customer_id = data["customer_id"]
    names = ("bill_to", "payment_terms", "currency", "tax_id", "tax_jurisdiction")
    incoming = {name: data[name] for name in names if name in data}
    if entity is not None:
        incoming["legal_entity"] = entity.pk
    changes = apply_fields(
        obj=profile,
        entity="billing_profile",
        incoming=incoming,
        source=system,
        customer=customer,
        ownership=ownership,
        seeding=created,
    )
    changed = list(changes.applied | changes.seeded)
    if created or changed:
        save_record(
            profile,
            action="created" if created else "updated",
            reason=f"{system.slug}: {', '.join(changed)}",
        )
    # A new profile's values are news to the other systems too (the ERP owns them).
    values = (changes.applied | changes.seeded) if created else changes.applied
    values = {
        k: v for k, v in values.items() if ownership.get(("billing_profile", k)) == system.kind
    }
    propagate(customer=customer, record=profile, values=values, source=system, profile=profile)
    return ApplyResult(customer=customer, changed=changed, conflicts=changes.conflicts)


LEGAL_ENTITY_FIELDS = ("name", "country", "currency", "tax_jurisdictions")


@transaction.atomic
def load_legal_entities(*, rows: list[dict]) -> int:
    """Upsert legal entities by ``code`` (docs/contract.md §4 ``legal_entities``); returns how many
    changed. A bad row raises ValidationError naming the row, and nothing is kept."""
    changed = 0
    for number, row in enumerate(rows, start=1):
        try:
            entity = LegalEntity.objects.filter(code=row["code"]).first() or LegalEntity(
                code=row["code"]
            )
            values = {name: row[name] for name in LEGAL_ENTITY_FIELDS if name in row}
            if entity.pk and all(getattr(entity, k) == v for k, v in values.items()):
                continue
            for name, value in values.items():
                setattr(entity, name, value)
            entity.full_clean()
        except (KeyError, ValidationError, TypeError) as exc:
            raise ValidationError(
                f"legal_entities row {number} ({row.get('code', '?')}): {exc}"
            ) from exc
        entity.save()
        changed += 1
    return changed
