"""``approvals/`` (finance): the four-eyes queue; approve or reject a request (never one's own)."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.models import ApprovalRequest
from billing.selectors.approvals import list_requests
from billing.services.approval_actions import decide
from config.policy import api_permission


class ApprovalRequestOutputSerializer(serializers.ModelSerializer):
    requested_by = serializers.CharField(source="requested_by.username")
    decided_by = serializers.CharField(source="decided_by.username", allow_null=True, default=None)
    amount = serializers.SerializerMethodField()

    class Meta:
        model = ApprovalRequest
        fields = ["id", "action", "subject_key", "subject_label", "amount", "status",
                  "requested_by", "requested_at", "request_note", "decided_by", "decided_at",
                  "decision_note", "result", "trace_id"]  # fmt: skip

    def get_amount(self, request: ApprovalRequest) -> dict | None:
        from config.money import money_json

        return money_json(request.amount, request.currency) if request.amount is not None else None


class DecisionInputSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class ApprovalListView(ListAPIView):
    permission_classes = [api_permission("approvals")]
    serializer_class = ApprovalRequestOutputSerializer

    @extend_schema(parameters=[OpenApiParameter("status", str, enum=ApprovalRequest.Status.values)])
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        status = self.request.query_params.get("status")
        return list_requests(status if status in ApprovalRequest.Status.values else None)


class _DecisionView(APIView):
    permission_classes = [api_permission("approvals", POST="decide")]
    approve = True

    @extend_schema(request=DecisionInputSerializer, responses=ApprovalRequestOutputSerializer)
    def post(self, request: Request, pk: int) -> Response:
        data = DecisionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        decided = decide(
            request_id=pk, user=request.user, approve=self.approve, note=data.validated_data["note"]
        )
        return Response(ApprovalRequestOutputSerializer(decided).data)


class ApprovalApproveView(_DecisionView):
    approve = True


class ApprovalRejectView(_DecisionView):
    approve = False
