import django_filters

from integrations.models import InboundEvent, OutboxMessage


class InboundEventFilter(django_filters.FilterSet):
    system = django_filters.CharFilter(field_name="system__slug")
    type = django_filters.CharFilter(field_name="event_type")
    status = django_filters.ChoiceFilter(choices=InboundEvent.Status.choices)
    trace_id = django_filters.CharFilter()

    class Meta:
        model = InboundEvent
        fields = ["system", "type", "status", "trace_id"]


class OutboxMessageFilter(django_filters.FilterSet):
    system = django_filters.CharFilter(field_name="system__slug")
    status = django_filters.ChoiceFilter(choices=OutboxMessage.Status.choices)
    trace_id = django_filters.CharFilter()
    kind = django_filters.CharFilter()
    dead_after = django_filters.DateFilter(
        field_name="dead_at__date", lookup_expr="gte", label="Dead-lettered on or after"
    )
    dead_before = django_filters.DateFilter(
        field_name="dead_at__date", lookup_expr="lte", label="Dead-lettered on or before"
    )

    class Meta:
        model = OutboxMessage
        fields = ["system", "status", "trace_id", "kind", "dead_after", "dead_before"]
