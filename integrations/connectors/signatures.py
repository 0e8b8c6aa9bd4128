"""Standard Webhooks signature verification over the raw body bytes.

The signed content is ``<webhook-id>.<webhook-timestamp>.<body>``; ``webhook-signature`` holds
one or more space-separated ``v1,<base64 HMAC-SHA256>``. We verify the raw bytes ourselves
(the ``standardwebhooks`` package decodes the body as text first, which turns a non-UTF-8 body
into a crash instead of a clean 401/400); the package signs in our tests and outbound hooks.
"""

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Iterable


class SignatureRejected(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason  # "signature" or "timestamp"
        self.detail = detail


class NoSignatureMatched(SignatureRejected):
    """The headers are well formed and timely, but no offered signature matches a secret."""


def _secret_bytes(secret: str) -> bytes:
    raw = secret.removeprefix("whsec_")
    return base64.b64decode(raw + "==")


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The ``v1,<base64>`` signature of one delivery."""
    digest = hmac.new(
        _secret_bytes(secret), f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256
    )
    return "v1," + base64.b64encode(digest.digest()).decode()


def verify(
    *,
    body: bytes,
    webhook_id: str,
    timestamp: str,
    signature: str,
    secrets: Iterable[str],
    tolerance_seconds: int,
    now: float | None = None,
) -> int:
    """Check the headers of one delivery against any active secret; returns the timestamp.

    Raises SignatureRejected("signature" | "timestamp", detail); NoSignatureMatched (one)
    when only the secrets failed it.
    """
    if not (webhook_id and timestamp and signature):
        raise SignatureRejected(
            "signature", "missing webhook-id, webhook-timestamp or webhook-signature"
        )
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise SignatureRejected("timestamp", "webhook-timestamp is not unix seconds") from None
    now = time.time() if now is None else now
    if abs(now - sent_at) > tolerance_seconds:
        raise SignatureRejected(
            "timestamp",
            f"webhook-timestamp is {int(now - sent_at)} s away from now (tolerance {tolerance_seconds} s)",
        )
    offered: list[bytes] = []
    for item in signature.split():
        version, _, value = item.partition(",")
        if version != "v1" or not value:
            continue
        try:
            offered.append(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            continue
    if not offered:
        raise SignatureRejected("signature", "no v1 signature in webhook-signature")
    signed = f"{webhook_id}.{sent_at}.".encode() + body
    for secret in secrets:
        expected = hmac.new(_secret_bytes(secret), signed, hashlib.sha256).digest()
        if any(hmac.compare_digest(expected, candidate) for candidate in offered):
            return sent_at
    raise NoSignatureMatched("signature", "no signature matches an active secret of this system")
