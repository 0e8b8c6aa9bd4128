from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from config.admin import LedgerAdminMixin
from integrations import (
    admin_ledgers,  # noqa: F401 registers the pure ledgers' admin
    admin_tokens,  # noqa: F401 registers the API tokens' admin
)
from integrations.admin_crm import FieldMappingInline
from integrations.models import (
    CircuitBreaker,
    DeliveryAttempt,
    ExternalRef,
    ExternalSystem,
    InboundEvent,
    OutboxMessage,
    RejectedDelivery,
    WebhookSecret,
)
from integrations.registry import routing_checks
from integrations.services import breakers
from integrations.services.credentials import (
    CredentialsUnreadable,
    masked_credentials,
    rotate_keys,
    set_credentials,
)
from integrations.services.inbox import replay_event
from integrations.services.outbox import replay_outbox_message


def trace_link(obj) -> str:
    if not obj.trace_id:
        return "-"
    return format_html(
        '<a href="{}">{}</a>',
        reverse("integrations:trace_detail", args=[obj.trace_id]),
        obj.trace_id[:12],
    )


def raw_bytes_shown(obj) -> str:
    """A delivery's raw bytes, shown only: their size, base64 (byte for byte) and as text."""
    raw = obj.raw_bytes
    if raw is None:
        return "-"
    return format_html(
        "{} bytes<br>base64: <code style='word-break: break-all'>{}</code><br>as text:<pre>{}</pre>",
        len(raw),
        obj.raw_base64,
        raw[:10000].decode("utf-8", "replace"),
    )


class WebhookSecretInline(admin.TabularInline):
    """Masked only: the secret is stored encrypted (``secret_encrypted``, not editable, never
    shown) and printed once by the command that makes it."""

    model = WebhookSecret
    fields = ["number", "masked", "is_active", "created_at", "retired_at"]
    readonly_fields = ["number", "masked", "created_at", "retired_at"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # secrets are made by `manage.py systems rotate-secret`, printed once


# The credentials a connector may need (Tryton: username, password, database; Salesforce:
# client_id (the connected app's consumer key), username, private_key (PEM)). Shown masked,
# never in clear.
CREDENTIAL_FIELDS = (
    "username",
    "password",
    "database",
    "client_id",
    "client_secret",
    "token",
    "private_key",
)
SYSTEM_FIELDS = [
    "slug",
    "name",
    "kind",
    "connector",
    "base_url",
    "is_active",
    "rate_limit_per_minute",
]


def _credential_field() -> forms.CharField:
    return forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )


class ExternalSystemForm(forms.ModelForm):
    """The system's fields, plus its credentials as password inputs: a blank input keeps the
    stored value (its mask is the placeholder), ``forget`` removes the ticked ones."""

    base_url = forms.URLField(
        required=False,
        assume_scheme="https",
        help_text=ExternalSystem._meta.get_field("base_url").help_text,
    )
    username = _credential_field()
    password = _credential_field()
    database = _credential_field()
    client_id = _credential_field()
    client_secret = _credential_field()
    token = _credential_field()
    private_key = forms.CharField(
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "off"}),
        help_text="A PEM private key (Salesforce's JWT sign-in); never shown again once saved.",
    )
    forget = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Remove these stored credentials.",
    )

    class Meta:
        model = ExternalSystem
        fields = [*SYSTEM_FIELDS, "settings"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.unreadable = ""
        stored: dict[str, str] = {}
        if self.instance.pk:
            try:
                stored = masked_credentials(self.instance)
            except CredentialsUnreadable as exc:
                self.unreadable = exc.message
        for name in CREDENTIAL_FIELDS:
            shown = stored.get(name, "")
            self.fields[name].widget.attrs["placeholder"] = shown or "not set"
            if shown:
                self.fields[name].help_text = f"stored: {shown}; leave blank to keep it"
        self.fields["forget"].choices = [(name, name.replace("_", " ")) for name in stored]

    def credential_changes(self) -> dict[str, str]:
        """What to store: each filled input, and ``""`` (remove) for each ticked key."""
        changes = dict.fromkeys(self.cleaned_data.get("forget") or (), "")
        for name in CREDENTIAL_FIELDS:
            if self.cleaned_data.get(name):
                changes[name] = self.cleaned_data[name]
        return changes

    def clean(self) -> dict:
        cleaned = super().clean()
        if self.unreadable and self.credential_changes():
            raise forms.ValidationError(self.unreadable)
        self._refuse_ambiguous_routing(cleaned)
        return cleaned

    def _refuse_ambiguous_routing(self, cleaned: dict) -> None:
        """A second active system of a kind takes over nothing silently: every entity must
        name its system of that kind first (the routing checks say which do not)."""
        kind = cleaned.get("kind")
        if not kind or not cleaned.get("is_active"):
            return
        others = ExternalSystem.objects.filter(kind=kind, is_active=True)
        if self.instance.pk:
            others = others.exclude(pk=self.instance.pk)
        if not others.exists():
            return
        unnamed = sorted(code for check in routing_checks.values() for code in check(kind))
        if unnamed:
            raise forms.ValidationError(
                f"{', '.join(o.slug for o in others)} is already an active {kind.upper()} and "
                f"{', '.join(unnamed)} name no {kind.upper()}: name each entity's system in "
                "Legal entities first (or add this one inactive)"
            )


@admin.register(ExternalSystem)
class ExternalSystemAdmin(SimpleHistoryAdmin):
    form = ExternalSystemForm
    list_display = ["slug", "name", "kind", "connector", "is_active", "breaker_state"]
    list_filter = ["kind", "connector", "is_active"]
    search_fields = ["slug", "name"]
    list_select_related = ["breaker"]
    inlines = [WebhookSecretInline, FieldMappingInline]
    readonly_fields = ["stored_credentials", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": SYSTEM_FIELDS}),
        ("Connector settings (in clear: never secrets)", {"fields": ["settings"]}),
        (
            "Credentials (encrypted at rest)",
            {"fields": ["stored_credentials", *CREDENTIAL_FIELDS, "forget"]},
        ),
        (None, {"fields": ["created_at", "updated_at"]}),
    ]
    actions = ["rotate_credentials"]

    @admin.display(description="breaker")
    def breaker_state(self, obj) -> str:
        return getattr(getattr(obj, "breaker", None), "state", "-")

    @admin.display(description="stored credentials")
    def stored_credentials(self, obj) -> str:
        if obj is None or not obj.pk:
            return "-"
        try:
            masked = masked_credentials(obj)
        except CredentialsUnreadable as exc:
            return exc.message
        return ", ".join(f"{key} {value}" for key, value in masked.items()) or "none"

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        changes = form.credential_changes()
        if changes:
            set_credentials(obj, changes)

    @admin.action(
        description="Re-encrypt every system's credentials and webhook secrets with the first key"
    )
    def rotate_credentials(self, request, queryset) -> None:
        try:
            done = rotate_keys()
        except CredentialsUnreadable as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        self.message_user(
            request,
            f"credentials of {done.systems} system(s) and {done.webhook_secrets} webhook "
            "secret(s) re-encrypted",
            messages.SUCCESS,
        )


@admin.register(CircuitBreaker)
class CircuitBreakerAdmin(SimpleHistoryAdmin):
    list_display = [
        "system",
        "state",
        "consecutive_failures",
        "opened_at",
        "changed_at",
        "failure_threshold",
        "recovery_seconds",
    ]
    list_filter = ["state"]
    search_fields = ["system__slug"]
    list_select_related = ["system"]
    readonly_fields = [
        "state",
        "consecutive_failures",
        "window_started_at",
        "window_calls",
        "window_failures",
        "opened_at",
        "probe_started_at",
        "last_failure",
        "paused_until",
        "changed_at",
    ]
    actions = ["open_breakers", "close_breakers"]

    @admin.action(description="Open selected breakers (stop calling)")
    def open_breakers(self, request, queryset) -> None:
        for breaker in queryset:
            breakers.force_state(system_id=breaker.system_id, state=CircuitBreaker.State.OPEN)
        self.message_user(request, f"{queryset.count()} breaker(s) opened")

    @admin.action(description="Close selected breakers (resume calls)")
    def close_breakers(self, request, queryset) -> None:
        for breaker in queryset:
            breakers.force_state(system_id=breaker.system_id, state=CircuitBreaker.State.CLOSED)
        self.message_user(request, f"{queryset.count()} breaker(s) closed")


@admin.register(InboundEvent)
class InboundEventAdmin(LedgerAdminMixin, admin.ModelAdmin):
    list_display = [
        "webhook_id",
        "system",
        "event_type",
        "status",
        "occurred_at",
        "received_at",
        "attempts",
        "trace",
    ]
    list_filter = ["status", "system", "event_type"]
    search_fields = ["webhook_id", "trace_id", "object_key"]
    list_select_related = ["system"]
    readonly_fields = [f.name for f in InboundEvent._meta.fields if f.name != "raw_base64"] + [
        "trace",
        "raw_delivery",
    ]

    @admin.display(description="raw bytes (never edited)")
    def raw_delivery(self, obj) -> str:
        return raw_bytes_shown(obj)

    actions = ["replay"]
    date_hierarchy = "received_at"

    @admin.display(description="trace")
    def trace(self, obj) -> str:
        return trace_link(obj)

    @admin.action(description="Replay selected events")
    def replay(self, request, queryset) -> None:
        for event in queryset:
            replay_event(event_id=event.pk)
        self.message_user(request, f"{queryset.count()} event(s) queued again", messages.SUCCESS)


class DeliveryAttemptInline(LedgerAdminMixin, admin.TabularInline):
    model = DeliveryAttempt
    fields = ["number", "replay_round", "started_at", "duration_ms", "outcome", "error"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(OutboxMessage)
class OutboxMessageAdmin(LedgerAdminMixin, admin.ModelAdmin):
    list_display = [
        "kind",
        "system",
        "status",
        "attempts",
        "next_attempt_at",
        "created_at",
        "sent_at",
        "trace",
    ]
    list_filter = ["status", "system", "kind", "error_class"]
    search_fields = ["idempotency_key", "trace_id", "object_key", "external_id"]
    list_select_related = ["system"]
    readonly_fields = [f.name for f in OutboxMessage._meta.fields] + ["trace"]
    inlines = [DeliveryAttemptInline]
    actions = ["replay"]
    date_hierarchy = "created_at"

    @admin.display(description="trace")
    def trace(self, obj) -> str:
        return trace_link(obj)

    @admin.action(description="Replay selected messages")
    def replay(self, request, queryset) -> None:
        # A message already sent (or being sent) is left alone by the service: not counted.
        queued = sum(
            replay_outbox_message(message_id=message.pk).status == OutboxMessage.Status.PENDING
            for message in queryset
        )
        self.message_user(request, f"{queued} message(s) queued again", messages.SUCCESS)


@admin.register(RejectedDelivery)
class RejectedDeliveryAdmin(LedgerAdminMixin, admin.ModelAdmin):
    list_display = [
        "received_at",
        "system_slug",
        "reason",
        "detail",
        "webhook_id",
        "body_size",
        "remote_addr",
    ]
    list_filter = ["reason", "system_slug"]
    search_fields = ["webhook_id", "detail"]
    readonly_fields = [f.name for f in RejectedDelivery._meta.fields if f.name != "raw_base64"] + [
        "raw_delivery"
    ]

    @admin.display(description="raw bytes (never edited)")
    def raw_delivery(self, obj) -> str:
        return raw_bytes_shown(obj)


@admin.register(ExternalRef)
class ExternalRefAdmin(SimpleHistoryAdmin):
    list_display = [
        "system",
        "object_type",
        "external_id",
        "content_type",
        "object_id",
        "created_at",
    ]
    list_filter = ["system", "object_type"]
    search_fields = ["external_id", "object_id", "trace_id"]
    list_select_related = ["system", "content_type"]
