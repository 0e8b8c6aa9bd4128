import base64
import secrets

from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models
from simple_history.models import HistoricalRecords

from config.errors import DomainError
from integrations.connectors import http
from integrations.connectors.names import KINDS_SERVED, ConnectorName, serving_error
from integrations.models.encryption import InvalidToken, decrypt_text, encrypt_text


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class ExternalSystem(models.Model):
    """One configured peer (a CRM, PSA or ERP instance) and how Throughline talks to it."""

    class Kind(models.TextChoices):
        CRM = "crm", "CRM"
        PSA = "psa", "PSA"
        ERP = "erp", "ERP"

    # The connector names, their labels and the kinds each serves: integrations/connectors/names.py.
    Connector = ConnectorName

    slug = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=120, blank=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    connector = models.CharField(
        max_length=20, choices=Connector.choices, default=Connector.SANDBOX
    )
    base_url = models.URLField(
        blank=True,
        help_text="The peer's address: public, unless THROUGHLINE_ALLOW_PRIVATE_PEERS lists it.",
    )
    # Connector settings (company, sandbox fault injection …), in clear: never secrets.
    settings = models.JSONField(default=dict, blank=True)
    # Secrets (passwords, tokens): a Fernet token of a JSON object, written and read only by
    # integrations/services/credentials.py (key: THROUGHLINE_CREDENTIALS_KEYS).
    credentials_encrypted = models.TextField(blank=True, editable=False)
    is_active = models.BooleanField(default=True)
    rate_limit_per_minute = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Webhook deliveries accepted per minute; empty: the default.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug

    def clean(self) -> None:
        """Refuse a connector that cannot serve the system's kind and a ``base_url`` that is
        not a safe peer (integrations/connectors/http.py). A host that does not resolve here
        is accepted: every request checks it again when it is sent."""
        super().clean()
        errors: dict[str, str] = {}
        problem = serving_error(self.connector, self.kind) if self.kind else ""
        if self.connector in KINDS_SERVED and problem:
            errors["connector"] = problem
        if self.base_url:
            try:
                http.check_peer_url(self.base_url)
            except http.PermanentError as exc:
                errors["base_url"] = exc.message
            except http.RetryableError:
                pass
        if errors:
            raise ValidationError(errors)

    def active_secret_values(self) -> list[str]:
        """The active signing secrets in clear (prefetch ``secrets`` to spare a query); raises
        WebhookSecretUnreadable when one does not decrypt with the configured keys."""
        return [secret.secret for secret in self.secrets.all() if secret.is_active]


class WebhookSecretUnreadable(DomainError):
    """A signing secret does not decrypt with THROUGHLINE_CREDENTIALS_KEYS (a key removed or
    changed): a fault of this server's configuration, not of a sender."""

    code, http_status = "webhook_secret_unreadable", 503


class WebhookSecret(models.Model):
    """A signing secret of a system. Two may be active while a rotation is under way.

    Stored encrypted only (``secret_encrypted``: a Fernet token under
    THROUGHLINE_CREDENTIALS_KEYS, integrations/models/encryption.py); ``secret`` reads and
    writes it in clear, so ``WebhookSecret(secret=...)`` and ``.secret`` work as before. The
    key is rotated with integrations/services/credentials.py ``rotate_credentials_key()``."""

    system = models.ForeignKey(ExternalSystem, on_delete=models.CASCADE, related_name="secrets")
    number = models.PositiveIntegerField(help_text="1, 2, 3 ... in order of creation")
    secret_encrypted = models.TextField(editable=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["system", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["system", "number"], name="uniq_secret_number_per_system"
            )
        ]

    def __str__(self) -> str:
        return f"{self.system.slug} secret #{self.number}"

    @property
    def secret(self) -> str:
        """The secret in clear; raises WebhookSecretUnreadable naming it when no key decrypts
        it (decryptions are remembered per process: integrations/models/encryption.py)."""
        try:
            return decrypt_text(self.secret_encrypted)
        except InvalidToken as exc:
            raise WebhookSecretUnreadable(
                f"webhook secret #{self.number} of system {self.system_id} cannot be decrypted "
                "with THROUGHLINE_CREDENTIALS_KEYS (was the key that encrypted it removed or "
                "changed? put it back after the first key)",
                system_id=self.system_id,
                number=self.number,
            ) from exc

    @secret.setter
    def secret(self, value: str) -> None:
        self.secret_encrypted = encrypt_text(value)

    @property
    def masked(self) -> str:
        """``whsec_…`` and the secret's last four characters (never more); a sentence when it
        cannot be decrypted, so a page that lists secrets still opens."""
        try:
            return f"whsec_…{self.secret[-4:]}"
        except WebhookSecretUnreadable:
            return "unreadable with the configured keys"


class ExternalRef(models.Model):
    """A cross-reference: this local record is that object in that system."""

    system = models.ForeignKey(ExternalSystem, on_delete=models.PROTECT, related_name="refs")
    object_type = models.CharField(max_length=60)
    external_id = models.CharField(max_length=120)
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
    object_id = models.CharField(max_length=64)
    local_object = GenericForeignKey("content_type", "object_id")
    trace_id = models.CharField(max_length=32, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["system", "object_type", "external_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["system", "object_type", "external_id"], name="uniq_external_ref"
            )
        ]
        indexes = [models.Index(fields=["content_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.system.slug}:{self.object_type}:{self.external_id}"


class CircuitBreaker(models.Model):
    """The breaker of one external system, shared by every worker through the database."""

    class State(models.TextChoices):
        CLOSED = "closed", "Closed (calls flow)"
        OPEN = "open", "Open (calls deferred)"
        HALF_OPEN = "half_open", "Half-open (one probe)"

    system = models.OneToOneField(ExternalSystem, on_delete=models.CASCADE, related_name="breaker")
    state = models.CharField(max_length=10, choices=State.choices, default=State.CLOSED)
    # Thresholds (editable in the admin).
    failure_threshold = models.PositiveIntegerField(
        default=5, help_text="Consecutive failures that open the breaker."
    )
    error_rate_threshold = models.DecimalField(
        max_digits=4,
        decimal_places=2,
        default="0.50",
        help_text="Share of failed calls in the window that opens the breaker (0-1).",
    )
    window_seconds = models.PositiveIntegerField(
        default=60, help_text="Error-rate window, seconds."
    )
    min_calls_in_window = models.PositiveIntegerField(
        default=20, help_text="Calls needed in the window before the error rate counts."
    )
    recovery_seconds = models.PositiveIntegerField(
        default=30, help_text="Seconds an open breaker waits before letting one probe through."
    )
    # Live state.
    consecutive_failures = models.PositiveIntegerField(default=0)
    window_started_at = models.DateTimeField(null=True, blank=True)
    window_calls = models.PositiveIntegerField(default=0)
    window_failures = models.PositiveIntegerField(default=0)
    opened_at = models.DateTimeField(null=True, blank=True)
    probe_started_at = models.DateTimeField(null=True, blank=True)
    last_failure = models.TextField(blank=True)
    paused_until = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Open at least until then: the peer said its quota is spent (Salesforce's "
        "daily API requests); empty: only recovery_seconds apply.",
    )
    changed_at = models.DateTimeField(null=True, blank=True)

    # Records admin edits of the thresholds; the runtime changes state with queryset updates.
    history = HistoricalRecords()

    class Meta:
        ordering = ["system"]

    def __str__(self) -> str:
        return f"{self.system.slug}: {self.state}"
