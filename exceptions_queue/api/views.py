import re

from django.contrib.auth import get_user_model
from django.db.models import Q
from drf_spectacular.utils import extend_schema
from rest_framework.generics import ListAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.errors import DomainError
from exceptions_queue import selectors, services
from exceptions_queue.api.serializers import (
    AssignInputSerializer,
    CommentInputSerializer,
    DismissInputSerializer,
    ExceptionCommentOutputSerializer,
    ExceptionItemDetailOutputSerializer,
    ExceptionItemOutputSerializer,
    ResolveInputSerializer,
)
from exceptions_queue.filters import ExceptionItemFilter

# A user id as the API accepts it: ASCII digits that fit the id column (not "²", not 10**30).
_USER_ID = re.compile(r"[1-9][0-9]{0,8}")


def _detail(user, item_id: int) -> dict:
    item = selectors.get_exception_item(user=user, item_id=item_id)
    return ExceptionItemDetailOutputSerializer(item).data


class ExceptionItemListView(ListAPIView):
    """Items of the caller's queues (admins: all). Stable order: severity, due time, id."""

    permission_classes = [IsAuthenticated]
    serializer_class = ExceptionItemOutputSerializer
    filterset_class = ExceptionItemFilter
    ordering_fields = ["id", "first_seen_at", "last_seen_at", "due_at", "amount_at_risk"]

    def get_queryset(self):
        return selectors.list_exception_items(user=self.request.user)


class ExceptionItemDetailView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=ExceptionItemDetailOutputSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(_detail(request.user, pk))


class ExceptionItemResolveView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=ResolveInputSerializer, responses=ExceptionItemDetailOutputSerializer)
    def post(self, request: Request, pk: int) -> Response:
        body = ResolveInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.resolve_exception_item(
            item_id=pk,
            action=body.validated_data["action"],
            user=request.user,
            data=body.validated_data["data"],
        )
        return Response(_detail(request.user, pk))


class ExceptionItemAssignView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=AssignInputSerializer, responses=ExceptionItemDetailOutputSerializer)
    def post(self, request: Request, pk: int) -> Response:
        body = AssignInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        name = body.validated_data["assignee"]
        assignee = None
        if name is not None:
            lookup = Q(username=name) | (Q(pk=int(name)) if _USER_ID.fullmatch(name) else Q())
            assignee = get_user_model().objects.filter(lookup, is_active=True).first()
            if assignee is None:
                raise DomainError(f"no active user {name!r}", assignee=name)
        services.assign_exception_item(item_id=pk, assignee=assignee, by=request.user)
        return Response(_detail(request.user, pk))


class ExceptionItemCommentView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=CommentInputSerializer, responses={201: ExceptionCommentOutputSerializer}
    )
    def post(self, request: Request, pk: int) -> Response:
        body = CommentInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        comment = services.comment_on_exception_item(
            item_id=pk, user=request.user, text=body.validated_data["text"]
        )
        return Response(ExceptionCommentOutputSerializer(comment).data, status=201)


class ExceptionItemDismissView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=DismissInputSerializer, responses=ExceptionItemDetailOutputSerializer)
    def post(self, request: Request, pk: int) -> Response:
        body = DismissInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.dismiss_exception_item(
            item_id=pk, user=request.user, reason=body.validated_data["reason"]
        )
        return Response(_detail(request.user, pk))
