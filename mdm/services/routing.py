"""Routing by legal entity: each entity names its CRM, PSA and ERP (an acquired firm keeps its own
ledger); an effect about a record goes to the system its entity names, else to the only active
system of the kind. A second system of a kind never takes over silently: adding one either
names the entities it serves (the others are pinned to the system they used) or is refused.
"""

from collections.abc import Sequence

from django.db import transaction

from config.errors import DomainError
from config.history_rows import record_history
from integrations.models import ExternalSystem
from integrations.services.systems import AmbiguousRouting, system_for
from mdm.models import LegalEntity

KINDS = ("crm", "psa", "erp")


def system_for_entity(kind: str, entity: LegalEntity | None) -> ExternalSystem:
    """The system an effect of ``kind`` about a record of ``entity`` goes to (raises a
    DomainError naming what to configure when there is none or the choice is ambiguous)."""
    if entity is None:
        return system_for(kind)
    return system_for(
        kind, named_id=getattr(entity, f"{kind}_system_id"), subject=f"legal entity {entity.code}"
    )


@transaction.atomic
def route_new_system(system: ExternalSystem, entity_codes: Sequence[str]) -> list[str]:
    """``routing_guards``: route ``entity_codes`` to the new ``system``; pin every other entity
    that names none of the kind to the system it used until now; refuse (AmbiguousRouting) when
    that system is not one. Returns what changed, in words."""
    field = f"{system.kind}_system"
    entities = LegalEntity.objects.select_for_update().order_by("code")
    if list(entity_codes) == ["*"]:  # every active entity (the firm switches systems)
        entity_codes = list(entities.filter(is_active=True).values_list("code", flat=True))
    codes = sorted(set(entity_codes))
    known = set(entities.filter(code__in=codes).values_list("code", flat=True))
    if missing := [code for code in codes if code not in known]:
        raise DomainError(f"no legal entity {', '.join(missing)}; nothing changed", codes=missing)
    others = list(
        ExternalSystem.objects.filter(kind=system.kind, is_active=True)
        .exclude(pk=system.pk)
        .order_by("slug")
    )
    unnamed = list(
        entities.filter(is_active=True, **{f"{field}__isnull": True}).exclude(code__in=codes)
    )
    notes: list[str] = []
    if others and unnamed and system.is_active:
        if not codes or len(others) > 1:
            raise AmbiguousRouting(_ambiguous_message(system, others, unnamed))
        pinned = entities.filter(pk__in=[e.pk for e in unnamed])
        pinned.update(**{field: others[0]})
        record_history(pinned, reason=f"{field} pinned to {others[0].slug}: {system.slug} added")
        notes.append(
            f"{_codes(unnamed)} keep {others[0].slug} as their {system.kind.upper()} (now named)"
        )
    if codes:
        entities.filter(code__in=codes).update(**{field: system})
        record_history(entities.filter(code__in=codes), reason=f"{field} routed to {system.slug}")
        notes.append(f"{', '.join(codes)} now route {system.kind.upper()} effects to {system.slug}")
    elif others:
        notes.append(f"{system.slug} serves no legal entity yet: name it on the ones it serves")
    return notes


def _ambiguous_message(system: ExternalSystem, others: list, unnamed: list) -> str:
    kind = system.kind.upper()
    existing = ", ".join(o.slug for o in others)
    if len(others) > 1:
        return (
            f"{_codes(unnamed)} name no {kind} and {existing} are already active: name each "
            f"entity's {kind} in the admin (Legal entities) first; nothing changed"
        )
    return (
        f"{existing} is the active {kind}: a second one would leave {_codes(unnamed)} without a "
        f"clear {kind}. Name the legal entities {system.slug} serves (--entities CODE[,CODE]); "
        "nothing changed"
    )


def _codes(entities: list[LegalEntity]) -> str:
    return ", ".join(e.code for e in entities)


def entities_naming_none(kind: str) -> list[str]:
    """``routing_checks``: active entities that name no system of ``kind``."""
    return list(
        LegalEntity.objects.filter(is_active=True, **{f"{kind}_system__isnull": True})
        .order_by("code")
        .values_list("code", flat=True)
    )
