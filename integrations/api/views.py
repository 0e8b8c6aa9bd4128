from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.policy import api_permission
from integrations import selectors
from integrations.api import openapi  # noqa: F401 the token scheme in the OpenAPI document
from integrations.api.serializers import (
    BreakerInputSerializer,
    ExternalSystemOutputSerializer,
    InboundEventOutputSerializer,
    OutboxMessageOutputSerializer,
    TraceOutputSerializer,
    TraceStepOutputSerializer,
)
from integrations.connectors.schemas import DATA_SCHEMAS, full_schema
from integrations.filters import InboundEventFilter, OutboxMessageFilter
from integrations.services import breakers
from integrations.services.inbox import replay_event
from integrations.services.inbox.replay import MAPPINGS, RECEIVED, replay_preview
from integrations.services.outbox.replay import MAPPINGS as OUTBOX_MAPPINGS
from integrations.services.outbox.replay import (
    SENT,
    ReplayRefused,
    outbox_replay_preview,
    replay_by_filter,
    replay_outbox_message,
)

EVENTS = api_permission("events", POST="replay")
OUTBOX = api_permission("outbox", POST="replay")
SYSTEMS = api_permission("systems", POST="breaker")


class EventListView(ListAPIView):
    permission_classes = [EVENTS]
    serializer_class = InboundEventOutputSerializer
    filterset_class = InboundEventFilter
    ordering_fields = ["received_at", "id"]

    def get_queryset(self):
        return selectors.list_events_for(user=self.request.user, token=self.request.auth)


class EventDetailView(RetrieveAPIView):
    permission_classes = [EVENTS]
    serializer_class = InboundEventOutputSerializer

    def get_queryset(self):
        return selectors.list_events_for(user=self.request.user, token=self.request.auth)


MAPPING = OpenApiParameter(
    "mapping",
    str,
    enum=list(MAPPINGS),
    description="received (default): apply what was stored; current: translate the evidence "
    "again with the mapping as it is now (Salesforce Outbound Message notifications).",
)


def _visible_event(request: Request, pk: int) -> None:
    if not selectors.list_events_for(user=request.user, token=request.auth).filter(pk=pk).exists():
        raise Http404


class EventReplayView(APIView):
    permission_classes = [EVENTS]

    @extend_schema(
        request=None, parameters=[MAPPING], responses={202: InboundEventOutputSerializer}
    )
    def post(self, request: Request, pk: int) -> Response:
        _visible_event(request, pk)
        mapping = request.query_params.get("mapping", RECEIVED)
        if mapping not in MAPPINGS:
            raise ValidationError({"mapping": [f"one of {', '.join(MAPPINGS)}"]})
        event = replay_event(event_id=pk, mapping=mapping)
        return Response(InboundEventOutputSerializer(event).data, status=202)


class EventReplayPreviewView(APIView):
    """What a replay would apply: the payload as received and as the mapping now makes it."""

    permission_classes = [EVENTS]

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, pk: int) -> Response:
        _visible_event(request, pk)
        return Response(replay_preview(event_id=pk))


class OutboxListView(ListAPIView):
    permission_classes = [OUTBOX]
    serializer_class = OutboxMessageOutputSerializer
    filterset_class = OutboxMessageFilter
    ordering_fields = ["created_at"]

    def get_queryset(self):
        return selectors.list_outbox_messages()


class OutboxDetailView(RetrieveAPIView):
    permission_classes = [OUTBOX]
    serializer_class = OutboxMessageOutputSerializer

    def get_queryset(self):
        return selectors.list_outbox_messages()


OUTBOX_MAPPING = OpenApiParameter(
    "mapping",
    str,
    enum=list(OUTBOX_MAPPINGS),
    description="sent (default): the payload as it was built; current: built again from the "
    "records as they are now (invoice postings and statuses).",
)


class OutboxReplayView(APIView):
    permission_classes = [OUTBOX]

    @extend_schema(
        request=None, parameters=[OUTBOX_MAPPING], responses={202: OutboxMessageOutputSerializer}
    )
    def post(self, request: Request, pk) -> Response:
        if not selectors.list_outbox_messages().filter(pk=pk).exists():
            raise Http404
        mapping = request.query_params.get("mapping", SENT)
        if mapping not in OUTBOX_MAPPINGS:
            raise ValidationError({"mapping": [f"one of {', '.join(OUTBOX_MAPPINGS)}"]})
        try:
            message = replay_outbox_message(message_id=pk, mapping=mapping, user=request.user)
        except ReplayRefused as exc:
            raise ValidationError({"mapping": [exc.message]}) from exc
        return Response(OutboxMessageOutputSerializer(message).data, status=202)


class BulkReplayInputSerializer(serializers.Serializer):
    customer = serializers.CharField(required=False, help_text="A customer's id.")
    project = serializers.CharField(required=False, help_text="A project's PSA id (or id).")
    period = serializers.CharField(required=False, help_text="A month, YYYY-MM: its invoices.")
    invoice = serializers.CharField(required=False, help_text="An invoice's id.")
    mapping = serializers.ChoiceField(choices=OUTBOX_MAPPINGS, default=SENT)


class OutboxBulkReplayView(APIView):
    """Replay every dead or failed message of what the business filters name (all must hold)."""

    permission_classes = [api_permission("outbox", POST="replay")]

    @extend_schema(
        operation_id="outbox_bulk_replay",
        request=BulkReplayInputSerializer,
        responses={202: OpenApiTypes.OBJECT},
    )
    def post(self, request: Request) -> Response:
        data = BulkReplayInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        filters = {k: v for k, v in data.validated_data.items() if k != "mapping"}
        try:
            done = replay_by_filter(
                filters=filters, mapping=data.validated_data["mapping"], user=request.user
            )
        except ReplayRefused as exc:
            raise ValidationError({"filters": [exc.message]}) from exc
        return Response(done, status=202)


class OutboxReplayPreviewView(APIView):
    """What a replay would send: the payload as sent, as built now, and what differs."""

    permission_classes = [OUTBOX]

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, pk) -> Response:
        if not selectors.list_outbox_messages().filter(pk=pk).exists():
            raise Http404
        return Response(outbox_replay_preview(message_id=pk))


class TraceDetailView(APIView):
    """The whole story of one trace, in time order: the steps the viewer may see."""

    permission_classes = [api_permission("traces")]

    @extend_schema(responses=TraceOutputSerializer)
    def get(self, request: Request, trace_id: str) -> Response:
        steps = selectors.visible_trace_steps(request, trace_id=trace_id)
        if not steps:
            raise Http404
        return Response(
            {"trace_id": trace_id, "steps": TraceStepOutputSerializer(steps, many=True).data}
        )


class WebhookSchemaView(APIView):
    """JSON Schemas of every inbound event type (public: they describe what to send)."""

    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(
        responses=OpenApiResponse(
            response=OpenApiTypes.OBJECT,
            description="event type → the JSON Schema (draft 2020-12) of its whole delivery body",
        )
    )
    def get(self, request: Request) -> Response:
        return Response(
            {event_type: full_schema(event_type) for event_type in sorted(DATA_SCHEMAS)}
        )


def _system_data(system) -> dict:
    data = ExternalSystemOutputSerializer(
        {
            "slug": system.slug,
            "name": system.name,
            "kind": system.kind,
            "connector": system.connector,
            "is_active": system.is_active,
            # Secret numbers only: a secret is shown once, when made, never by the API.
            "active_secrets": [s.number for s in system.secrets.all() if s.is_active],
            "breaker": getattr(system, "breaker", None),
            "outbox_counts": {
                status: getattr(system, f"outbox_{status}", 0)
                for status in ("pending", "failed", "dead")
            },
        }
    ).data
    return data


class SystemListView(ListAPIView):
    """Configured systems, their breaker state and outbox backlog (paginated as every list)."""

    permission_classes = [SYSTEMS]
    serializer_class = ExternalSystemOutputSerializer
    ordering_fields = ["slug"]

    def get_queryset(self):
        return selectors.list_systems()

    def list(self, request: Request, *args, **kwargs) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response([_system_data(system) for system in page])


class BreakerView(APIView):
    """Open (stop calling) or close (resume) a system's breaker by hand."""

    permission_classes = [SYSTEMS]

    @extend_schema(request=BreakerInputSerializer, responses=ExternalSystemOutputSerializer)
    def post(self, request: Request, slug: str) -> Response:
        system = selectors.list_systems().filter(slug=slug).first()
        if system is None:
            raise Http404
        serializer = BreakerInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        breakers.force_state(system_id=system.pk, state=serializer.validated_data["state"])
        return Response(_system_data(selectors.list_systems().get(pk=system.pk)))
