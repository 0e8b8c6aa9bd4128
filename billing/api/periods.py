"""``periods/`` and ``late-time/`` (finance): each entity's months and their status, closing
or reopening one; the late time of closed months and its move to an open month."""

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.api.serializers.periods import (
    LateGroupOutputSerializer,
    LateMoveInputSerializer,
    PeriodInputSerializer,
    PeriodMoveOutputSerializer,
    PeriodOutputSerializer,
)
from billing.selectors.periods import period_rows
from billing.services.periods import PeriodRefused, late_time, move_late_time, set_period_status
from config.policy import api_permission
from mdm.models import LegalEntity

ENTITY = OpenApiParameter("legal_entity", str, description="A legal entity code.")


def _entity_id(code: str | None) -> int | None:
    """A filter by entity code: an unknown code matches nothing (-1), no code everything."""
    if not code:
        return None
    entity = LegalEntity.objects.filter(code=code).first()
    return entity.pk if entity else -1


def _entity(code: str) -> LegalEntity:
    entity = LegalEntity.objects.filter(code=code).first()
    if entity is None:
        raise PeriodRefused(f"no legal entity {code!r}")
    return entity


class PeriodListView(APIView):
    permission_classes = [api_permission("periods", POST="close")]

    @extend_schema(parameters=[ENTITY], responses=PeriodOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        entity_id = _entity_id(request.query_params.get("legal_entity"))
        rows = period_rows(today=timezone.localdate(), legal_entity_id=entity_id)
        return Response(PeriodOutputSerializer(rows, many=True).data)

    @extend_schema(request=PeriodInputSerializer, responses=PeriodOutputSerializer)
    def post(self, request: Request) -> Response:
        data = PeriodInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        entity = _entity(data.validated_data["legal_entity"])
        set_period_status(
            legal_entity=entity,
            month=data.validated_data["period"],
            status=data.validated_data["status"],
            user=request.user,
            note=data.validated_data["note"],
        )
        [row] = [
            r
            for r in period_rows(today=data.validated_data["period"], legal_entity_id=entity.pk)
            if r.month == data.validated_data["period"]
        ]
        return Response(PeriodOutputSerializer(row).data)


class LateTimeView(APIView):
    permission_classes = [api_permission("periods")]

    @extend_schema(parameters=[ENTITY], responses=LateGroupOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        groups = late_time(legal_entity_id=_entity_id(request.query_params.get("legal_entity")))
        return Response(LateGroupOutputSerializer(groups, many=True).data)


class LateTimeMoveView(APIView):
    permission_classes = [api_permission("periods", POST="move_late_time")]

    @extend_schema(request=LateMoveInputSerializer, responses={201: PeriodMoveOutputSerializer})
    def post(self, request: Request) -> Response:
        data = LateMoveInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        move = move_late_time(
            legal_entity=_entity(data.validated_data["legal_entity"]),
            month=data.validated_data["period"],
            to_month=data.validated_data["to_period"],
            user=request.user,
            note=data.validated_data["note"],
        )
        return Response(PeriodMoveOutputSerializer(move).data, status=status.HTTP_201_CREATED)
