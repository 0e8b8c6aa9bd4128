"""Reading the cross-references of customer-master records (integrations.ExternalRef)."""

from typing import TypeVar

from django.contrib.contenttypes.models import ContentType
from django.db import models

from integrations.models import ExternalRef, ExternalSystem
from mdm.models import Customer

# The object types under which each system kind knows a customer (docs/contract.md §1 ids).
CRM_ACCOUNT, ERP_CUSTOMER, CRM_CONTACT = "account", "customer", "contact"

M = TypeVar("M", bound=models.Model)


def find_local(
    *,
    model: type[M],
    object_type: str,
    external_id: str,
    system: ExternalSystem | None = None,
    kind: str = "",
) -> M | None:
    """The local record that ``external_id`` of ``object_type`` is, in ``system`` (or any system
    of ``kind``), or None."""
    refs = ExternalRef.objects.filter(
        content_type=ContentType.objects.get_for_model(model),
        object_type=object_type,
        external_id=external_id,
    )
    if system is not None:
        refs = refs.filter(system=system)
    elif kind:
        refs = refs.filter(system__kind=kind)
    ref = refs.order_by("pk").first()
    if ref is None:
        return None
    return model._default_manager.filter(pk=ref.object_id).first()


def refs_of(obj: models.Model) -> list[ExternalRef]:
    return list(
        ExternalRef.objects.filter(
            content_type=ContentType.objects.get_for_model(obj), object_id=str(obj.pk)
        )
        .select_related("system")
        .order_by("system__slug", "object_type", "external_id")
    )


def external_id_of(obj: models.Model, *, kind: str, object_type: str) -> str:
    for ref in refs_of(obj):
        if ref.system.kind == kind and ref.object_type == object_type:
            return ref.external_id
    return ""


def resolve_merged(customer: Customer | None) -> Customer | None:
    """Follow ``merged_into`` to the surviving record."""
    seen = 0
    while customer is not None and customer.merged_into_id and seen < 20:
        customer, seen = customer.merged_into, seen + 1
    return customer
