from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from config.admin import NoRevertMixin
from config.errors import DomainError
from exceptions_queue.models import (
    ExceptionComment,
    ExceptionItem,
    ExceptionMember,
    QueueSubscription,
)
from exceptions_queue.services import assign_exception_item


class ExceptionMemberInline(admin.TabularInline):
    model = ExceptionMember
    fields = ["member_key", "amount", "currency", "hours", "description", "added_at", "released_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # members are raised by workflows, never typed in


class ExceptionCommentInline(admin.TabularInline):
    model = ExceptionComment
    fields = ["created_at", "kind", "author", "text"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # comments go through the item page (a service records them)


@admin.register(ExceptionItem)
class ExceptionItemAdmin(NoRevertMixin, SimpleHistoryAdmin):
    """Read-only but for the assignee (through the service); no delete, no revert."""

    list_display = [
        "id",
        "type_code",
        "queue",
        "severity",
        "status",
        "subject_ref",
        "occurrence_count",
        "amount_at_risk",
        "currency",
        "assignee",
        "due_at",
        "first_seen_at",
    ]
    list_filter = [
        "queue",
        "status",
        "severity",
        "type_code",
        ("due_at", admin.DateFieldListFilter),
    ]
    search_fields = ["subject_ref", "subject_key", "summary", "trace_id"]
    list_select_related = ["assignee"]
    readonly_fields = [f.name for f in ExceptionItem._meta.fields if f.name != "assignee"] + [
        "page_link"
    ]
    inlines = [ExceptionMemberInline, ExceptionCommentInline]
    actions = ["claim_selected"]

    @admin.display(description="queue page")
    def page_link(self, obj) -> str:
        return format_html(
            '<a href="{}">open in the queue</a>',
            reverse("exceptions_queue:item_detail", args=[obj.pk]),
        )

    def save_model(self, request, obj, form, change) -> None:
        # The only editable field is the assignee, and it goes through the service (history,
        # status, activity) rather than a plain save.
        if change and "assignee" in form.changed_data:
            assign_exception_item(item_id=obj.pk, assignee=obj.assignee, by=request.user)

    def has_add_permission(self, request) -> bool:
        return False  # items are raised by workflows

    @admin.action(description="Claim selected open items")
    def claim_selected(self, request, queryset) -> None:
        for item in queryset.filter(status__in=ExceptionItem.OPEN_STATUSES):
            try:
                assign_exception_item(item_id=item.pk, assignee=request.user, by=request.user)
            except DomainError as exc:
                self.message_user(request, f"#{item.pk}: {exc.message}", level=messages.WARNING)


@admin.register(QueueSubscription)
class QueueSubscriptionAdmin(admin.ModelAdmin):
    list_display = ["queue", "system", "is_active", "created_at"]
    list_filter = ["queue", "is_active"]
    search_fields = ["system__slug"]
    list_select_related = ["system"]
    readonly_fields = ["created_at"]
