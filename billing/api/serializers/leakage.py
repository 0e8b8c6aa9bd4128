"""The serializers of ``leakage/`` (docs/finance-controls/leakage.md): the filters in, the rows
and their totals out (every amount per currency, never added across)."""

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from billing.selectors.leakage import REASONS, LeakageFilters, Tally
from config.serializers import MONEY_SCHEMA, MoneyField

AMOUNT_SCHEMA = {key: value for key, value in MONEY_SCHEMA.items() if key != "nullable"}


@extend_schema_field({"type": "array", "items": AMOUNT_SCHEMA})
class LeakageAmountsField(serializers.Field):
    """Money in several currencies, one amount per currency, by currency code."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value: Tally) -> list[dict[str, str]]:
        return [money.as_json() for money in value.money()]


class LeakageInputSerializer(serializers.Serializer):
    """The ledger's filters; a month is ``YYYY-MM``, both ends included."""

    # "from" is a Python keyword: the field is named through ``fields`` below.
    to = serializers.RegexField(r"^\d{4}-\d{2}$", required=False, help_text="Last work month")
    customer = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    legal_entity = serializers.CharField(required=False, max_length=20)
    reason = serializers.ChoiceField(choices=list(REASONS.items()), required=False)

    def get_fields(self) -> dict:
        fields = super().get_fields()
        fields["from"] = serializers.RegexField(
            r"^\d{4}-\d{2}$", required=False, help_text="First work month"
        )
        return fields

    def validate(self, attrs: dict) -> dict:
        try:
            attrs["filters"] = LeakageFilters.parse(attrs)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc
        return attrs


class LeakageRowOutputSerializer(serializers.Serializer):
    reason = serializers.CharField()
    reason_label = serializers.CharField()
    detail = serializers.CharField()
    month = serializers.DateField()
    work_date = serializers.DateField()
    age_days = serializers.IntegerField()
    months_late = serializers.IntegerField(allow_null=True)
    hours = serializers.DecimalField(max_digits=10, decimal_places=2, allow_null=True)
    amount = MoneyField(source="amount_value")
    owner = serializers.CharField()
    customer_id = serializers.IntegerField(allow_null=True)
    customer_name = serializers.CharField()
    legal_entity = serializers.CharField()
    project_id = serializers.IntegerField(allow_null=True)
    psa_project_id = serializers.CharField()
    psa_time_entry_id = serializers.CharField()
    invoice_id = serializers.IntegerField(allow_null=True)
    line_id = serializers.IntegerField(allow_null=True)
    exception_item_id = serializers.IntegerField(source="item_id", allow_null=True)
    happened_at = serializers.DateTimeField(allow_null=True)


class LeakageTallyOutputSerializer(serializers.Serializer):
    rows = serializers.IntegerField()
    hours = serializers.DecimalField(max_digits=14, decimal_places=2)
    amounts = LeakageAmountsField(source="*")
    unpriced_rows = serializers.IntegerField(source="unpriced")


class LeakageGroupOutputSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    totals = LeakageTallyOutputSerializer(source="tally")


class LeakageTotalsOutputSerializer(serializers.Serializer):
    total = LeakageTallyOutputSerializer()
    by_reason = LeakageGroupOutputSerializer(many=True)
    by_customer = LeakageGroupOutputSerializer(many=True)
    by_month = LeakageGroupOutputSerializer(many=True)


class LeakageOutputSerializer(serializers.Serializer):
    """A page of the ledger's rows and the totals of every row under the filters."""

    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    as_of = serializers.DateField()
    results = LeakageRowOutputSerializer(many=True)
    totals = LeakageTotalsOutputSerializer()
