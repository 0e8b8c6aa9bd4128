"""The serializers of ``periods/`` and ``late-time/`` (docs/finance-controls/period-close.md)."""

from rest_framework import serializers

from billing.models import AccountingPeriod, PeriodMove
from billing.periods import period_from_text
from config.money import money_json
from config.serializers import MonthField


class _Month(serializers.CharField):
    """A month as ``YYYY-MM``, read as its first day."""

    def to_internal_value(self, data):
        text = super().to_internal_value(data)
        try:
            return period_from_text(text)
        except ValueError as exc:
            raise serializers.ValidationError(f"{text!r} is not a month as YYYY-MM") from exc


class PeriodOutputSerializer(serializers.Serializer):
    legal_entity = serializers.CharField(source="legal_entity.code")
    period = MonthField(source="month")
    status = serializers.ChoiceField(choices=AccountingPeriod.Status.choices)
    closed_at = serializers.DateTimeField(source="period.closed_at", allow_null=True, default=None)
    note = serializers.CharField(source="period.note", default="")


class PeriodInputSerializer(serializers.Serializer):
    legal_entity = serializers.CharField()
    period = _Month()
    status = serializers.ChoiceField(choices=AccountingPeriod.Status.choices)
    note = serializers.CharField(required=False, allow_blank=True, max_length=300, default="")


class LateGroupOutputSerializer(serializers.Serializer):
    legal_entity = serializers.CharField(source="legal_entity.code")
    period = MonthField(source="month")
    entries = serializers.IntegerField()
    hours = serializers.DecimalField(max_digits=12, decimal_places=2)
    amounts = serializers.SerializerMethodField()
    proposed_period = MonthField(source="proposed")

    def get_amounts(self, group) -> list[dict]:
        return [money_json(m.amount, m.currency) for m in group.amounts]


class LateMoveInputSerializer(serializers.Serializer):
    legal_entity = serializers.CharField()
    period = _Month(help_text="The closed month the time was worked in.")
    to_period = _Month(help_text="The open month to bill it in.")
    note = serializers.CharField(required=False, allow_blank=True, max_length=300, default="")


class PeriodMoveOutputSerializer(serializers.ModelSerializer):
    legal_entity = serializers.CharField(source="legal_entity.code")
    from_period = MonthField()
    to_period = MonthField()
    approved_by = serializers.CharField(source="approved_by.username")

    class Meta:
        model = PeriodMove
        fields = ["id", "legal_entity", "from_period", "to_period", "entries", "hours",
                  "amounts", "approved_by", "approved_at", "note", "trace_id"]  # fmt: skip
