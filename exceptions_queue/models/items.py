from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords

from config.money_db import MoneyField


class Queue(models.TextChoices):
    FINANCE = "finance", "Finance"
    PMO = "pmo", "PMO"
    OPERATIONS = "operations", "Operations"


class Severity(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


class ExceptionItem(models.Model):
    """One problem that needs a person: a type, the subject it is about, and its handling.

    At most one item per (type, subject key) is open (``open`` or ``assigned``) at a time: the
    same problem raised again adds to that item instead of making a new one (docs/contract.md §3).
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ASSIGNED = "assigned", "Assigned"
        RESOLVED = "resolved", "Resolved"
        DISMISSED = "dismissed", "Dismissed"

    OPEN_STATUSES = (Status.OPEN, Status.ASSIGNED)

    type_code = models.CharField(max_length=60, db_index=True)
    queue = models.CharField(max_length=12, choices=Queue.choices, db_index=True)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    content_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    object_id = models.CharField(max_length=64, blank=True)
    subject = GenericForeignKey("content_type", "object_id")
    subject_key = models.CharField(
        max_length=200, help_text="What the problem is about, e.g. outbox:<uuid>; dedupe key."
    )
    subject_ref = models.CharField(max_length=200, help_text="The subject in words for a person.")
    summary = models.CharField(max_length=500, blank=True)
    details = models.JSONField(default=dict, blank=True)
    trace_id = models.CharField(max_length=32, blank=True, db_index=True)
    amount_at_risk = MoneyField(
        null=True,
        blank=True,
        help_text="Empty when no amount is known (then hours tell the size) or when the amounts "
        "are in several currencies (then see amounts_at_risk).",
    )
    currency = models.CharField(max_length=3, blank=True)
    amounts_at_risk = models.JSONField(
        default=list,
        blank=True,
        help_text='Per currency, never added across: [{"amount": "92.588", "currency": "KWD"}, …]',
    )
    hours = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    occurrence_count = models.PositiveIntegerField(
        default=1, help_text="Members held, or times raised for items without members."
    )
    first_seen_at = models.DateTimeField(default=timezone.now, db_index=True)
    last_seen_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_exception_items",
    )
    due_at = models.DateTimeField(db_index=True)
    resolution_action = models.CharField(max_length=60, blank=True)
    resolution_outcome = models.TextField(blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="resolved_exception_items",
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            # Partial unique index (PostgreSQL and SQLite): the database, not a read-then-write,
            # guarantees one open item per problem when two workers raise it at once.
            models.UniqueConstraint(
                fields=["type_code", "subject_key"],
                condition=models.Q(status__in=["open", "assigned"]),
                name="uniq_open_exception_per_subject",
            )
        ]
        indexes = [
            models.Index(fields=["queue", "status", "due_at"]),
            models.Index(fields=["content_type", "object_id"]),
            models.Index(fields=["type_code", "subject_key"]),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.type_code} {self.subject_ref}"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    @property
    def is_overdue(self) -> bool:
        return self.is_open and self.due_at is not None and self.due_at < timezone.now()


class ExceptionMember(models.Model):
    """One entry an item holds (e.g. a time entry blocked by a closed phase), with its size.

    A released member (retracted, corrected) stays for the record with ``released_at`` set.
    """

    item = models.ForeignKey(ExceptionItem, on_delete=models.CASCADE, related_name="members")
    member_key = models.CharField(max_length=200)
    amount = MoneyField(null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    hours = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    description = models.CharField(max_length=500, blank=True)
    trace_id = models.CharField(max_length=32, blank=True)
    added_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["added_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["item", "member_key"], name="uniq_member_per_item")
        ]

    def __str__(self) -> str:
        return f"{self.item_id}:{self.member_key}"


class ExceptionComment(models.Model):
    """One line of an item's activity: a person's comment, an action taken, or a system note."""

    class Kind(models.TextChoices):
        COMMENT = "comment", "Comment"
        ACTION = "action", "Action"
        SYSTEM = "system", "System"

    item = models.ForeignKey(ExceptionItem, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.COMMENT)
    text = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.item_id} {self.kind} {self.created_at:%Y-%m-%d %H:%M}"
