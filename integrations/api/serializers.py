from rest_framework import serializers

from integrations.models import DeliveryAttempt, InboundEvent, OutboxMessage, TraceStep


class InboundEventOutputSerializer(serializers.ModelSerializer):
    system = serializers.CharField(source="system.slug")
    type = serializers.CharField(source="event_type")

    class Meta:
        model = InboundEvent
        fields = [
            "id",
            "system",
            "webhook_id",
            "type",
            "status",
            "occurred_at",
            "object_key",
            "payload",
            "error",
            "error_details",
            "attempts",
            "next_attempt_at",
            "trace_id",
            "received_at",
            "processed_at",
            "replay_count",
        ]


class DeliveryAttemptOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = ["number", "started_at", "duration_ms", "outcome", "error", "replay_round"]


class OutboxMessageOutputSerializer(serializers.ModelSerializer):
    system = serializers.CharField(source="system.slug")
    attempts_history = DeliveryAttemptOutputSerializer(source="delivery_attempts", many=True)

    class Meta:
        model = OutboxMessage
        fields = [
            "id",
            "system",
            "kind",
            "object_key",
            "status",
            "idempotency_key",
            "attempts",
            "max_attempts",
            "next_attempt_at",
            "last_error",
            "error_class",
            "external_id",
            "trace_id",
            "created_at",
            "sent_at",
            "dead_at",
            "replay_count",
            "payload",
            "attempts_history",
        ]


class TraceStepOutputSerializer(serializers.ModelSerializer):
    subject_type = serializers.SerializerMethodField()

    class Meta:
        model = TraceStep
        fields = [
            "at",
            "kind",
            "action",
            "summary",
            "subject_type",
            "object_id",
            "detail",
            "client_request_id",
        ]
        extra_kwargs = {
            "client_request_id": {
                "help_text": "The X-Request-ID the client sent with the request that recorded "
                "this step (its correlation id; never the trace id); empty when none was kept."
            }
        }

    def get_subject_type(self, step: TraceStep) -> str:
        return (
            f"{step.content_type.app_label}.{step.content_type.model}"
            if step.content_type_id
            else ""
        )


class TraceOutputSerializer(serializers.Serializer):
    trace_id = serializers.CharField()
    steps = TraceStepOutputSerializer(many=True)


class BreakerOutputSerializer(serializers.Serializer):
    state = serializers.CharField()
    consecutive_failures = serializers.IntegerField()
    opened_at = serializers.DateTimeField(allow_null=True)
    changed_at = serializers.DateTimeField(allow_null=True)
    failure_threshold = serializers.IntegerField()
    recovery_seconds = serializers.IntegerField()
    last_failure = serializers.CharField()


class ExternalSystemOutputSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    kind = serializers.CharField()
    connector = serializers.CharField()
    is_active = serializers.BooleanField()
    active_secrets = serializers.ListField(child=serializers.IntegerField(), required=False)
    breaker = BreakerOutputSerializer(allow_null=True)
    outbox_counts = serializers.DictField(child=serializers.IntegerField())


class BreakerInputSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=["open", "closed"])
