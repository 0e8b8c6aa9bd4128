"""The receiver's per-process cache of active systems and their signing secrets in clear.

Each web process keeps a system and its active secrets for SYSTEM_CACHE_SECONDS: two queries
saved on every delivery (`make bench`), and the secrets' decryption (stored encrypted:
WebhookSecret; a miss decrypts only tokens this process has not seen under the same keys,
integrations/models/encryption.py). A change saved through the ORM in this process (rotate or
retire a secret, re-encrypt under a new key, edit or deactivate a system, in the admin or a
command) clears it at once (integrations/handlers.py); other processes see it within
SYSTEM_CACHE_SECONDS. Secrets that do not decrypt are cached as None: the receiver answers 503,
and the fault is logged once per process and interval.
"""

import logging
import re
import time

from integrations.models import ExternalSystem, WebhookSecretUnreadable

logger = logging.getLogger("integrations.services.inbox")
SYSTEM_CACHE_SECONDS = 5.0
_SLUG = re.compile(r"[-a-zA-Z0-9_]{1,40}")  # ExternalSystem.slug: anything else names none
_systems: dict[str, tuple[float, ExternalSystem, list[str] | None]] = {}


def forget() -> None:
    """Drop every cached system."""
    _systems.clear()


def active_system(slug: str) -> tuple[ExternalSystem | None, list[str] | None]:
    """The active system named ``slug`` and its active secrets in clear (None: they do not
    decrypt with the configured keys), or (None, []) when there is no such system."""
    cached = _systems.get(slug)
    if cached and cached[0] > time.monotonic():
        return cached[1], cached[2]
    if not _SLUG.fullmatch(slug):  # no query for a name no system can have (NUL, 5,000 chars)
        return None, []
    system = (
        ExternalSystem.objects.filter(slug=slug, is_active=True).prefetch_related("secrets").first()
    )
    if system is None:
        return None, []  # unknown systems are not cached: adding one takes effect at once
    secrets: list[str] | None
    try:
        secrets = system.active_secret_values()
    except WebhookSecretUnreadable as exc:
        logger.error("webhook.secrets_unreadable", extra={"system": slug, "detail": exc.message})
        secrets = None
    _systems[slug] = (time.monotonic() + SYSTEM_CACHE_SECONDS, system, secrets)
    return system, secrets
