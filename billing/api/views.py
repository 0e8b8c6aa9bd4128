"""The billing API (docs/contract.md §2): ``time-entries/`` (each entry with its rate, amount and
rate-card version); ``projects/`` (phases, milestones, contract terms, rate card);
``invoices/`` and ``billing-runs/``; ``rate-cards/`` (versions and rates; writes for
administrators). Serializers in billing/api/serializers/."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.api.serializers.invoices import (
    BillingRunInputSerializer,
    BillingRunOutputSerializer,
    InvoiceOutputSerializer,
)
from billing.api.serializers.projects import ProjectOutputSerializer
from billing.api.serializers.rate_cards import (
    RateCardInputSerializer,
    RateCardOutputSerializer,
)
from billing.api.serializers.time_entries import RatedTimeEntryOutputSerializer
from billing.filters import (
    BillingRunFilter,
    InvoiceFilter,
    ProjectFilter,
    RateCardFilter,
    TimeEntryFilter,
)
from billing.models import RateCard
from billing.selectors.invoices import (
    list_billing_runs,
    list_invoice_lines_for_api,
    list_invoices,
    list_rate_cards,
    list_time_entries_with_billing,
)
from billing.selectors.projects import list_projects
from billing.services.invoice_posting import approve_invoice
from billing.services.invoice_run import start_billing_run
from billing.services.rate_cards import save_rate_card
from config.errors import DomainError
from config.policy import api_permission
from mdm.models import LegalEntity

# -- ``time-entries/`` ----------


class TimeEntryListView(ListAPIView):
    permission_classes = [api_permission("time_entries")]
    serializer_class = RatedTimeEntryOutputSerializer
    filterset_class = TimeEntryFilter
    ordering_fields = ["work_date", "psa_time_entry_id"]

    def get_queryset(self):
        return list_time_entries_with_billing()


# -- ``projects/`` ----------

PROJECT_READERS = api_permission("projects")


class ProjectListView(ListAPIView):
    permission_classes = [PROJECT_READERS]
    serializer_class = ProjectOutputSerializer
    filterset_class = ProjectFilter
    ordering_fields = ["created_at", "id"]

    def get_queryset(self):
        return list_projects()


class ProjectDetailView(RetrieveAPIView):
    permission_classes = [PROJECT_READERS]
    serializer_class = ProjectOutputSerializer

    def get_queryset(self):
        return list_projects()


# -- ``invoices/`` and ``billing-runs/`` ----------


def _invoices():
    return list_invoices().prefetch_related(list_invoice_lines_for_api())


class InvoiceListView(ListAPIView):
    permission_classes = [api_permission("invoices")]
    serializer_class = InvoiceOutputSerializer
    filterset_class = InvoiceFilter
    ordering_fields = ["period", "id"]

    def get_queryset(self):
        return _invoices()


class InvoiceDetailView(RetrieveAPIView):
    permission_classes = [api_permission("invoices")]
    serializer_class = InvoiceOutputSerializer

    def get_queryset(self):
        return _invoices()


class InvoiceApproveView(APIView):
    permission_classes = [api_permission("invoices", POST="approve")]

    @extend_schema(request=None, responses=InvoiceOutputSerializer)
    def post(self, request, pk: int) -> Response:
        invoice = approve_invoice(invoice_id=pk, approved_by=request.user)
        return Response(InvoiceOutputSerializer(get_object_or_404(_invoices(), pk=invoice.pk)).data)


class BillingRunListView(ListAPIView):
    permission_classes = [api_permission("billing_runs", POST="start")]
    serializer_class = BillingRunOutputSerializer
    filterset_class = BillingRunFilter
    ordering_fields = ["created_at", "id"]

    def get_queryset(self):
        return list_billing_runs()

    @extend_schema(request=BillingRunInputSerializer, responses={202: BillingRunOutputSerializer})
    def post(self, request) -> Response:
        data = BillingRunInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        run = start_billing_run(
            period=data.validated_data["period"],
            legal_entity_code=data.validated_data.get("legal_entity") or None,
            customer_id=data.validated_data.get("customer"),
            requested_by=request.user,
        )
        body = BillingRunOutputSerializer(list_billing_runs().get(pk=run.pk)).data
        return Response(body, status=status.HTTP_202_ACCEPTED)


class BillingRunDetailView(RetrieveAPIView):
    permission_classes = [api_permission("billing_runs")]
    serializer_class = BillingRunOutputSerializer

    def get_queryset(self):
        return list_billing_runs()


# -- ``rate-cards/`` ----------


class RateCardWriteDenied(DomainError):
    code, http_status = "rate_card_write_denied", 403


# Reading needs ``read`` on rate cards; writing (POST, PUT) ``write``, which only admins hold.
RATE_CARDS = api_permission(
    "rate_cards", POST="write", PUT="write", errors={"write": RateCardWriteDenied}
)


def save_card(data: dict, card: RateCard | None) -> RateCard:
    """A card from the API's body (``RateCardInputSerializer``): saved, or DomainError."""
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
    permission_classes = [RATE_CARDS]
    serializer_class = RateCardOutputSerializer
    filterset_class = RateCardFilter
    ordering_fields = ["code", "id"]

    def get_queryset(self):
        return list_rate_cards()

    @extend_schema(request=RateCardInputSerializer, responses={201: RateCardOutputSerializer})
    def post(self, request) -> Response:
        data = RateCardInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        card = save_card(data.validated_data, None)
        body = RateCardOutputSerializer(list_rate_cards().get(pk=card.pk)).data
        return Response(body, status=status.HTTP_201_CREATED)


class RateCardDetailView(RetrieveAPIView):
    permission_classes = [RATE_CARDS]
    serializer_class = RateCardOutputSerializer

    def get_queryset(self):
        return list_rate_cards()

    @extend_schema(request=RateCardInputSerializer, responses=RateCardOutputSerializer)
    def put(self, request, pk: int) -> Response:
        card = self.get_object()
        data = RateCardInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        card = save_card(data.validated_data, card)
        return Response(RateCardOutputSerializer(list_rate_cards().get(pk=card.pk)).data)
