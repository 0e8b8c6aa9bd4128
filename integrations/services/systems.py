"""Configure external systems and their signing secrets (docs/contract.md §4 ``systems``)."""

import contextlib
import contextvars
from collections.abc import Iterator, Sequence

from django.db import transaction
from django.utils import timezone

from config.errors import DomainError
from integrations.models import CircuitBreaker, ExternalSystem, WebhookSecret, new_webhook_secret
from integrations.registry import routing_guards
from integrations.services.field_mappings import seed_field_mappings


class SystemExists(DomainError):
    code = "system_exists"


class SecretNotFound(DomainError):
    code, http_status = "secret_not_found", 404


@transaction.atomic
def add_system(
    *,
    slug: str,
    kind: str,
    connector: str,
    name: str = "",
    entities: Sequence[str] = (),
    base_url: str = "",
    settings: dict | None = None,
    is_active: bool = True,
) -> tuple[ExternalSystem, str, list[str]]:
    """Create a system with its first secret and its breaker, and route the legal entities
    ``entities`` (codes) to it. Refuses an existing slug, and (through the routing guards) a
    second active system of a kind that would leave an entity's route ambiguous. Returns
    (system, webhook secret, notes on routing)."""
    if ExternalSystem.objects.filter(slug=slug).exists():
        raise SystemExists(f"a system {slug!r} already exists; nothing changed", slug=slug)
    system = ExternalSystem(
        slug=slug,
        kind=kind,
        connector=connector,
        name=name or slug.upper(),
        base_url=base_url,
        settings=settings or {},
        is_active=is_active,
    )
    system.full_clean()
    system.save()
    secret = _new_secret(system, number=1)
    CircuitBreaker.objects.create(system=system)
    seed_field_mappings(system)
    notes: list[str] = []
    for guard in routing_guards.values():
        notes.extend(guard(system, list(entities)))
    return system, secret.secret, notes


@transaction.atomic
def switch_firm_to(
    *, slug: str, kind: str, connector: str, base_url: str, settings: dict, name: str = ""
) -> tuple[ExternalSystem, list[str]]:
    """Make ``slug`` the firm's only active system of ``kind`` (created, or updated with this
    address and settings): the others of the kind are deactivated (their history says so) and
    every legal entity is routed to it. For trying a real peer on a demo firm (`make tryton`)."""
    system = ExternalSystem.objects.filter(slug=slug).first()
    if system is None:
        system, _secret, _notes = add_system(  # inactive until the others make way
            slug=slug, kind=kind, connector=connector, name=name, base_url=base_url, is_active=False
        )
    if system.kind != kind or system.connector != connector:
        raise DomainError(f"{slug} is a {system.connector} {system.kind}, not {connector} {kind}")
    notes = []
    for other in ExternalSystem.objects.filter(kind=kind, is_active=True).exclude(pk=system.pk):
        other.is_active = False
        other._change_reason = f"replaced by {slug}"  # type: ignore[attr-defined]
        other.save(update_fields=["is_active", "updated_at"])
        notes.append(f"{other.slug} deactivated")
    system.base_url, system.settings, system.is_active = base_url, settings, True
    system.full_clean()
    system.save()
    for guard in routing_guards.values():
        notes.extend(guard(system, ["*"]))
    return system, notes


@transaction.atomic
def rotate_secret(*, slug: str) -> WebhookSecret:
    """Add a new active secret; the older ones stay valid until retired."""
    system = ExternalSystem.objects.select_for_update().get(slug=slug)
    last = system.secrets.order_by("-number").first()
    return _new_secret(system, number=(last.number + 1) if last else 1)


def _new_secret(system: ExternalSystem, *, number: int) -> WebhookSecret:
    """A new active secret, stored encrypted (``WebhookSecret.secret`` encrypts on write)."""
    secret = WebhookSecret(system=system, number=number)
    secret.secret = new_webhook_secret()
    secret.save(force_insert=True)
    return secret


@transaction.atomic
def retire_secret(*, slug: str, number: int) -> WebhookSecret:
    system = ExternalSystem.objects.select_for_update().get(slug=slug)
    secret = system.secrets.filter(number=number, is_active=True).first()
    if secret is None:
        raise SecretNotFound(f"{slug} has no active secret #{number}", slug=slug, number=number)
    if system.secrets.filter(is_active=True).count() == 1:
        raise DomainError(f"#{number} is the only active secret of {slug}; rotate first")
    secret.is_active = False
    secret.retired_at = timezone.now()
    secret.save(update_fields=["is_active", "retired_at"])
    return secret


def active_secrets(system: ExternalSystem) -> list[str]:
    """The system's active signing secrets in clear (stored encrypted: WebhookSecret.secret);
    raises WebhookSecretUnreadable when one does not decrypt with the configured keys."""
    return [secret.secret for secret in system.secrets.filter(is_active=True)]


class AmbiguousRouting(DomainError):
    code, http_status = "ambiguous_routing", 409


_remembered: contextvars.ContextVar[dict[tuple, ExternalSystem] | None] = contextvars.ContextVar(
    "systems_remembered", default=None
)


@contextlib.contextmanager
def remember_systems() -> Iterator[None]:
    """Within this block (one transaction: a batch of events), each route is looked up once
    (`make bench`: one query an effect saved). Nothing outlives the block."""
    token = _remembered.set({})
    try:
        yield
    finally:
        _remembered.reset(token)


def system_for(kind: str, *, named_id: int | None = None, subject: str = "") -> ExternalSystem:
    """The system an effect of ``kind`` goes to: the one ``named_id`` names (a legal entity's
    ERP, CRM or PSA), else the only active system of the kind.

    Never guesses: a named system that is inactive or of another kind, no active system, or
    two or more with nothing named each raise a DomainError saying what to configure (the
    caller's transaction fails and its event is retried or dead-lettered with that reason).
    ``subject`` names the record in the message ("legal entity UK").
    """
    remembered = _remembered.get()
    route = (kind, named_id)
    if remembered is not None and route in remembered:
        return remembered[route]
    system = _named(kind, named_id, subject) if named_id else _only(kind, subject)
    if remembered is not None:
        remembered[route] = system
    return system


def _named(kind: str, named_id: int, subject: str) -> ExternalSystem:
    system = ExternalSystem.objects.filter(pk=named_id).first()
    if system is None or system.kind != kind:
        raise DomainError(f"{subject or 'the record'} names a {kind.upper()} that is not one")
    if not system.is_active:
        raise DomainError(
            f"{subject or 'the record'} names {kind.upper()} {system.slug!r}, which is inactive",
            kind=kind,
            system=system.slug,
        )
    return system


def _only(kind: str, subject: str) -> ExternalSystem:
    active = list(ExternalSystem.objects.filter(kind=kind, is_active=True).order_by("slug")[:3])
    if not active:
        raise DomainError(f"no active {kind} system is configured", kind=kind)
    if len(active) > 1:
        slugs = ", ".join(s.slug for s in active[:2]) + (" …" if len(active) > 2 else "")
        raise AmbiguousRouting(
            f"{len(active)} active {kind.upper()} systems ({slugs}) and "
            f"{subject or 'this record'} names none: name its {kind.upper()} on the legal "
            "entity (admin, Legal entities) or run systems add with --entities",
            kind=kind,
        )
    return active[0]


def get_system_for_kind(kind: str) -> ExternalSystem:
    """The only active system of a kind (effects with no legal entity to route by)."""
    return system_for(kind)


@transaction.atomic
def set_sandbox_faults(
    *,
    system: ExternalSystem,
    clear: bool = False,
    outage_minutes: float | None = None,
    **faults: object,
) -> ExternalSystem:
    """Change a sandbox peer's fault injection (admin, command, tests). ``None`` leaves a key
    unchanged; ``clear`` removes every fault first. Recorded in the system's history."""
    from datetime import timedelta

    system = ExternalSystem.objects.select_for_update().get(pk=system.pk)
    current = {} if clear else dict((system.settings or {}).get("sandbox", {}))
    for key, value in faults.items():
        if value is not None:
            current[key] = value
    if outage_minutes is not None:
        current["outage_until"] = (timezone.now() + timedelta(minutes=outage_minutes)).isoformat()
    system.settings = {**(system.settings or {}), "sandbox": current}
    system.save(update_fields=["settings", "updated_at"])
    return system
