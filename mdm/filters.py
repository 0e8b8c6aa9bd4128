import django_filters

from mdm import selectors
from mdm.models import Customer


class CustomerFilter(django_filters.FilterSet):
    """docs/contract.md §2 ``customers/`` filters."""

    q = django_filters.CharFilter(method="filter_by")
    status = django_filters.ChoiceFilter(choices=Customer.Status.choices)
    crm_account_id = django_filters.CharFilter(method="filter_by")
    erp_customer_id = django_filters.CharFilter(method="filter_by")
    country = django_filters.CharFilter(method="filter_by")

    class Meta:
        model = Customer
        fields = ["q", "status", "crm_account_id", "erp_customer_id", "country"]

    def filter_by(self, queryset, name, value):
        return selectors.filter_customers(queryset, **{name: value})
