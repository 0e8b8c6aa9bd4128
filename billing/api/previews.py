"""Previews (finance): ``billing-runs/preview/``, the drafts a billing run would leave;
``rate-cards/<id>/preview/``, what saving a card would do to time not yet invoiced. Both are
the real work undone (docs/finance-controls/previews.md)."""

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.api.serializers.invoices import BillingRunInputSerializer
from billing.api.serializers.rate_cards import RateCardInputSerializer
from billing.api.views import save_card
from billing.models import Project, RateCard
from billing.services.amendments import rerate_preview, rerate_project
from billing.services.change_previews import preview_change, rate_card_entries
from billing.services.invoice_run.preview import preview_billing_run
from config.money import money_json
from config.policy import api_permission
from config.serializers import MonthField
from mdm.models import LegalEntity


def _money(value) -> dict | None:
    return None if value is None else money_json(value.amount, value.currency)


class PreviewLineSerializer(serializers.Serializer):
    kind = serializers.CharField()
    description = serializers.CharField()
    hours = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    rate = serializers.DecimalField(max_digits=19, decimal_places=4, allow_null=True)
    amount = serializers.SerializerMethodField()

    def get_amount(self, line) -> dict | None:
        return _money(line.amount)


class PreviewDraftSerializer(serializers.Serializer):
    invoice_id = serializers.IntegerField(allow_null=True, help_text="null: a new draft")
    customer = serializers.CharField()
    legal_entity = serializers.CharField()
    currency = serializers.CharField()
    lines = PreviewLineSerializer(many=True)
    net = serializers.SerializerMethodField()
    tax = serializers.SerializerMethodField()
    gross = serializers.SerializerMethodField()
    gross_before = serializers.SerializerMethodField()

    def get_net(self, draft) -> dict | None:
        return _money(draft.net)

    def get_tax(self, draft) -> dict | None:
        return _money(draft.tax)

    def get_gross(self, draft) -> dict | None:
        return _money(draft.gross)

    def get_gross_before(self, draft) -> dict | None:
        return _money(draft.gross_before)


class PreviewSerializer(serializers.Serializer):
    period = MonthField()
    drafts = PreviewDraftSerializer(many=True)
    removed = serializers.ListField(child=serializers.IntegerField())
    counts = serializers.DictField(child=serializers.IntegerField())


class BillingRunPreviewView(APIView):
    permission_classes = [api_permission("billing_runs", POST="read")]

    @extend_schema(request=BillingRunInputSerializer, responses=PreviewSerializer)
    def post(self, request: Request) -> Response:
        data = BillingRunInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        preview = preview_billing_run(
            period=data.validated_data["period"],
            legal_entity_code=data.validated_data.get("legal_entity") or None,
            customer_id=data.validated_data.get("customer"),
            user=request.user,
        )
        return Response(PreviewSerializer(preview).data)


class EntryChangeSerializer(serializers.Serializer):
    psa_time_entry_id = serializers.CharField()
    project = serializers.CharField()
    status_before = serializers.CharField()
    status_after = serializers.CharField()
    rate_before = serializers.DecimalField(max_digits=19, decimal_places=4, allow_null=True)
    rate_after = serializers.DecimalField(max_digits=19, decimal_places=4, allow_null=True)
    amount_before = serializers.SerializerMethodField()
    amount_after = serializers.SerializerMethodField()
    change = serializers.SerializerMethodField()

    def get_amount_before(self, row) -> dict | None:
        return _money(row.amount_before)

    def get_amount_after(self, row) -> dict | None:
        return _money(row.amount_after)

    def get_change(self, row) -> dict | None:
        return _money(row.change)


class ChangePreviewSerializer(serializers.Serializer):
    entries = EntryChangeSerializer(many=True)
    totals = serializers.SerializerMethodField()

    def get_totals(self, preview) -> list[dict]:
        return [money_json(m.amount, m.currency) for m in preview.totals]


class RateCardPreviewView(APIView):
    """What saving this card would do to time not yet invoiced: the card is saved and the
    change undone; the entries it re-rated, before and after (finance may look; saving stays
    an administrator's)."""

    permission_classes = [api_permission("rate_cards", POST="read")]

    @extend_schema(request=RateCardInputSerializer, responses=ChangePreviewSerializer)
    def post(self, request: Request, pk: int) -> Response:
        card = get_object_or_404(RateCard, pk=pk)
        data = RateCardInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        entity = LegalEntity.objects.filter(code=data.validated_data["legal_entity"]).first()
        entries = rate_card_entries(
            legal_entity_id=entity.pk if entity else card.legal_entity_id,
            currency=data.validated_data["currency"].upper(),
        )
        preview = preview_change(lambda: save_card(data.validated_data, card), entries=entries)
        return Response(ChangePreviewSerializer(preview).data)


class ProjectRerateView(APIView):
    """``GET``: what re-rating the project under its contract's current terms would change
    (nothing kept); ``POST``: do it (four eyes ``rate_change`` may hold it: 202)."""

    permission_classes = [api_permission("projects", POST="rerate")]

    @extend_schema(responses=ChangePreviewSerializer)
    def get(self, request: Request, pk: int) -> Response:
        project = get_object_or_404(Project.objects.select_related("contract"), pk=pk)
        return Response(ChangePreviewSerializer(rerate_preview(project=project)).data)

    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Request, pk: int) -> Response:
        project = get_object_or_404(Project.objects.select_related("contract"), pk=pk)
        done = rerate_project(project=project, user=request.user)
        return Response(
            {
                "entries": done.entries,
                "credited": done.credited,
                "moved_off_drafts": done.moved_off_drafts,
            }
        )
