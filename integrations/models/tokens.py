"""API tokens of machine clients (docs/security.md "Logins, tokens and throttles").

A token is ``tl_<prefix>_<secret>``: the prefix (8 hex digits) is stored in clear to find the
row and to name the token in lists; the whole token is kept only as its SHA-256. Written by
integrations/services/tokens.py, checked by integrations/api/auth.py.
"""

from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from config.roles import ROLES


class ApiToken(models.Model):
    """One token of one named client (``hubspot-sync``), scoped to exactly one role."""

    class Status(models.TextChoices):
        ACTIVE = "active", "active"
        GRACE = "grace", "rotated (valid until expiry)"
        EXPIRED = "expired", "expired"
        REVOKED = "revoked", "revoked"

    client = models.CharField(max_length=150, db_index=True)
    # Blank only for a legacy token converted from a user who held no role (signed-in only).
    role = models.CharField(max_length=20, choices=[(r, r) for r in ROLES], blank=True)
    # The user the client acts as: a service user ``client.<name>`` made for it (a legacy token
    # keeps the user it belonged to).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    prefix = models.CharField(max_length=16, db_index=True)
    digest = models.CharField(max_length=64, unique=True, editable=False)  # SHA-256, hex
    legacy = models.BooleanField(
        default=False, help_text="Converted from a DRF authtoken key (rotate it to a tl_ token)."
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)  # to the minute
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Set when `tokens rotate` replaced it: it stays valid until expires_at (the grace period).
    replaced_at = models.DateTimeField(null=True, blank=True)
    # The systems an ``integration`` token speaks for: it reads those systems' inbound events
    # only (config/policy.py). Other roles ignore it. Rotation copies it.
    systems = models.ManyToManyField(
        "integrations.ExternalSystem",
        blank=True,
        related_name="api_tokens",
        help_text="Systems whose inbound events an integration token may read.",
    )

    class Meta:
        ordering = ["client", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["client"],
                condition=Q(revoked_at__isnull=True, replaced_at__isnull=True),
                name="api_token_one_current_per_client",
            )
        ]

    def __str__(self) -> str:
        return f"{self.client} ({self.shown_prefix})"

    @property
    def shown_prefix(self) -> str:
        """How lists name the token: ``tl_1a2b3c4d`` (a legacy key: its first 8 characters)."""
        return self.prefix if self.legacy else f"tl_{self.prefix}"

    @property
    def throttle_key(self) -> str:
        """What the API's per-token throttle counts by (config/throttles.py)."""
        return f"{self.prefix}.{self.pk}"

    def status(self, now: datetime | None = None) -> "ApiToken.Status":
        now = now or timezone.now()
        if self.revoked_at is not None:
            return self.Status.REVOKED
        if self.expires_at <= now:
            return self.Status.EXPIRED
        if self.replaced_at is not None:
            return self.Status.GRACE
        return self.Status.ACTIVE
