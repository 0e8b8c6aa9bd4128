"""``time-entries/`` (docs/contract.md §2): each entry with its rate, amount and rate-card version."""

from rest_framework import serializers
from rest_framework.generics import ListAPIView

from billing.api.serializers import TimeEntryOutputSerializer
from billing.filters import TimeEntryFilter
from billing.models import TimeEntry
from billing.selectors.invoices import list_time_entries_with_billing
from config.permissions import role_permission
from config.roles import FINANCE, INTEGRATION, PMO
from config.serializers import money_json


class RatedTimeEntryOutputSerializer(TimeEntryOutputSerializer):
    rate = serializers.SerializerMethodField()
    amount = serializers.SerializerMethodField()
    cost = serializers.SerializerMethodField()
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
        return money_json(entry.rate, entry.currency)

    def get_amount(self, entry: TimeEntry) -> dict | None:
        return money_json(entry.amount, entry.currency)

    def get_cost(self, entry: TimeEntry) -> dict | None:
        return money_json(entry.cost_amount, entry.cost_currency)

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


class TimeEntryListView(ListAPIView):
    permission_classes = [role_permission(FINANCE, PMO, INTEGRATION)]
    serializer_class = RatedTimeEntryOutputSerializer
    filterset_class = TimeEntryFilter
    ordering_fields = ["work_date", "psa_time_entry_id"]

    def get_queryset(self):
        return list_time_entries_with_billing()
