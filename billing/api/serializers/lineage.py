"""The serializers of the lineage endpoints (docs/finance-controls/lineage.md):
``invoices/<id>/lines/<line>/lineage/`` and ``events/<id>/lineage/``. They read the
dataclasses of billing/selectors/lineage.py; what the viewer may not see is left out by the
view before (postings) or through the context (``evidence``: the event ids whose raw body the
viewer may read)."""

from rest_framework import serializers

from config.serializers import MoneyField

RATE = {"max_digits": 19, "decimal_places": 4}
HOURS = {"max_digits": 10, "decimal_places": 2}


class LineageDeliveryOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    system = serializers.CharField()
    event_type = serializers.CharField()
    webhook_id = serializers.CharField()
    received_at = serializers.DateTimeField()
    status = serializers.CharField()
    status_label = serializers.CharField()
    trace_id = serializers.CharField()
    has_raw_body = serializers.BooleanField()
    event_url = serializers.SerializerMethodField(
        help_text="The event with its payload, when the viewer may read it"
    )

    def get_event_url(self, delivery) -> str | None:
        if delivery.id not in self.context.get("evidence", ()):
            return None
        return f"/api/v1/events/{delivery.id}/"


class LineageChangeOutputSerializer(serializers.Serializer):
    field = serializers.CharField()
    label = serializers.CharField()
    before = serializers.CharField()
    after = serializers.CharField()


class LineageVersionOutputSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    at = serializers.DateTimeField()
    by = serializers.CharField()
    reason = serializers.CharField()
    status = serializers.CharField()
    status_label = serializers.CharField()
    summary = serializers.CharField()
    trace_id = serializers.CharField()
    delivery_id = serializers.IntegerField(allow_null=True)
    from_delivery = serializers.BooleanField()
    changes = LineageChangeOutputSerializer(many=True)


class LineageRatingOutputSerializer(serializers.Serializer):
    card_code = serializers.CharField()
    card_name = serializers.CharField()
    card_kind = serializers.CharField()
    version_id = serializers.IntegerField(allow_null=True)
    valid_from = serializers.DateField(allow_null=True)
    valid_to = serializers.DateField(allow_null=True)
    rule = serializers.CharField()
    rule_label = serializers.CharField()
    card_rate = serializers.DecimalField(**RATE, allow_null=True)
    rate = serializers.DecimalField(**RATE)
    psa_rate = serializers.DecimalField(**RATE, allow_null=True)
    hours = serializers.DecimalField(**HOURS)
    billed_hours = serializers.DecimalField(**HOURS)
    rounding = serializers.CharField()
    unrounded_amount = serializers.DecimalField(
        max_digits=30, decimal_places=6, source="unrounded.amount"
    )
    amount = MoneyField(source="amount.amount", currency="amount.currency")
    rated_at = serializers.DateTimeField(allow_null=True)


class LineageAttemptOutputSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    started_at = serializers.DateTimeField()
    outcome = serializers.CharField()
    outcome_label = serializers.CharField()
    duration_ms = serializers.IntegerField()
    error = serializers.CharField()


class LineagePostingOutputSerializer(serializers.Serializer):
    message_id = serializers.CharField()
    system = serializers.CharField()
    kind = serializers.CharField()
    status = serializers.CharField()
    status_label = serializers.CharField()
    external_id = serializers.CharField()
    created_at = serializers.DateTimeField()
    sent_at = serializers.DateTimeField(allow_null=True)
    last_error = serializers.CharField()
    trace_id = serializers.CharField()
    attempts = LineageAttemptOutputSerializer(many=True)


class LineageBilledOutputSerializer(serializers.Serializer):
    invoice_id = serializers.IntegerField(source="invoice.pk")
    invoice_title = serializers.CharField(source="invoice.title")
    invoice_status = serializers.CharField(source="invoice.status")
    line_id = serializers.IntegerField(source="line.pk")
    line_description = serializers.CharField(source="line.description")
    hours = serializers.DecimalField(**HOURS, source="link.hours")
    amount = MoneyField(source="amount.amount", currency="amount.currency")
    is_active = serializers.BooleanField(source="link.is_active")
    state = serializers.CharField()
    version = serializers.IntegerField(source="billed_version", allow_null=True)


class EntryLineageOutputSerializer(serializers.Serializer):
    entry_id = serializers.IntegerField(source="entry.pk")
    psa_time_entry_id = serializers.CharField(source="entry.psa_time_entry_id")
    work_date = serializers.DateField(source="entry.work_date")
    status = serializers.CharField(source="entry.status")
    billed = LineageBilledOutputSerializer(source="billing")
    rating = LineageRatingOutputSerializer(allow_null=True)
    versions = LineageVersionOutputSerializer(many=True)
    deliveries = LineageDeliveryOutputSerializer(many=True)


class LineageInvoiceRefOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    title = serializers.CharField()
    status = serializers.CharField()
    period = serializers.DateField()
    currency = serializers.CharField()
    erp_invoice_id = serializers.CharField()


class LineageLineRefOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    kind = serializers.CharField()
    description = serializers.CharField()
    hours = serializers.DecimalField(**HOURS, allow_null=True)
    rate = serializers.DecimalField(**RATE, allow_null=True)
    amount = MoneyField(currency="invoice.currency")


class LineLineageOutputSerializer(serializers.Serializer):
    invoice = LineageInvoiceRefOutputSerializer()
    line = LineageLineRefOutputSerializer()
    entries = EntryLineageOutputSerializer(many=True)
    posting = LineagePostingOutputSerializer(allow_null=True)


class LineageDeliveredBillingOutputSerializer(LineageBilledOutputSerializer):
    billed_this_delivery = serializers.BooleanField()
    posting = LineagePostingOutputSerializer(allow_null=True)


class LineageDeliveredEntryOutputSerializer(serializers.Serializer):
    entry_id = serializers.IntegerField(source="entry.pk")
    psa_time_entry_id = serializers.CharField(source="entry.psa_time_entry_id")
    work_date = serializers.DateField(source="entry.work_date")
    status = serializers.CharField(source="entry.status")
    made_versions = serializers.ListField(child=serializers.IntegerField(), source="made")
    versions = LineageVersionOutputSerializer(many=True)
    billings = LineageDeliveredBillingOutputSerializer(many=True)


class DeliveryLineageOutputSerializer(serializers.Serializer):
    delivery = LineageDeliveryOutputSerializer()
    entries = LineageDeliveredEntryOutputSerializer(many=True)
