"""Refused deliveries, recorded and bounded (docs/contract.md §1, docs/operations.md "Hostile
input").

A delivery refused before its signature is verified (unknown system, oversize body, malformed
signature headers, a signature that fails) counts against its source address's budget,
WEBHOOK_UNSIGNED_PER_IP_PER_MINUTE refusals a minute. Within it each refusal gets its own
RejectedDelivery row, with the raw body as evidence. Past it the sender is answered 429 and the
refusal is only counted: one aggregate row per address and minute (reason ``rate_limited``,
``count`` the refusals it stands for), so a flood adds a row a minute and loses no count. The
budget of the system a forged request names is never touched (it is counted after the
signature). A signed delivery over its system's budget is counted the same way, in one
aggregate row per system and minute.
"""

import ipaddress
import logging
import threading
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.db.models import F
from django.utils import timezone

from integrations.models import ExternalSystem, RejectedDelivery
from integrations.models.inbox import base64_of
from integrations.models.rows import insert_if_new
from integrations.services.inbox.guards import HEADER_BOUNDS, storable

logger = logging.getLogger("integrations.services.inbox")
KEPT_HEADERS = ("webhook-id", "webhook-timestamp", "content-type", "content-length", "user-agent")
_KEPT_LENGTHS = {
    **dict.fromkeys(KEPT_HEADERS, 200),
    "webhook-signature": HEADER_BOUNDS["webhook-signature"],
}

# The cache is down: count in this process instead (keys name their minute, so old ones never
# match again; the dict is emptied when it grows).
_local_lock = threading.Lock()
_local_counts: dict[str, int] = {}


def client_address(remote_addr: str | None) -> str | None:
    """``remote_addr`` when it is an IP address the column can hold, else None."""
    if not remote_addr:
        return None
    try:
        return str(ipaddress.ip_address(remote_addr.split("%", 1)[0]))
    except ValueError:
        return None


def _refusals_this_minute(address: str | None, now: datetime) -> int:
    key = f"webhook-refused:{address or '-'}:{now:%Y%m%d%H%M}"
    try:
        cache.add(key, 0, timeout=90)
        try:
            return cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=90)
            return 1
    except Exception:  # noqa: BLE001 the shared cache is down: count in this process
        logger.warning("webhook.refusal_count_unavailable", exc_info=True)
        with _local_lock:
            if len(_local_counts) > 10_000:
                _local_counts.clear()
            _local_counts[key] = _local_counts.get(key, 0) + 1
            return _local_counts[key]


def refuse(
    *,
    system: ExternalSystem | None,
    slug: str,
    reason: str,
    detail: str,
    headers: dict[str, str],
    body: bytes,
    remote_addr: str | None,
    keep_body: bool = True,
) -> int | None:
    """Record one delivery refused before its signature was verified. Returns the seconds to
    send in Retry-After when its address is over its budget (the caller answers 429), else
    None (the caller answers the refusal)."""
    address, now = client_address(remote_addr), timezone.now()
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    if _refusals_this_minute(address, now) > settings.WEBHOOK_UNSIGNED_PER_IP_PER_MINUTE:
        count_in_aggregate(
            key=f"address:{address or '-'}:{now:%Y%m%d%H%M}",
            system=None,
            slug=slug,
            address=address,
            detail=f"refusals from {address or 'an unknown address'} in the minute from "
            f"{now:%H:%M} UTC past WEBHOOK_UNSIGNED_PER_IP_PER_MINUTE "
            f"({settings.WEBHOOK_UNSIGNED_PER_IP_PER_MINUTE}); the first was: {detail}",
        )
        return 60 - now.second
    RejectedDelivery.objects.create(
        system=system,
        system_slug=storable(slug[:80]),
        reason=reason,
        detail=storable(detail[:300]),
        webhook_id=storable(headers.get("webhook-id", "")[:200]),
        headers={
            k: storable(v[: _KEPT_LENGTHS[k]]) for k, v in headers.items() if k in _KEPT_LENGTHS
        },
        body_excerpt=storable(body[:2000].decode("utf-8", "replace")) if keep_body else "",
        raw_base64=base64_of(body) if keep_body and len(body) <= limit else None,
        body_size=len(body),
        remote_addr=address,
    )
    logger.warning(
        "webhook.rejected", extra={"system": slug[:80], "reason": reason, "detail": detail[:300]}
    )
    return None


def count_in_aggregate(
    *,
    key: str,
    system: ExternalSystem | None,
    slug: str,
    address: str | None,
    detail: str,
    reason: str = RejectedDelivery.Reason.RATE_LIMITED,
) -> None:
    """Add one to the aggregate row ``key`` (created, with ``reason``, by the first refusal
    it counts)."""
    counted = RejectedDelivery.objects.filter(aggregate_key=key).update(count=F("count") + 1)
    if counted:
        return
    row = RejectedDelivery(
        system=system,
        system_slug=storable(slug[:80]),
        reason=reason,
        detail=storable(detail[:300]),
        remote_addr=address,
        aggregate_key=key,
        count=1,
    )
    if not insert_if_new(row):  # another process created it in between: count in it
        RejectedDelivery.objects.filter(aggregate_key=key).update(count=F("count") + 1)
        return
    logger.warning("webhook.refusals_aggregated", extra={"key": key, "detail": detail[:300]})


def count_over_system_budget(system: ExternalSystem) -> None:
    """A signed delivery refused (429) because its system is over its per-minute budget."""
    now = timezone.now()
    count_in_aggregate(
        key=f"system:{system.pk}:{now:%Y%m%d%H%M}",
        system=system,
        slug=system.slug,
        address=None,
        detail=f"signed deliveries over the system's budget in the minute from {now:%H:%M} UTC "
        "(answered 429 with Retry-After)",
    )


def count_unreadable_secrets(system: ExternalSystem, webhook_id: str) -> None:
    """A delivery answered 503 because this server cannot decrypt its system's signing secrets
    (a key missing from THROUGHLINE_CREDENTIALS_KEYS): counted in one row per system and minute
    (reason ``secrets_unreadable``), not against the sender's address, whose fault it is not."""
    now = timezone.now()
    count_in_aggregate(
        key=f"secrets:{system.pk}:{now:%Y%m%d%H%M}",
        system=system,
        slug=system.slug,
        address=None,
        detail=f"deliveries in the minute from {now:%H:%M} UTC answered 503: the signing "
        "secrets of this system do not decrypt with THROUGHLINE_CREDENTIALS_KEYS (the first: "
        f"webhook-id {storable(webhook_id[:120])!r})",
        reason=RejectedDelivery.Reason.SECRETS_UNREADABLE,
    )
