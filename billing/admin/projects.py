"""Admin of projects, contracts, templates and the reference data they use."""

from django.contrib import admin, messages
from simple_history.admin import SimpleHistoryAdmin

from billing.models import (
    Contract,
    EventSubscription,
    FxRate,
    Milestone,
    OpportunityDeal,
    Person,
    Phase,
    Project,
    ProjectTemplate,
    Role,
    TaxRate,
    TemplatePhase,
)
from billing.services.contracts import AMENDABLE, edit_contract_terms


class TemplatePhaseInline(admin.TabularInline):
    model = TemplatePhase
    extra = 1
    fields = ["position", "code", "name"]


@admin.register(ProjectTemplate)
class ProjectTemplateAdmin(SimpleHistoryAdmin):
    list_display = ["code", "name", "billing_models"]
    list_filter: list = []
    search_fields = ["code", "name"]
    list_select_related: list = []
    inlines = [TemplatePhaseInline]


class MilestoneInline(admin.TabularInline):
    model = Milestone
    extra = 0
    fields = ["name", "amount", "due_date", "completed_on"]
    readonly_fields = ["completed_on"]


@admin.register(Contract)
class ContractAdmin(SimpleHistoryAdmin):
    """Amendable terms may be edited here (recorded as an amendment, ``contract_amended`` sent);
    entity, currency, billing model, customer and account decide the ledger and stay as won."""

    list_display = [
        "crm_opportunity_id",
        "name",
        "customer",
        "legal_entity",
        "billing_model",
        "amount",
        "currency",
        "not_to_exceed",
        "start_date",
        "end_date",
        "amendment_count",
    ]
    list_filter = ["billing_model", "currency", "legal_entity"]
    search_fields = ["crm_opportunity_id", "crm_account_id", "name", "customer__name", "po_number"]
    list_select_related = ["customer", "legal_entity"]
    readonly_fields = [
        "crm_opportunity_id",
        "crm_account_id",
        "customer",
        "legal_entity",
        "billing_model",
        "currency",
        "amendment_count",
        "last_event_at",
        "trace_id",
        "created_at",
        "updated_at",
    ]
    inlines = [MilestoneInline]

    def has_add_permission(self, request) -> bool:
        return False  # contracts come from closed-won deals

    def save_model(self, request, obj, form, change) -> None:
        if not change:
            return super().save_model(request, obj, form, change)
        values = {name: form.cleaned_data[name] for name in form.changed_data if name in AMENDABLE}
        changed = edit_contract_terms(contract_id=obj.pk, values=values, user=request.user)
        if changed:
            messages.info(request, f"Recorded as an amendment: {', '.join(sorted(changed))}.")
        obj.refresh_from_db()
        return None


class PhaseInline(admin.TabularInline):
    model = Phase
    extra = 0
    fields = ["position", "code", "name", "status"]
    readonly_fields = ["status"]  # the PSA's (psa.project.updated)


@admin.register(Project)
class ProjectAdmin(SimpleHistoryAdmin):
    list_display = ["name", "customer", "status", "psa_project_id", "template", "created_at"]
    list_filter = ["status", "template", "contract__billing_model"]
    search_fields = ["name", "psa_project_id", "contract__crm_opportunity_id", "customer__name"]
    list_select_related = ["customer", "template"]
    readonly_fields = [
        "contract",
        "customer",
        "psa_project_id",
        "trace_id",
        "created_at",
        "updated_at",
    ]
    inlines = [PhaseInline]


@admin.register(Milestone)
class MilestoneAdmin(SimpleHistoryAdmin):
    list_display = ["name", "contract", "amount", "due_date", "completed_on"]
    list_filter = [("completed_on", admin.EmptyFieldListFilter), "contract__currency"]
    search_fields = ["name", "contract__crm_opportunity_id", "contract__name"]
    list_select_related = ["contract"]
    readonly_fields = ["completed_on"]


@admin.register(OpportunityDeal)
class OpportunityDealAdmin(SimpleHistoryAdmin):
    list_display = ["crm_opportunity_id", "crm_account_id", "status", "contract", "validated_at"]
    list_filter = ["status"]
    search_fields = ["crm_opportunity_id", "crm_account_id", "trace_id"]
    list_select_related = ["contract"]
    readonly_fields = [
        "crm_opportunity_id",
        "crm_account_id",
        "data",
        "overrides",
        "status",
        "errors",
        "contract",
        "last_event_at",
        "validated_at",
        "trace_id",
        "created_at",
        "updated_at",
    ]

    def has_add_permission(self, request) -> bool:
        return False  # deals come from the CRM; fixes go through the contract_invalid item


@admin.register(EventSubscription)
class EventSubscriptionAdmin(admin.ModelAdmin):
    list_display = ["event_type", "system", "is_active", "created_at"]
    list_filter = ["event_type", "is_active"]
    search_fields = ["event_type", "system__slug"]
    list_select_related = ["system"]


@admin.register(Role)
class RoleAdmin(SimpleHistoryAdmin):
    list_display = ["code", "name"]
    list_filter: list = []
    search_fields = ["code", "name"]
    list_select_related: list = []


@admin.register(Person)
class PersonAdmin(SimpleHistoryAdmin):
    list_display = ["email", "name", "role", "legal_entity", "cost_rate", "weekly_capacity_hours"]
    list_filter = ["role", "legal_entity"]
    search_fields = ["email", "name"]
    list_select_related = ["role", "legal_entity"]


@admin.register(TaxRate)
class TaxRateAdmin(SimpleHistoryAdmin):
    list_display = ["jurisdiction", "rate", "valid_from"]
    list_filter = ["jurisdiction"]
    search_fields = ["jurisdiction"]
    list_select_related: list = []


@admin.register(FxRate)
class FxRateAdmin(SimpleHistoryAdmin):
    list_display = ["from_currency", "to_currency", "rate", "date"]
    list_filter = ["from_currency", "to_currency"]
    search_fields = ["from_currency", "to_currency"]
    list_select_related: list = []
    date_hierarchy = "date"
