"""The admin of a CRM's field mapping (FieldMapping: shown on the system's page, every change
in history) and of the API quota each peer reports (read only)."""

from django.contrib import admin, messages
from simple_history.admin import SimpleHistoryAdmin

from config.admin import LedgerAdminMixin
from integrations.models import ApiUsage, ExternalSystem, FieldMapping
from integrations.services.field_mappings import seed_field_mappings


class FieldMappingInline(admin.TabularInline):
    model = FieldMapping
    fields = ["record", "field", "source", "values"]
    extra = 0
    ordering = ["record", "field"]
    verbose_name = "mapped field"
    verbose_name_plural = (
        "Field mapping (Salesforce: our field ← the org's API name; every change in history)"
    )


@admin.register(FieldMapping)
class FieldMappingAdmin(SimpleHistoryAdmin):
    list_display = ["system", "record", "field", "source", "values"]
    list_filter = ["system", "record"]
    list_editable = ["source"]
    search_fields = ["field", "source"]
    list_select_related = ["system"]
    actions = ["add_defaults"]

    @admin.action(description="Add the default rows the selected rows' systems lack")
    def add_defaults(self, request, queryset) -> None:
        systems = ExternalSystem.objects.filter(pk__in=queryset.values("system"))
        added = sum(seed_field_mappings(system) for system in systems)
        self.message_user(request, f"{added} default field row(s) added", messages.SUCCESS)


@admin.register(ApiUsage)
class ApiUsageAdmin(LedgerAdminMixin, admin.ModelAdmin):
    list_display = ["system", "used", "allowed", "share_shown", "observed_at"]
    readonly_fields = ["system", "used", "allowed", "observed_at"]

    @admin.display(description="share")
    def share_shown(self, obj) -> str:
        return f"{obj.share:.1%}"
