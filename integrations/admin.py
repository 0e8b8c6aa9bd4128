from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from integrations.models import (
    CircuitBreaker,
    DeliveryAttempt,
    ExternalRef,
    ExternalSystem,
    InboundEvent,
    OutboxMessage,
    RejectedDelivery,
    SandboxCall,
    SandboxRecord,
    SyncRun,
    TraceStep,
    WebhookSecret,
)
from integrations.services import breakers
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


class WebhookSecretInline(admin.TabularInline):
    model = WebhookSecret
    fields = ["number", "masked", "is_active", "created_at", "retired_at"]
    readonly_fields = ["number", "masked", "created_at", "retired_at"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # secrets are made by `manage.py systems rotate-secret`, printed once


@admin.register(ExternalSystem)
class ExternalSystemAdmin(SimpleHistoryAdmin):
    list_display = ["slug", "name", "kind", "connector", "is_active", "breaker_state"]
    list_filter = ["kind", "connector", "is_active"]
    search_fields = ["slug", "name"]
    list_select_related = ["breaker"]
    inlines = [WebhookSecretInline]
    readonly_fields = ["created_at", "updated_at"]

    @admin.display(description="breaker")
    def breaker_state(self, obj) -> str:
        return getattr(getattr(obj, "breaker", None), "state", "-")


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
class InboundEventAdmin(admin.ModelAdmin):
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
    readonly_fields = [f.name for f in InboundEvent._meta.fields if f.name != "payload"] + ["trace"]
    actions = ["replay"]
    date_hierarchy = "received_at"

    trace = admin.display(description="trace")(trace_link)

    @admin.action(description="Replay selected events")
    def replay(self, request, queryset) -> None:
        for event in queryset:
            replay_event(event_id=event.pk)
        self.message_user(request, f"{queryset.count()} event(s) queued again", messages.SUCCESS)


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    fields = ["number", "replay_round", "started_at", "duration_ms", "outcome", "error"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
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

    trace = admin.display(description="trace")(trace_link)

    @admin.action(description="Replay selected messages")
    def replay(self, request, queryset) -> None:
        for message in queryset:
            replay_outbox_message(message_id=message.pk)
        self.message_user(request, f"{queryset.count()} message(s) queued again", messages.SUCCESS)


@admin.register(RejectedDelivery)
class RejectedDeliveryAdmin(admin.ModelAdmin):
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
    readonly_fields = [f.name for f in RejectedDelivery._meta.fields]


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


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    list_display = [
        "system",
        "kind",
        "status",
        "started_at",
        "finished_at",
        "read_count",
        "changed_count",
        "failed_count",
    ]
    list_filter = ["status", "system", "kind"]
    search_fields = ["trace_id"]
    list_select_related = ["system"]


@admin.register(TraceStep)
class TraceStepAdmin(admin.ModelAdmin):
    list_display = ["at", "trace_id", "kind", "action", "summary"]
    list_filter = ["kind"]
    search_fields = ["trace_id", "summary"]


@admin.register(SandboxRecord)
class SandboxRecordAdmin(admin.ModelAdmin):
    list_display = ["created_at", "system", "operation", "external_id", "idempotency_key"]
    list_filter = ["system", "operation"]
    search_fields = ["external_id", "idempotency_key"]
    list_select_related = ["system"]


@admin.register(SandboxCall)
class SandboxCallAdmin(admin.ModelAdmin):
    list_display = ["at", "system", "operation", "outcome", "idempotency_key"]
    list_filter = ["system", "operation", "outcome"]
    search_fields = ["idempotency_key"]
    list_select_related = ["system"]
