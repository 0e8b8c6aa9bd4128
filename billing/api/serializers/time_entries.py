"""The serializers of ``time-entries/`` (docs/contract.md §2)."""

from rest_framework import serializers

from billing.models import TimeEntry
from config.money import rate_json
from config.serializers import MoneyField


class TimeEntryOutputSerializer(serializers.ModelSerializer):
    project = serializers.CharField(source="psa_project_id")
    billable = serializers.BooleanField(source="is_billable")

    class Meta:
        model = TimeEntry
        fields = [
            "id",
            "psa_time_entry_id",
            "project",
            "phase_code",
            "person_email",
            "role",
            "work_date",
            "hours",
            "billable",
            "category",
            "psa_bill_rate",
            "notes",
            "approved_at",
            "approved_by",
            "status",
            "trace_id",
        ]


class RatedTimeEntryOutputSerializer(TimeEntryOutputSerializer):
    rate = serializers.SerializerMethodField()
    amount = MoneyField()
    cost = MoneyField(source="cost_amount", currency="cost_currency")
    rate_card_version = serializers.SerializerMethodField()
    invoice_line = serializers.SerializerMethodField()

    class Meta(TimeEntryOutputSerializer.Meta):
        fields = [
            *TimeEntryOutputSerializer.Meta.fields,
            "hold_reason",
            "billed_hours",
            "rate",
            "amount",
            "cost",
            "rate_card_version",
            "invoice_line",
            "write_off_reason",
            "retracted_at",
        ]

    def get_rate(self, entry: TimeEntry) -> dict | None:
        return rate_json(entry.rate, entry.currency)

    def get_rate_card_version(self, entry: TimeEntry) -> dict | None:
        version = entry.rate_card_version
        if version is None:
            return None
        return {
            "id": version.pk,
            "card": version.card.code,
            "valid_from": version.valid_from.isoformat(),
            "valid_to": version.valid_to.isoformat() if version.valid_to else None,
        }

    def get_invoice_line(self, entry: TimeEntry) -> dict | None:
        billings = getattr(entry, "active_billings", [])
        if not billings:
            return None
        link = billings[0]
        return {
            "line": link.line_id,
            "invoice": link.line.invoice_id,
            "invoice_url": f"/api/v1/invoices/{link.line.invoice_id}/",
            "invoice_status": link.line.invoice.status,
        }
