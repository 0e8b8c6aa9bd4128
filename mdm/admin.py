from django import forms
from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from integrations.models import ExternalSystem
from mdm.models import (
    BillingProfile,
    Contact,
    Customer,
    DuplicateDecision,
    FieldOwnership,
    LegalEntity,
)
from mdm.services.routing import KINDS


@admin.register(Customer)
class CustomerAdmin(SimpleHistoryAdmin):
    list_display = ["id", "name", "legal_name", "country", "status", "parent", "merged_into"]
    list_filter = ["status", "country"]
    search_fields = ["name", "legal_name", "website"]
    list_select_related = ["parent", "merged_into"]
    raw_id_fields = ["parent", "merged_into"]
    readonly_fields = [
        "status",
        "merged_into",
        "merged_at",
        "match_name",
        "match_prefix",
        "match_sorted_prefix",
        "website_domain",
        "trace_id",
        "created_at",
        "updated_at",
    ]


class LegalEntityForm(forms.ModelForm):
    """Refuses a route that would be ambiguous: with two or more active systems of a kind, an
    active entity must name the one its records go to."""

    class Meta:
        model = LegalEntity
        fields = [
            "code",
            "name",
            "country",
            "currency",
            "tax_jurisdictions",
            "is_active",
            "crm_system",
            "psa_system",
            "erp_system",
        ]

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("is_active", True):
            return cleaned
        for kind in KINDS:
            field = f"{kind}_system"
            named = cleaned.get(field)
            if named is not None and not named.is_active:
                self.add_error(field, f"{named.slug} is inactive: effects could not be sent")
            active = ExternalSystem.objects.filter(kind=kind, is_active=True)
            if named is None and active.count() > 1:
                slugs = ", ".join(active.order_by("slug").values_list("slug", flat=True))
                self.add_error(
                    field,
                    f"{kind.upper()} systems {slugs} are active: name the one this entity uses",
                )
        return cleaned


@admin.register(LegalEntity)
class LegalEntityAdmin(SimpleHistoryAdmin):
    form = LegalEntityForm
    list_display = [
        "code",
        "name",
        "country",
        "currency",
        "crm_system",
        "psa_system",
        "erp_system",
        "is_active",
    ]
    list_filter = ["country", "currency", "is_active", "erp_system"]
    search_fields = ["code", "name"]
    list_select_related = ["crm_system", "psa_system", "erp_system"]


@admin.register(BillingProfile)
class BillingProfileAdmin(SimpleHistoryAdmin):
    list_display = [
        "customer",
        "legal_entity",
        "erp_customer_id",
        "payment_terms",
        "currency",
        "tax_jurisdiction",
    ]
    list_filter = ["legal_entity", "currency", "payment_terms"]
    search_fields = ["customer__name", "erp_customer_id", "tax_id"]
    list_select_related = ["customer", "legal_entity"]
    raw_id_fields = ["customer", "billing_contact"]


@admin.register(Contact)
class ContactAdmin(SimpleHistoryAdmin):
    list_display = ["__str__", "customer", "email", "title", "is_billing_contact"]
    list_filter = ["is_billing_contact"]
    search_fields = ["first_name", "last_name", "email", "customer__name"]
    list_select_related = ["customer"]
    raw_id_fields = ["customer"]


@admin.register(FieldOwnership)
class FieldOwnershipAdmin(SimpleHistoryAdmin):
    list_display = ["entity", "field", "owner", "note"]
    list_editable = ["owner"]
    list_filter = ["entity", "owner"]
    search_fields = ["field"]
    list_select_related = []


@admin.register(DuplicateDecision)
class DuplicateDecisionAdmin(SimpleHistoryAdmin):
    list_display = ["low", "high", "decided_by", "created_at"]
    search_fields = ["low__name", "high__name"]
    list_select_related = ["low", "high", "decided_by"]
    raw_id_fields = ["low", "high"]
    readonly_fields = ["created_at"]
