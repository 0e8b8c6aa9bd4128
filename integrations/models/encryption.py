"""The keys that encrypt the integrations' secrets at rest: a peer's credentials
(``ExternalSystem.credentials_encrypted``, integrations/services/credentials.py) and the
webhook signing secrets (``WebhookSecret.secret_encrypted``).

Fernet (the ``cryptography`` package: AES-128-CBC with an HMAC-SHA256, so a changed token is
refused, not misread) with the keys of ``settings.THROUGHLINE_CREDENTIALS_KEYS``: the first
encrypts, every one decrypts (``MultiFernet``). Unset, one key is derived from Django's
SECRET_KEY (HKDF-SHA256). Set, the derived key still decrypts (last, never encrypting), so a
deployment that started without keys of its own (``make run``, or one that set them late)
moves to them by setting them and re-encrypting (``manage.py systems rotate-key``), with
nothing unreadable in between; once that ran, nothing depends on SECRET_KEY any more. A leaf
module under the models (the model and migration 0008 read it); it knows nothing of what it
encrypts.
"""

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

__all__ = ["InvalidToken", "decrypt_text", "encrypt_text", "fernet", "reencrypt_text"]

# The derived key's label predates the webhook secrets; changing it would make every stored
# token unreadable, so both kinds of secret share it.
_HKDF_INFO = b"throughline ExternalSystem.credentials"


def fernet() -> MultiFernet:
    """The configured keys (the first encrypts); ImproperlyConfigured when one is malformed."""
    return _fernet_for(tuple(settings.THROUGHLINE_CREDENTIALS_KEYS), settings.SECRET_KEY)


def encrypt_text(clear: str) -> str:
    """A Fernet token (text) of ``clear`` under the first key."""
    return fernet().encrypt(clear.encode()).decode()


def decrypt_text(token: str) -> str:
    """``token`` in clear; raises ``InvalidToken`` when no configured key decrypts it.

    Remembered per process for the keys in use (a token is never re-used for another value,
    and a change of the keys starts afresh, so a removed key no longer decrypts anything)."""
    return _decrypted(fernet(), token)


def reencrypt_text(token: str) -> str:
    """``token`` re-encrypted under the first key (``InvalidToken`` when none decrypts it)."""
    return fernet().rotate(token.encode()).decode()


@lru_cache(maxsize=512)
def _decrypted(keys: MultiFernet, token: str) -> str:
    # Keyed on the MultiFernet itself: _fernet_for makes a new one whenever the keys change.
    return keys.decrypt(token.encode()).decode()


@lru_cache(maxsize=4)
def _fernet_for(keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    derived = Fernet(_derived_key(secret_key))
    try:
        return MultiFernet([*(Fernet(key.strip().encode()) for key in keys), derived])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "THROUGHLINE_CREDENTIALS_KEYS must be Fernet keys (32 url-safe base64-encoded bytes: "
            "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`)"
        ) from exc


def _derived_key(secret_key: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO)
    return base64.urlsafe_b64encode(hkdf.derive(secret_key.encode()))
