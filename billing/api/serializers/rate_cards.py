"""The serializers of ``rate-cards/`` (docs/contract.md §2)."""

from rest_framework import serializers

from billing.models import Rate, RateCard, RateCardVersion


class RateOutputSerializer(serializers.ModelSerializer):
    role = serializers.CharField(source="role.code")

    class Meta:
        model = Rate
        fields = ["role", "hourly"]


class VersionOutputSerializer(serializers.ModelSerializer):
    rates = RateOutputSerializer(many=True)

    class Meta:
        model = RateCardVersion
        fields = ["id", "valid_from", "valid_to", "rates"]


class RateCardOutputSerializer(serializers.ModelSerializer):
    legal_entity = serializers.CharField(source="legal_entity.code")
    standard = serializers.BooleanField(source="is_standard")
    client_account_id = serializers.SerializerMethodField()
    versions = VersionOutputSerializer(many=True)

    class Meta:
        model = RateCard
        fields = [
            "id",
            "code",
            "name",
            "legal_entity",
            "currency",
            "client_account_id",
            "standard",
            "versions",
        ]

    def get_client_account_id(self, card: RateCard) -> str | None:
        return card.client_account_id or None


class RateInputSerializer(serializers.Serializer):
    role = serializers.CharField()
    hourly = serializers.DecimalField(max_digits=19, decimal_places=4, coerce_to_string=False)


class VersionInputSerializer(serializers.Serializer):
    valid_from = serializers.DateField()
    valid_to = serializers.DateField(required=False, allow_null=True)
    rates = RateInputSerializer(many=True)


class RateCardInputSerializer(serializers.Serializer):
    """The ``load_reference`` shape of one card (docs/contract.md §4)."""

    code = serializers.CharField(max_length=40)
    name = serializers.CharField(required=False, allow_blank=True, default="")
    legal_entity = serializers.CharField()
    currency = serializers.CharField(min_length=3, max_length=3)
    client_account_id = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    standard = serializers.BooleanField(default=False)
    versions = VersionInputSerializer(many=True)
