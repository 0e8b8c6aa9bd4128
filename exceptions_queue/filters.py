"""The one FilterSet of exception items, shared by the queue pages and the API."""

from datetime import timedelta

import django_filters
from django.db.models import Q
from django.utils import timezone

from exceptions_queue.models import ExceptionItem, Queue

AGE_CHOICES = [
    ("1", "older than 1 day"),
    ("3", "older than 3 days"),
    ("7", "older than a week"),
    ("30", "older than 30 days"),
]
STATUS_CHOICES = [("active", "Open or assigned"), *ExceptionItem.Status.choices, ("all", "Any")]


class ExceptionItemFilter(django_filters.FilterSet):
    type = django_filters.CharFilter(field_name="type_code")
    queue = django_filters.ChoiceFilter(choices=Queue.choices)
    status = django_filters.ChoiceFilter(choices=STATUS_CHOICES, method="filter_status")
    trace_id = django_filters.CharFilter()
    subject_ref = django_filters.CharFilter(lookup_expr="icontains")
    subject_key = django_filters.CharFilter()
    assignee = django_filters.CharFilter(method="filter_assignee", label="assignee (me, none, id)")
    age = django_filters.ChoiceFilter(choices=AGE_CHOICES, method="filter_age")
    min_amount = django_filters.NumberFilter(field_name="amount_at_risk", lookup_expr="gte")
    overdue = django_filters.BooleanFilter(method="filter_overdue")
    q = django_filters.CharFilter(method="filter_search", label="search")

    class Meta:
        model = ExceptionItem
        fields = ["type", "queue", "status", "trace_id", "subject_ref"]

    def filter_status(self, queryset, name, value):
        if value == "active":
            return queryset.filter(status__in=ExceptionItem.OPEN_STATUSES)
        if value == "all" or not value:
            return queryset
        return queryset.filter(status=value)

    def filter_assignee(self, queryset, name, value):
        if value == "me":
            return queryset.filter(assignee=self.request.user if self.request else None)
        if value == "none":
            return queryset.filter(assignee__isnull=True)
        if value.isdigit():
            return queryset.filter(assignee_id=int(value))
        return queryset.filter(assignee__username=value)

    def filter_age(self, queryset, name, value):
        return queryset.filter(first_seen_at__lt=timezone.now() - timedelta(days=int(value)))

    def filter_overdue(self, queryset, name, value):
        overdue = Q(status__in=ExceptionItem.OPEN_STATUSES, due_at__lt=timezone.now())
        return queryset.filter(overdue) if value else queryset.exclude(overdue)

    def filter_search(self, queryset, name, value):
        value = value.strip()
        condition = (
            Q(subject_ref__icontains=value)
            | Q(summary__icontains=value)
            | Q(subject_key__icontains=value)
            | Q(trace_id__icontains=value)
        )
        if value.lstrip("#").isdigit():
            condition |= Q(pk=int(value.lstrip("#")))
        return queryset.filter(condition)
