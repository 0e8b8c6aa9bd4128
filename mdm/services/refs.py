"""Writing the cross-references of customer-master records; the reads (and the object types)
are in ``mdm.selectors.refs`` and are re-exported here, so a service needs one import."""

from django.contrib.contenttypes.models import ContentType
from django.db import models

from integrations.models import ExternalRef, ExternalSystem
from mdm.selectors.refs import (
    CRM_ACCOUNT,
    CRM_CONTACT,
    ERP_CUSTOMER,
    external_id_of,
    find_local,
    refs_of,
)

__all__ = [
    "CRM_ACCOUNT",
    "CRM_CONTACT",
    "ERP_CUSTOMER",
    "external_id_of",
    "find_local",
    "link",
    "refs_of",
]


def link(
    *,
    system: ExternalSystem,
    object_type: str,
    external_id: str,
    obj: models.Model,
    trace_id: str = "",
) -> ExternalRef:
    """Record that ``obj`` is ``external_id`` in ``system`` (re-pointing an existing ref)."""
    ref, _created = ExternalRef.objects.get_or_create(
        system=system,
        object_type=object_type,
        external_id=external_id,
        defaults={
            "content_type": ContentType.objects.get_for_model(obj),
            "object_id": str(obj.pk),
            "trace_id": trace_id,
        },
    )
    if ref.object_id != str(obj.pk):
        ref.content_type, ref.object_id = ContentType.objects.get_for_model(obj), str(obj.pk)
        ref.save(update_fields=["content_type", "object_id", "updated_at"])
    return ref
