"""API tokens of machine clients: issue, rotate, revoke, check (docs/security.md).

A token is shown once, when it is issued; the database keeps its SHA-256 (the secret part is
256 random bits, so a fast hash is enough: there is nothing to guess by brute force) and an
8-hex-digit prefix in clear to find it. Each client has at most one *current* token (neither
revoked nor replaced), scoped to exactly one role, acting as the client's service user
``client.<name>`` (in that role's group, with no password).
"""

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from config.errors import DomainError
from config.roles import INTEGRATION, ROLES, User, ensure_role_groups
from integrations.models import ApiToken, ExternalSystem

SCHEME = "tl_"
CLIENT_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,59}")
LEGACY_KEY = re.compile(r"[0-9a-f]{40}")  # a DRF authtoken key, converted by migration 0005
SERVICE_USER_PREFIX = "client."
LAST_USED_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often
MAX_GRACE = timedelta(days=7)


class TokenError(DomainError):
    """A token command was refused; nothing was changed."""

    code, http_status = "token_refused", 400


class TokenRefused(Exception):
    """The presented token does not authenticate; ``reason`` says why (the 401's detail)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str  # the whole token, ``tl_<prefix>_<secret>``: print it once, never store it


def digest_of(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def prefix_of(raw: str) -> str | None:
    """The stored prefix a presented token is looked up by, or None for a malformed one."""
    if raw.startswith(SCHEME):
        parts = raw.split("_", 2)
        return parts[1] if len(parts) == 3 and len(parts[1]) == 8 and parts[2] else None
    return raw[:8] if LEGACY_KEY.fullmatch(raw) else None


def _new_secret() -> tuple[str, str]:
    while True:
        prefix = secrets.token_hex(4)
        if not ApiToken.objects.filter(prefix=prefix).exists():
            return prefix, f"{SCHEME}{prefix}_{secrets.token_urlsafe(32)}"


def _lifetime(days: int | None) -> timedelta:
    days = settings.API_TOKEN_DEFAULT_DAYS if days is None else days
    if days < 1:
        raise TokenError("a token lives at least 1 day (--days)")
    return timedelta(days=days)


def _service_user(client: str, role: str) -> User:
    """The client's own user, in exactly ``role``'s group, with no password."""
    ensure_role_groups()
    user, created = get_user_model().objects.get_or_create(
        username=SERVICE_USER_PREFIX + client, defaults={"first_name": "API client"}
    )
    if not created and user.has_usable_password():
        raise TokenError(f"user {user.username} is a person (has a password), not an API client")
    user.set_unusable_password()
    user.is_staff = user.is_superuser = False
    user.is_active = True
    user.save()
    user.groups.set([Group.objects.get(name=role)])
    return user


def _current(client: str) -> ApiToken | None:
    return (
        ApiToken.objects.select_for_update()
        .filter(client=client, revoked_at__isnull=True, replaced_at__isnull=True)
        .first()
    )


def _save_new(
    client: str, role: str, user: User, expires_at: datetime, systems: list[ExternalSystem]
) -> IssuedToken:
    prefix, raw = _new_secret()
    token = ApiToken.objects.create(
        client=client,
        role=role,
        user=user,
        prefix=prefix,
        digest=digest_of(raw),
        expires_at=expires_at,
    )
    token.systems.set(systems)
    return IssuedToken(token=token, secret=raw)


def _systems(slugs: list[str]) -> list[ExternalSystem]:
    """The systems named by slug; an unknown slug refuses the command."""
    found = {system.slug: system for system in ExternalSystem.objects.filter(slug__in=slugs)}
    unknown = sorted(set(slugs) - set(found))
    if unknown:
        raise TokenError(f"unknown system {', '.join(unknown)}")
    return [found[slug] for slug in dict.fromkeys(slugs)]


@transaction.atomic
def issue_token(
    *,
    client: str,
    role: str,
    days: int | None = None,
    systems: list[str] | None = None,
    now: datetime | None = None,
) -> IssuedToken:
    """A new token for ``client``. Refused while the client has an active token (it is never
    shown again nor widened: rotate or revoke it); an expired one is revoked on the way.
    ``systems`` (slugs) are the systems an ``integration`` token speaks for."""
    now = now or timezone.now()
    if not CLIENT_NAME.fullmatch(client):
        raise TokenError(
            f"client name {client!r}: lowercase letters, digits, '.', '_' or '-', at most 60"
        )
    if role not in ROLES:
        raise TokenError(f"unknown role {role!r} (one of {', '.join(ROLES)})")
    if systems and role != INTEGRATION:
        raise TokenError("--systems is for integration tokens only")
    lifetime = _lifetime(days)
    chosen = _systems(systems or [])
    current = _current(client)
    if current is not None and current.status(now) == ApiToken.Status.ACTIVE:
        raise TokenError(f"client {client} already has an active token; rotate or revoke it")
    if current is not None:
        current.revoked_at = now
        current.save(update_fields=["revoked_at"])
    return _save_new(client, role, _service_user(client, role), now + lifetime, chosen)


@transaction.atomic
def rotate_token(
    *, client: str, days: int | None = None, grace_minutes: int = 0, now: datetime | None = None
) -> IssuedToken:
    """A new token for ``client`` with the same role and user; the current one keeps working
    for ``grace_minutes`` (never past its own expiry), then answers "token replaced"."""
    now = now or timezone.now()
    grace = timedelta(minutes=grace_minutes)
    if grace < timedelta(0) or grace > MAX_GRACE:
        raise TokenError(f"--grace-minutes: 0 to {int(MAX_GRACE.total_seconds() // 60)}")
    lifetime = _lifetime(days)
    current = _current(client)
    if current is None:
        raise TokenError(f"client {client} has no current token; create one")
    current.replaced_at = now
    current.expires_at = min(current.expires_at, now + grace)
    current.save(update_fields=["replaced_at", "expires_at"])
    systems = list(current.systems.all())
    return _save_new(client, current.role, current.user, now + lifetime, systems)


@transaction.atomic
def revoke_tokens(*, ref: str, now: datetime | None = None) -> list[ApiToken]:
    """Revoke every unrevoked token of the client named ``ref`` (the current one and any in
    its grace period), or the one token whose prefix is ``ref`` (``tl_`` optional)."""
    now = now or timezone.now()
    live = ApiToken.objects.select_for_update().filter(revoked_at__isnull=True)
    tokens = list(live.filter(client=ref))
    if not tokens:
        prefix = ref.removeprefix(SCHEME)
        tokens = list(live.filter(prefix=prefix)) if prefix else []
    if not tokens:
        raise TokenError(f"no unrevoked token of a client or with the prefix {ref!r}")
    for token in tokens:
        token.revoked_at = now
        token.save(update_fields=["revoked_at"])
    return tokens


def revoke_token_ids(ids: list[int], *, now: datetime | None = None) -> int:
    """Revoke the unrevoked tokens among ``ids`` (the admin's action); how many were."""
    return ApiToken.objects.filter(pk__in=ids, revoked_at__isnull=True).update(
        revoked_at=now or timezone.now()
    )


def list_tokens() -> QuerySet[ApiToken]:
    return ApiToken.objects.order_by("client", "-created_at")


def authenticate_token(raw: str, *, now: datetime | None = None) -> ApiToken:
    """The token ``raw`` is, if it may be used now; else TokenRefused with the reason. Looks
    the row up by prefix and compares the hashes in constant time."""
    now = now or timezone.now()
    prefix = prefix_of(raw)
    if prefix is None:
        raise TokenRefused("malformed token")
    digest = digest_of(raw)
    token = None
    for candidate in ApiToken.objects.select_related("user").filter(prefix=prefix):
        if hmac.compare_digest(candidate.digest, digest):
            token = candidate
    if token is None:
        raise TokenRefused("invalid token")
    status = token.status(now)
    if status == ApiToken.Status.REVOKED:
        raise TokenRefused("token revoked")
    if status == ApiToken.Status.EXPIRED:
        raise TokenRefused("token replaced by rotation" if token.replaced_at else "token expired")
    if not token.user.is_active:
        raise TokenRefused("client disabled")
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_EVERY:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
