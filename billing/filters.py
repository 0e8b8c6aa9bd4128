"""The FilterSets of billing's pages and API (docs/contract.md §2 filters)."""

import django_filters
from django import forms
from django.core.validators import RegexValidator
from django.db.models import Q
from drf_spectacular.utils import extend_schema_field

from billing.models import BillingRun, Contract, Invoice, Project, RateCard, TimeEntry
from billing.periods import period_from_text
from exceptions_queue.models import ControlResult


@extend_schema_field({"type": "integer", "minimum": 1})
class IdFilter(django_filters.NumberFilter):
    """A row's id: a whole number from 1 to the id column's limit; anything else answers 400
    (a number too large for the column would fail in the database, a 500)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(*args, **kwargs)


class TimeEntryFilter(django_filters.FilterSet):
    psa_time_entry_id = django_filters.CharFilter(label="Entry (PSA id)")
    project = django_filters.CharFilter(field_name="psa_project_id", label="Project (PSA id)")
    customer = IdFilter(field_name="project__customer_id", label="Customer (id)")
    legal_entity = django_filters.CharFilter(
        field_name="project__contract__legal_entity__code", label="Legal entity (code)"
    )
    person = django_filters.CharFilter(field_name="person_email", lookup_expr="iexact")
    status = django_filters.MultipleChoiceFilter(choices=TimeEntry.Status.choices)
    work_date_after = django_filters.DateFilter(field_name="work_date", lookup_expr="gte")
    work_date_before = django_filters.DateFilter(field_name="work_date", lookup_expr="lte")

    class Meta:
        model = TimeEntry
        fields = [
            "psa_time_entry_id",
            "project",
            "customer",
            "legal_entity",
            "person",
            "status",
            "work_date_after",
            "work_date_before",
        ]


def _period(queryset, name, value):
    try:
        return queryset.filter(**{name: period_from_text(value)})
    except ValueError:
        return queryset.none()


class InvoiceFilter(django_filters.FilterSet):
    customer = IdFilter(field_name="customer_id")
    project = django_filters.CharFilter(method="filter_project")
    status = django_filters.ChoiceFilter(choices=Invoice.Status.choices)
    period = django_filters.CharFilter(method=_period, field_name="period")
    posted_after = django_filters.DateFilter(
        field_name="posted_at__date", lookup_expr="gte", label="Posted on or after"
    )
    posted_before = django_filters.DateFilter(
        field_name="posted_at__date", lookup_expr="lte", label="Posted on or before"
    )
    erp_invoice_id = django_filters.CharFilter()
    legal_entity = django_filters.CharFilter(field_name="legal_entity__code")

    class Meta:
        model = Invoice
        fields = ["customer", "project", "status", "period", "erp_invoice_id", "legal_entity"]

    def filter_project(self, queryset, name, value):
        """A project by id or PSA project id: invoices with a line of its contract."""
        match = Q(lines__contract__project__psa_project_id=value)
        if value.isdigit():
            match |= Q(lines__contract__project__id=int(value))
        return queryset.filter(pk__in=Invoice.objects.filter(match).values("pk"))


class BillingRunFilter(django_filters.FilterSet):
    period = django_filters.CharFilter(method=_period, field_name="period")
    status = django_filters.ChoiceFilter(choices=BillingRun.Status.choices)

    class Meta:
        model = BillingRun
        fields = ["period", "status"]


class RateCardFilter(django_filters.FilterSet):
    code = django_filters.CharFilter()
    legal_entity = django_filters.CharFilter(field_name="legal_entity__code")
    active_on = django_filters.DateFilter(method="filter_active_on")

    class Meta:
        model = RateCard
        fields = ["code", "legal_entity", "active_on"]

    def filter_active_on(self, queryset, name, value):
        live = Q(versions__valid_from__lte=value) & (
            Q(versions__valid_to__isnull=True) | Q(versions__valid_to__gte=value)
        )
        return queryset.filter(pk__in=RateCard.objects.filter(live).values("pk"))


class ProjectFilter(django_filters.FilterSet):
    """docs/contract.md §2 ``projects/`` filters, plus ``q`` for the page's search box."""

    crm_opportunity_id = django_filters.CharFilter(
        field_name="contract__crm_opportunity_id", label="CRM opportunity id"
    )
    psa_project_id = django_filters.CharFilter(label="PSA project id")
    customer = django_filters.CharFilter(method="filter_customer")
    status = django_filters.ChoiceFilter(choices=Project.Status.choices)
    billing_model = django_filters.ChoiceFilter(
        field_name="contract__billing_model", choices=Contract.BillingModel.choices
    )
    q = django_filters.CharFilter(method="filter_q")

    class Meta:
        model = Project
        fields = ["crm_opportunity_id", "psa_project_id", "customer", "status", "billing_model"]

    def filter_customer(self, queryset, name, value):
        """A customer id, a Throughline id (``TL-000042``) or a CRM account id."""
        value = value.strip()
        if value.isdigit():
            return queryset.filter(customer_id=int(value))
        if value.upper().startswith("TL-") and value[3:].isdigit():
            return queryset.filter(customer_id=int(value[3:]))
        return queryset.filter(contract__crm_account_id=value)

    def filter_q(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(name__icontains=value)
            | Q(customer__name__icontains=value)
            | Q(contract__crm_opportunity_id__iexact=value)
            | Q(psa_project_id__iexact=value)
        )


class ReconciliationFilter(django_filters.FilterSet):
    """The reconciliation's rows (billing/selectors/reconciliation.py ``list_latest_results``):
    a month (``YYYY-MM``; anything else answers 400) and a legal entity (code)."""

    period = django_filters.CharFilter(
        field_name="period",
        label="Month (YYYY-MM)",
        validators=[RegexValidator(r"^\d{4}-(0[1-9]|1[0-2])$", "a month is YYYY-MM")],
    )
    legal_entity = django_filters.CharFilter(field_name="group", label="Legal entity (code)")

    class Meta:
        model = ControlResult
        fields = ["period", "legal_entity"]
