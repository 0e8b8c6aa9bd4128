"""Rate cards and billing rules in the admin: history on, CSV/XLSX import with a preview."""

from django.contrib import admin, messages
from import_export.admin import ImportExportModelAdmin
from simple_history.admin import SimpleHistoryAdmin

from billing.admin.resources import BillingRuleResource, RateResource
from billing.models import BillingRule, Rate, RateCard, RateCardVersion
from billing.services.rate_cards import rates_changed


class RateInline(admin.TabularInline):
    model = Rate
    extra = 1
    autocomplete_fields = ["role"]


class RateCardVersionInline(admin.TabularInline):
    model = RateCardVersion
    extra = 0
    fields = ["valid_from", "valid_to"]
    show_change_link = True


@admin.register(RateCard)
class RateCardAdmin(SimpleHistoryAdmin):
    list_display = ["code", "legal_entity", "currency", "client_account_id", "is_standard"]
    list_filter = ["legal_entity", "currency", "is_standard"]
    search_fields = ["code", "name", "client_account_id"]
    list_select_related = ["legal_entity"]
    readonly_fields = ["created_at"]
    inlines = [RateCardVersionInline]

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        counts = rates_changed(card=form.instance)
        if counts["rated"]:
            messages.info(request, f"{counts['rated']} held time entries were rated.")


@admin.register(RateCardVersion)
class RateCardVersionAdmin(SimpleHistoryAdmin):
    list_display = ["card", "valid_from", "valid_to"]
    list_filter = ["card__legal_entity", "card"]
    search_fields = ["card__code"]
    list_select_related = ["card"]
    inlines = [RateInline]

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        counts = rates_changed(card=form.instance.card)
        if counts["rated"]:
            messages.info(request, f"{counts['rated']} held time entries were rated.")


@admin.register(Rate)
class RateAdmin(ImportExportModelAdmin, SimpleHistoryAdmin):
    """Import/export of flat rate rows; the import shows what changes before it is confirmed."""

    resource_classes = [RateResource]
    list_display = ["version", "role", "hourly"]
    list_filter = ["version__card", "role"]
    search_fields = ["version__card__code", "role__code"]
    list_select_related = ["version__card", "role"]


@admin.register(BillingRule)
class BillingRuleAdmin(ImportExportModelAdmin, SimpleHistoryAdmin):
    resource_classes = [BillingRuleResource]
    list_display = [
        "client_account_id",
        "rounding_increment_hours",
        "rounding",
        "invoice_grouping",
        "non_billable_categories",
    ]
    list_filter = ["rounding", "invoice_grouping"]
    search_fields = ["client_account_id"]
    list_select_related = []
