"""Credentials of external systems (passwords, tokens, client secrets), encrypted at rest.

``ExternalSystem.credentials_encrypted`` holds a Fernet token (the ``cryptography`` package:
AES-128-CBC with an HMAC-SHA256, so a changed token is refused, not misread) of a JSON object
of strings. The keys are ``settings.THROUGHLINE_CREDENTIALS_KEYS``: the first encrypts, every
one decrypts (``MultiFernet``), so a key is rotated by putting a new one first, running
``rotate_credentials_key()`` and then dropping the old one. Unset, the key is derived from
Django's SECRET_KEY (HKDF-SHA256), so the embedded default needs nothing set (settings warn in
production). The system's history records the token, never the values.
"""

import base64
import json
from functools import lru_cache
from typing import Protocol, cast

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from config.errors import DomainError
from integrations.models import ExternalSystem

MASK = "••••"
_HKDF_INFO = b"throughline ExternalSystem.credentials"


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


def rotate_credentials_key() -> int:
    """Re-encrypt every system's credentials, and the tokens kept in their history, with the
    first key of THROUGHLINE_CREDENTIALS_KEYS; returns the systems re-encrypted. Run it after
    putting a new key first; the old key can go once it has run. Raises CredentialsUnreadable
    (nothing changed) when a system's token decrypts with none of the keys."""
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
    return rotated


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


def _fernet() -> MultiFernet:
    return _fernet_for(tuple(settings.THROUGHLINE_CREDENTIALS_KEYS), settings.SECRET_KEY)


@lru_cache(maxsize=4)
def _fernet_for(keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    if not keys:
        return MultiFernet([Fernet(_derived_key(secret_key))])
    try:
        return MultiFernet([Fernet(key.strip().encode()) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "THROUGHLINE_CREDENTIALS_KEYS must be Fernet keys (32 url-safe base64-encoded bytes: "
            "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`)"
        ) from exc


def _derived_key(secret_key: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO)
    return base64.urlsafe_b64encode(hkdf.derive(secret_key.encode()))
