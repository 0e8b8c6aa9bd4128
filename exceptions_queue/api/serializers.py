from django.contrib.contenttypes.models import ContentType
from rest_framework import serializers

from config.serializers import MoneyField
from exceptions_queue.models import ExceptionComment, ExceptionItem, ExceptionMember
from exceptions_queue.registry import exception_types
from exceptions_queue.services import DISMISS


class ExceptionItemOutputSerializer(serializers.ModelSerializer):
    type = serializers.CharField(source="type_code")
    type_title = serializers.SerializerMethodField()
    subject_type = serializers.SerializerMethodField()
    subject_id = serializers.CharField(source="object_id")
    amount_at_risk = MoneyField()
    count = serializers.IntegerField(source="occurrence_count")
    is_overdue = serializers.BooleanField()
    assignee = serializers.SerializerMethodField()
    resolution = serializers.SerializerMethodField()
    actions = serializers.SerializerMethodField()

    class Meta:
        model = ExceptionItem
        fields = [
            "id",
            "type",
            "type_title",
            "queue",
            "severity",
            "status",
            "subject_ref",
            "subject_key",
            "subject_type",
            "subject_id",
            "summary",
            "details",
            "trace_id",
            "amount_at_risk",
            "hours",
            "count",
            "first_seen_at",
            "last_seen_at",
            "due_at",
            "is_overdue",
            "assignee",
            "resolution",
            "actions",
        ]

    def get_type_title(self, item) -> str:
        exception_type = exception_types.get(item.type_code)
        return exception_type.title if exception_type else item.type_code

    def get_subject_type(self, item) -> str:
        if not item.content_type_id:
            return ""
        content_type = ContentType.objects.get_for_id(item.content_type_id)  # cached
        return f"{content_type.app_label}.{content_type.model}"

    def get_assignee(self, item) -> str | None:
        return item.assignee.get_username() if item.assignee_id else None

    def get_resolution(self, item) -> dict | None:
        if not item.resolution_action:
            return None
        return {
            "action": item.resolution_action,
            "outcome": item.resolution_outcome,
            "by": item.resolved_by.get_username() if item.resolved_by_id else None,
            "at": item.resolved_at,
        }

    def get_actions(self, item) -> list[dict]:
        exception_type = exception_types.get(item.type_code)
        actions = [
            {"name": a.name, "label": a.label, "resolves": a.resolves, "roles": list(a.roles)}
            for a in (exception_type.actions if exception_type else ())
        ]
        actions.append({"name": DISMISS, "label": "Dismiss", "resolves": True, "roles": []})
        return actions


class ExceptionMemberOutputSerializer(serializers.ModelSerializer):
    amount = MoneyField()

    class Meta:
        model = ExceptionMember
        fields = ["member_key", "amount", "hours", "description", "added_at", "released_at"]


class ExceptionCommentOutputSerializer(serializers.ModelSerializer):
    author = serializers.SerializerMethodField()

    class Meta:
        model = ExceptionComment
        fields = ["id", "kind", "author", "text", "created_at"]

    def get_author(self, comment) -> str | None:
        return comment.author.get_username() if comment.author_id else None


class ExceptionItemDetailOutputSerializer(ExceptionItemOutputSerializer):
    members = ExceptionMemberOutputSerializer(many=True, read_only=True)
    comments = ExceptionCommentOutputSerializer(many=True, read_only=True)

    class Meta(ExceptionItemOutputSerializer.Meta):
        fields = [*ExceptionItemOutputSerializer.Meta.fields, "members", "comments"]


class ResolveInputSerializer(serializers.Serializer):
    action = serializers.CharField(max_length=60)
    data = serializers.DictField(required=False, default=dict)


class AssignInputSerializer(serializers.Serializer):
    assignee = serializers.CharField(
        allow_null=True,
        max_length=150,
        help_text="username (or user id); null gives the item back to the queue",
    )


class CommentInputSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=4000)


class DismissInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=1000)
