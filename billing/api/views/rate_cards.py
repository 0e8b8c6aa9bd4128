"""``rate-cards/`` (docs/contract.md §2): versions and rates; writes for administrators."""

from django.core.exceptions import ValidationError
from django.db import transaction
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.response import Response

from billing.filters import RateCardFilter
from billing.models import Rate, RateCard, RateCardVersion
from billing.selectors.invoices import list_rate_cards
from billing.services.rate_cards import save_rate_card
from config.errors import DomainError
from config.permissions import role_permission
from config.roles import ADMIN, FINANCE, INTEGRATION, PMO, has_role
from mdm.models import LegalEntity

READ = (FINANCE, PMO, INTEGRATION)


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


class RateCardWriteDenied(DomainError):
    code, http_status = "rate_card_write_denied", 403


def _write_permission(request) -> None:
    if not has_role(request.user, ADMIN):
        raise RateCardWriteDenied("writing rate cards needs the admin role")


def _save(data: dict, card: RateCard | None) -> RateCard:
    entity = LegalEntity.objects.filter(code=data["legal_entity"]).first()
    if entity is None:
        raise DomainError(f"no legal entity {data['legal_entity']}")
    versions = [
        {
            "valid_from": v["valid_from"].isoformat(),
            "valid_to": v["valid_to"].isoformat() if v.get("valid_to") else None,
            "rates": [{"role": r["role"], "hourly": str(r["hourly"])} for r in v["rates"]],
        }
        for v in data["versions"]
    ]
    try:
        with transaction.atomic():
            return save_rate_card(
                card=card,
                values={
                    "code": data["code"],
                    "name": data.get("name") or "",
                    "legal_entity": entity,
                    "currency": data["currency"].upper(),
                    "client_account_id": data.get("client_account_id") or "",
                    "is_standard": data["standard"],
                },
                versions=versions,
            )
    except ValidationError as exc:
        raise DomainError("the rate card is invalid", errors=exc.messages) from exc
    except (ValueError, KeyError) as exc:
        raise DomainError(str(exc)) from exc


class RateCardListView(ListAPIView):
    permission_classes = [role_permission(*READ)]
    serializer_class = RateCardOutputSerializer
    filterset_class = RateCardFilter
    ordering_fields = ["code", "id"]

    def get_queryset(self):
        return list_rate_cards()

    def post(self, request) -> Response:
        _write_permission(request)
        data = RateCardInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        card = _save(data.validated_data, None)
        body = RateCardOutputSerializer(list_rate_cards().get(pk=card.pk)).data
        return Response(body, status=status.HTTP_201_CREATED)


class RateCardDetailView(RetrieveAPIView):
    permission_classes = [role_permission(*READ)]
    serializer_class = RateCardOutputSerializer

    def get_queryset(self):
        return list_rate_cards()

    def put(self, request, pk: int) -> Response:
        _write_permission(request)
        card = self.get_object()
        data = RateCardInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        card = _save(data.validated_data, card)
        return Response(RateCardOutputSerializer(list_rate_cards().get(pk=card.pk)).data)
