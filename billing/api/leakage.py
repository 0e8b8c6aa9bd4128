"""``leakage/`` (finance, read only; docs/finance-controls/leakage.md): the revenue-leakage
ledger's rows, a page at a time, with the totals of every row under the filters."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.api.serializers.leakage import LeakageInputSerializer, LeakageOutputSerializer
from billing.selectors.leakage import get_leakage_ledger
from config.openapi import ANSWERS, ApiErrorOutputSerializer
from config.policy import api_permission

PAGE = OpenApiParameter("page", int, description="A page number of the rows.")
# Not a list view nor a FilterSet, so the house schema would not add these two by itself.
RESPONSES = {
    200: LeakageOutputSerializer,
    400: OpenApiResponse(response=OpenApiTypes.OBJECT, description=ANSWERS["400"]),
    404: OpenApiResponse(response=ApiErrorOutputSerializer, description=ANSWERS["404"]),
}


class LeakageView(APIView):
    permission_classes = [api_permission("leakage")]

    @extend_schema(parameters=[LeakageInputSerializer, PAGE], responses=RESPONSES)
    def get(self, request: Request) -> Response:
        data = LeakageInputSerializer(data=request.query_params)
        data.is_valid(raise_exception=True)
        ledger = get_leakage_ledger(filters=data.validated_data["filters"])
        paginator = PageNumberPagination()
        rows = paginator.paginate_queryset(ledger.rows, request, view=self)
        answer = {
            "count": len(ledger.rows),
            "next": paginator.get_next_link(),
            "previous": paginator.get_previous_link(),
            "as_of": ledger.as_of,
            "results": rows,
            "totals": ledger,
        }
        return Response(LeakageOutputSerializer(answer).data)
