"""Credentials of external systems (passwords, tokens, client secrets), encrypted at rest.

``ExternalSystem.credentials_encrypted`` holds a Fernet token (the ``cryptography`` package:
AES-128-CBC with an HMAC-SHA256, so a changed token is refused, not misread) of a JSON object
of strings. The keys are ``settings.THROUGHLINE_CREDENTIALS_KEYS``: the first encrypts, every
one decrypts (``MultiFernet``), so a key is rotated by putting a new one first, running
``rotate_credentials_key()`` and then dropping the old one. Unset, the key is derived from
Django's SECRET_KEY (HKDF-SHA256), so the embedded default needs nothing set (settings warn in
production). The system's history records the token, never the values. The keys themselves
live in integrations/models/encryption.py: the webhook signing secrets
(``WebhookSecret.secret_encrypted``) use the same ones, and the rotation re-encrypts them too.
"""

import json
from dataclasses import dataclass
from typing import Protocol, cast

from cryptography.fernet import InvalidToken
from django.db import transaction

from config.errors import DomainError
from integrations.models import ExternalSystem, WebhookSecret
from integrations.models.encryption import fernet as _fernet

MASK = "••••"


class CredentialsUnreadable(DomainError):
    """A system's credentials do not decrypt with the configured keys."""

    code, http_status = "credentials_unreadable", 409


def set_credentials(system: ExternalSystem, values: dict[str, str]) -> None:
    """Merge ``values`` into ``system``'s credentials (a value ``""`` removes its key) and save;
    the history row of the change names the keys, never the values. Raises
    CredentialsUnreadable when the stored ones cannot be read (nothing is changed)."""
    with transaction.atomic():
        locked = ExternalSystem.objects.select_for_update().get(pk=system.pk)
        current = get_credentials(locked)
        for key, value in values.items():
            if not isinstance(key, str) or not isinstance(value, str) or not key:
                raise DomainError(f"credential {key!r} of {system.slug}: keys and values are text")
            if value:
                current[key] = value
            else:
                current.pop(key, None)
        locked.credentials_encrypted = _encrypt(current) if current else ""
        _save(locked, reason=f"credentials: {', '.join(sorted(values))}")
    system.credentials_encrypted = locked.credentials_encrypted


def get_credentials(system: ExternalSystem) -> dict[str, str]:
    """``system``'s credentials in clear (``{}`` when none are stored); raises
    CredentialsUnreadable naming the system when the token does not decrypt."""
    if not system.credentials_encrypted:
        return {}
    try:
        clear = _fernet().decrypt(system.credentials_encrypted.encode())
    except InvalidToken as exc:
        raise CredentialsUnreadable(
            f"the credentials of {system.slug} cannot be decrypted with THROUGHLINE_CREDENTIALS_KEYS "
            "(was the key that encrypted them removed or changed? put it back after the first key, "
            "or set the credentials again)",
            system=system.slug,
        ) from exc
    values = json.loads(clear)
    return {str(key): str(value) for key, value in values.items()}


def masked_credentials(system: ExternalSystem) -> dict[str, str]:
    """Each credential as ``"••••1234"`` (its last four characters; only ``"••••"`` for a
    value of eight or fewer, which four would give away)."""
    return {key: _mask(value) for key, value in sorted(get_credentials(system).items())}


@dataclass(frozen=True)
class KeyRotation:
    """What ``rotate_keys`` re-encrypted."""

    systems: int  # systems whose credentials were re-encrypted
    webhook_secrets: int  # webhook signing secrets re-encrypted (active and retired)


def rotate_credentials_key() -> int:
    """Re-encrypt every system's credentials, the tokens kept in their history and every
    webhook signing secret with the first key of THROUGHLINE_CREDENTIALS_KEYS; returns the
    systems whose credentials were re-encrypted (``rotate_keys`` counts both). Run it after
    putting a new key first; the old key can go once it has run. Raises CredentialsUnreadable
    (nothing changed) when a system's token or a webhook secret decrypts with none of the
    keys."""
    return rotate_keys().systems


def rotate_keys() -> KeyRotation:
    """``rotate_credentials_key``, with what it re-encrypted of each kind."""
    fernet = _fernet()
    rotated = 0
    with transaction.atomic():
        systems = ExternalSystem.objects.select_for_update().exclude(credentials_encrypted="")
        for system in systems.order_by("pk"):
            get_credentials(system)  # a clear error naming the system, before anything changes
            system.credentials_encrypted = fernet.rotate(
                system.credentials_encrypted.encode()
            ).decode()
            _save(system, reason="credentials: key rotated")
            rotated += 1
        history = ExternalSystem.history.model.objects.exclude(credentials_encrypted="")
        for row in history.only("pk", "credentials_encrypted"):
            try:
                token = fernet.rotate(row.credentials_encrypted.encode()).decode()
            except InvalidToken:
                token = ""  # a past value under a key already gone: unreadable anyway
            history.filter(pk=row.pk).update(credentials_encrypted=token)
        secrets = _rotate_webhook_secrets()
    return KeyRotation(systems=rotated, webhook_secrets=secrets)


def _rotate_webhook_secrets() -> int:
    """Re-encrypt every webhook secret, retired ones too. An active one that no key decrypts
    raises CredentialsUnreadable naming it (the caller's transaction then changes nothing); a
    retired one is left as it is (never used again, unreadable anyway). Saved one by one
    through the ORM, so the receiver's per-process cache is cleared (integrations/handlers.py)."""
    fernet = _fernet()
    rows = (
        WebhookSecret.objects.select_for_update(of=("self",))
        .select_related("system")
        .order_by("pk")
    )
    count = 0
    for secret in rows:
        try:
            secret.secret_encrypted = fernet.rotate(secret.secret_encrypted.encode()).decode()
        except InvalidToken as exc:
            if not secret.is_active:
                continue
            raise CredentialsUnreadable(
                f"webhook secret #{secret.number} of {secret.system.slug} cannot be decrypted "
                "with THROUGHLINE_CREDENTIALS_KEYS (was the key that encrypted it removed or "
                "changed? put it back after the first key, or rotate the secret and retire it)",
                system=secret.system.slug,
                number=secret.number,
            ) from exc
        secret.save(update_fields=["secret_encrypted"])
        count += 1
    return count


class _WithChangeReason(Protocol):
    _change_reason: str


def _save(system: ExternalSystem, *, reason: str) -> None:
    """Save the token; simple-history reads ``_change_reason`` off the instance for its row."""
    cast(_WithChangeReason, system)._change_reason = reason[:100]
    system.save(update_fields=["credentials_encrypted", "updated_at"])


def _mask(value: str) -> str:
    return MASK + value[-4:] if len(value) > 8 else MASK


def _encrypt(values: dict[str, str]) -> str:
    return _fernet().encrypt(json.dumps(values, sort_keys=True).encode()).decode()
