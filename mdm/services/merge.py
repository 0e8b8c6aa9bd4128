"""Merging two golden records: one survives, everything pointing at the other follows it."""

from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone
from simple_history.models import HistoricalChanges

from integrations.models import ExternalRef
from integrations.services.outbox import enqueue_outbox_message
from integrations.services.traces import record_trace_step
from mdm.errors import MergeRefused
from mdm.models import BillingProfile, Customer, DuplicateDecision
from mdm.services import refs
from mdm.services.customers import save_record
from mdm.services.history import set_change_reason

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# Golden fields the survivor takes from the absorbed record when it has no value of its own.
FILLABLE = ("legal_name", "website", "industry", "phone", "owner_email", "country")
PROFILE_FILLABLE = (
    "bill_to_line1",
    "bill_to_line2",
    "bill_to_city",
    "bill_to_region",
    "bill_to_postal_code",
    "bill_to_country",
    "payment_terms",
    "currency",
    "tax_id",
    "tax_jurisdiction",
    "billing_contact",
)


def _lock_pair(survivor_id: int, absorbed_id: int) -> tuple[Customer, Customer]:
    if survivor_id == absorbed_id:
        raise MergeRefused("a customer cannot be merged into itself")
    rows = {
        c.pk: c
        for c in Customer.objects.select_for_update()
        .filter(pk__in=[survivor_id, absorbed_id])
        .order_by("pk")
    }
    if len(rows) != 2:
        raise MergeRefused("both customers must exist", survivor=survivor_id, absorbed=absorbed_id)
    survivor, absorbed = rows[survivor_id], rows[absorbed_id]
    for customer in (survivor, absorbed):
        if customer.status == Customer.Status.MERGED:
            raise MergeRefused(f"{customer} is already merged into another record")
    return survivor, absorbed


def _move_profile(profile: BillingProfile, survivor: Customer, reason: str) -> None:
    twin = survivor.billing_profiles.filter(legal_entity_id=profile.legal_entity_id).first()
    if twin is None:
        profile.customer = survivor
        save_record(profile, action="updated", reason=reason)
        return
    for name in PROFILE_FILLABLE:
        if not getattr(twin, name) and getattr(profile, name):
            setattr(twin, name, getattr(profile, name))
    save_record(twin, action="updated", reason=reason)
    set_change_reason(profile, f"folded into profile {twin.pk}: {reason}"[:100])
    profile.delete()


def _repoint_relations(absorbed: Customer, survivor: Customer, reason: str) -> dict[str, int]:
    """Every row with a foreign key to Customer (billing projects and contracts included, as
    apps add them) moves to the survivor, saved one by one so each keeps its history."""
    moved: dict[str, int] = {}
    for relation in Customer._meta.related_objects:
        model = relation.related_model
        if issubclass(model, HistoricalChanges) or model is DuplicateDecision:
            continue
        if relation.many_to_many:
            for row in model._default_manager.filter(**{relation.field.name: absorbed}):
                getattr(row, relation.field.name).remove(absorbed)
                getattr(row, relation.field.name).add(survivor)
                moved[model._meta.label] = moved.get(model._meta.label, 0) + 1
            continue
        name = relation.field.name
        for row in model._default_manager.filter(**{name: absorbed}):
            if model is Customer and row.pk == survivor.pk:
                # The survivor itself (a child of the absorbed record): never its own parent.
                # Only for Customer rows: another model's pk says nothing about the survivor.
                continue
            if model is BillingProfile:
                assert isinstance(row, BillingProfile)  # a row of the model just compared
                _move_profile(row, survivor, reason)
            else:
                setattr(row, name, survivor)
                set_change_reason(row, reason[:100])
                try:
                    row.full_clean()
                except ValidationError:
                    if not (model is Customer and name == "parent"):
                        raise
                    assert isinstance(row, Customer)  # a row of the model just compared
                    row.parent = None  # would make a cycle: the child keeps no parent
                row.save()
            moved[model._meta.label] = moved.get(model._meta.label, 0) + 1
    return moved


def _repoint_refs(absorbed: Customer, survivor: Customer) -> list[ExternalRef]:
    moved = refs.refs_of(absorbed)
    for ref in moved:
        ref.object_id = str(survivor.pk)
        ref.save(update_fields=["object_id", "updated_at"])
    return moved


def _send_merge(
    survivor: Customer, absorbed: Customer, before: dict[str, list[ExternalRef]]
) -> int:
    """Tell each system holding both records to merge its two (the absorbed id into ours)."""
    queued = 0
    for kind, object_type, operation in (
        ("crm", refs.CRM_ACCOUNT, "crm.account.merge"),
        ("erp", refs.ERP_CUSTOMER, "erp.customer.merge"),
    ):
        kept = [
            r for r in before["survivor"] if r.system.kind == kind and r.object_type == object_type
        ]
        gone = [
            r for r in before["absorbed"] if r.system.kind == kind and r.object_type == object_type
        ]
        for target in kept[:1]:
            merged_ids = [r.external_id for r in gone if r.system_id == target.system_id]
            if not merged_ids:
                continue
            payload: dict[str, str | list[str] | None] = {
                "external_id": target.external_id,
                "merged_external_ids": merged_ids,
                "throughline_id": survivor.throughline_id,
                "merged_throughline_id": absorbed.throughline_id,
            }
            if kind == "erp":  # an ERP customer is one legal entity's: the profile naming it
                payload["legal_entity"] = (
                    survivor.billing_profiles.filter(erp_customer_id=target.external_id)
                    .values_list("legal_entity__code", flat=True)
                    .first()
                )
            enqueue_outbox_message(
                system=target.system,
                kind=operation,
                payload=payload,
                idempotency_key=f"{operation}:{absorbed.pk}->{survivor.pk}:{target.external_id}",
                object_key=f"{object_type}:{target.external_id}",
                local_object=survivor,
                external_object_type=object_type,
            )
            queued += 1
    return queued


@transaction.atomic
def merge_customers(
    *, survivor_id: int, absorbed_id: int, user: "User | None" = None, note: str = ""
) -> Customer:
    """Merge ``absorbed`` into ``survivor``: contacts, billing profiles, children, any other
    model's rows and the cross-references move to the survivor; the absorbed record stays as
    ``merged`` with ``merged_into`` (both histories show the merge); CRM and ERP are told to
    merge their records through the outbox. Raises MergeRefused for a record already merged or
    the same record twice."""
    survivor, absorbed = _lock_pair(survivor_id, absorbed_id)
    who = f" by {user.get_username()}" if user is not None else ""
    reason = f"merge {absorbed.throughline_id} into {survivor.throughline_id}{who}"
    before = {"survivor": refs.refs_of(survivor), "absorbed": refs.refs_of(absorbed)}
    moved = _repoint_relations(absorbed, survivor, reason)
    _repoint_refs(absorbed, survivor)
    survivor.refresh_from_db()
    for name in FILLABLE:
        if not getattr(survivor, name) and getattr(absorbed, name):
            setattr(survivor, name, getattr(absorbed, name))
    save_record(survivor, action="merged", reason=f"absorbed {absorbed.throughline_id}{who}")
    absorbed.refresh_from_db()
    absorbed.status, absorbed.merged_into, absorbed.merged_at = (
        Customer.Status.MERGED,
        survivor,
        timezone.now(),
    )
    absorbed.parent = None
    save_record(absorbed, action="merged", reason=f"merged into {survivor.throughline_id}{who}")
    queued = _send_merge(survivor, absorbed, before)
    record_trace_step(
        kind="note",
        action="merged",
        summary=f"{absorbed} merged into {survivor}" + (f": {note}" if note else ""),
        subject=survivor,
        detail={"moved": moved, "refs": len(before["absorbed"]), "messages": queued},
    )
    return survivor


def related_models() -> list[type[models.Model]]:
    """The models a merge re-points (for the docs and the admin)."""
    return [
        r.related_model
        for r in Customer._meta.related_objects
        if not issubclass(r.related_model, HistoricalChanges)
        and r.related_model is not DuplicateDecision
    ]
