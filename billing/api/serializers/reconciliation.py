"""``reconciliation/``: each (month, legal entity) row of the latest reconciliation run that
checked it, and the runs (docs/finance-controls/reconciliation.md). Amounts are the money shape
(``{"amount": "571.59", "currency": "USD"}``), listed per currency, never added across."""

import re

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config.serializers import MONEY_SCHEMA
from exceptions_queue.models import ControlResult, ControlRun

PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


@extend_schema_field({"type": "array", "items": MONEY_SCHEMA})
class MoneyListField(serializers.ListField):
    """Amounts per currency as the row stored them (already the money shape)."""

    child = serializers.DictField(child=serializers.CharField())


class TimeSideSerializer(serializers.Serializer):
    approved_hours = serializers.CharField(help_text="Billable approved hours (held included)")
    held_hours = serializers.CharField()
    rated = MoneyListField()
    unbilled = MoneyListField(help_text="Rated, on no invoice")
    unbilled_entries = serializers.IntegerField()
    billed = serializers.BooleanField(help_text="A billing run of the month has finished")
    closed = serializers.BooleanField(help_text="The month is closed (late time awaits a move)")


class InvoicedSideSerializer(serializers.Serializer):
    net = MoneyListField(help_text="Lines of the month's non-void invoices")
    invoices = serializers.IntegerField()


class ErpSideSerializer(serializers.Serializer):
    systems = serializers.ListField(child=serializers.CharField())
    errors = serializers.ListField(child=serializers.CharField(), help_text="Why not read")
    posted = serializers.IntegerField()
    checked = serializers.IntegerField(help_text="Posted invoices the ERP was asked about")
    ours = MoneyListField(help_text="Our gross of the checked invoices")
    theirs = MoneyListField(help_text="The ERP's gross of those it has")
    missing = serializers.IntegerField()
    differing = serializers.IntegerField()


class CrmSideSerializer(serializers.Serializer):
    system = serializers.CharField()
    error = serializers.CharField()
    invoices = serializers.IntegerField()
    checked = serializers.IntegerField()
    in_flight = serializers.IntegerField(help_text="A status still on its way to the CRM")
    stale = serializers.IntegerField()


class MismatchOutputSerializer(serializers.Serializer):
    check = serializers.CharField()
    label = serializers.CharField()
    subject_ref = serializers.CharField()
    summary = serializers.CharField()
    ours = serializers.CharField(help_text="What Throughline says")
    theirs = serializers.CharField(help_text="What the other side says")
    invoice_id = serializers.IntegerField(allow_null=True)
    amounts = MoneyListField(help_text="At risk")
    item_id = serializers.IntegerField(allow_null=True, help_text="Its exception item")
    item_url = serializers.SerializerMethodField()
    dismissed = serializers.BooleanField(help_text="Dismissed by a person, sides unchanged")

    def get_item_url(self, mismatch: dict) -> str | None:
        item_id = mismatch.get("item_id")
        return f"/api/v1/exceptions/{item_id}/" if item_id else None


class ReconciliationRowOutputSerializer(serializers.ModelSerializer):
    legal_entity = serializers.CharField(source="group")
    checked_at = serializers.DateTimeField(source="created_at")
    time = TimeSideSerializer(source="figures.time")
    invoiced = InvoicedSideSerializer(source="figures.invoiced")
    erp = ErpSideSerializer(source="figures.erp")
    crm = CrmSideSerializer(source="figures.crm")
    mismatches = MismatchOutputSerializer(source="figures.mismatches", many=True)

    class Meta:
        model = ControlResult
        fields = [
            "period",
            "legal_entity",
            "run",
            "checked_at",
            "mismatch_count",
            "time",
            "invoiced",
            "erp",
            "crm",
            "mismatches",
        ]


class ReconciliationRunOutputSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = ControlRun
        fields = [
            "id",
            "url",
            "scope",
            "parameters",
            "status",
            "progress",
            "counts",
            "error",
            "trace_id",
            "created_at",
            "started_at",
            "finished_at",
        ]

    def get_url(self, run: ControlRun) -> str:
        return f"/api/v1/reconciliation/runs/{run.pk}/"


class ReconciliationRunInputSerializer(serializers.Serializer):
    period = serializers.RegexField(PERIOD, help_text="YYYY-MM")
    legal_entity = serializers.CharField(required=False, allow_blank=True, default="")
