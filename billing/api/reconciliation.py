"""``reconciliation/`` (finance): the latest row of each month and legal entity the
reconciliation checked (filters ``period``, ``legal_entity``), ``reconciliation/run/`` to
reconcile a month now (answers 202 with the queued run) and ``reconciliation/runs/<id>/`` to
follow it (docs/finance-controls/reconciliation.md)."""

from django.shortcuts import get_object_or_404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.api.serializers.reconciliation import (
    ReconciliationRowOutputSerializer,
    ReconciliationRunInputSerializer,
    ReconciliationRunOutputSerializer,
)
from billing.filters import ReconciliationFilter
from billing.selectors.reconciliation import list_latest_results, list_reconciliation_runs
from billing.services.reconciliation import request_reconciliation
from config.policy import api_permission


class ReconciliationListView(ListAPIView):
    permission_classes = [api_permission("reconciliation")]
    serializer_class = ReconciliationRowOutputSerializer
    filterset_class = ReconciliationFilter
    filter_backends = [DjangoFilterBackend]  # one order: newest month first, then entity

    def get_queryset(self):
        return list_latest_results()


class ReconciliationRunView(APIView):
    permission_classes = [api_permission("reconciliation", POST="run")]

    @extend_schema(
        request=ReconciliationRunInputSerializer,
        responses={202: ReconciliationRunOutputSerializer},
    )
    def post(self, request: Request) -> Response:
        data = ReconciliationRunInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        run = request_reconciliation(
            period=data.validated_data["period"],
            legal_entity_code=data.validated_data["legal_entity"] or None,
            requested_by=request.user,
        )
        run = get_object_or_404(list_reconciliation_runs(), pk=run.pk)
        body = ReconciliationRunOutputSerializer(run).data
        return Response(body, status=status.HTTP_202_ACCEPTED)


class ReconciliationRunDetailView(RetrieveAPIView):
    permission_classes = [api_permission("reconciliation")]
    serializer_class = ReconciliationRunOutputSerializer

    def get_queryset(self):
        return list_reconciliation_runs()
