import django_filters

from billing.models import TimeEntry


class TimeEntryFilter(django_filters.FilterSet):
    psa_time_entry_id = django_filters.CharFilter()
    project = django_filters.CharFilter(field_name="psa_project_id")
    status = django_filters.ChoiceFilter(choices=TimeEntry.Status.choices)
    work_date_after = django_filters.DateFilter(field_name="work_date", lookup_expr="gte")
    work_date_before = django_filters.DateFilter(field_name="work_date", lookup_expr="lte")

    class Meta:
        model = TimeEntry
        fields = ["psa_time_entry_id", "project", "status", "work_date_after", "work_date_before"]
