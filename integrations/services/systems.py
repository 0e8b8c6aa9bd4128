"""Configure external systems and their signing secrets (docs/contract.md §4 ``systems``)."""

import contextlib
import contextvars
from collections.abc import Iterator

from django.db import transaction
from django.utils import timezone

from config.errors import DomainError
from integrations.models import CircuitBreaker, ExternalSystem, WebhookSecret, new_webhook_secret


class SystemExists(DomainError):
    code = "system_exists"


class SecretNotFound(DomainError):
    code, http_status = "secret_not_found", 404


@transaction.atomic
def add_system(
    *, slug: str, kind: str, connector: str, name: str = ""
) -> tuple[ExternalSystem, str]:
    """Create a system with its first secret and its breaker; refuses an existing slug."""
    if ExternalSystem.objects.filter(slug=slug).exists():
        raise SystemExists(f"a system {slug!r} already exists; nothing changed", slug=slug)
    system = ExternalSystem(slug=slug, kind=kind, connector=connector, name=name or slug.upper())
    system.full_clean()
    system.save()
    secret = WebhookSecret.objects.create(system=system, number=1, secret=new_webhook_secret())
    CircuitBreaker.objects.create(system=system)
    return system, secret.secret


@transaction.atomic
def rotate_secret(*, slug: str) -> WebhookSecret:
    """Add a new active secret; the older ones stay valid until retired."""
    system = ExternalSystem.objects.select_for_update().get(slug=slug)
    last = system.secrets.order_by("-number").first()
    return WebhookSecret.objects.create(
        system=system, number=(last.number + 1) if last else 1, secret=new_webhook_secret()
    )


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
    return list(system.secrets.filter(is_active=True).values_list("secret", flat=True))


_remembered: contextvars.ContextVar[dict[str, ExternalSystem] | None] = contextvars.ContextVar(
    "systems_remembered", default=None
)


@contextlib.contextmanager
def remember_systems() -> Iterator[None]:
    """Within this block (one transaction: a batch of events), each kind's active system is
    looked up once (`make bench`: one query an effect saved). Nothing outlives the block."""
    token = _remembered.set({})
    try:
        yield
    finally:
        _remembered.reset(token)


def get_system_for_kind(kind: str) -> ExternalSystem:
    """The active system of a kind (the first by slug when several are configured)."""
    remembered = _remembered.get()
    if remembered is not None and kind in remembered:
        return remembered[kind]
    system = ExternalSystem.objects.filter(kind=kind, is_active=True).order_by("slug").first()
    if system is None:
        raise DomainError(f"no active {kind} system is configured", kind=kind)
    if remembered is not None:
        remembered[kind] = system
    return system


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
