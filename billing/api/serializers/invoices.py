"""The serializers of ``invoices/`` and ``billing-runs/`` (docs/contract.md §2)."""

from rest_framework import serializers

from billing.models import BillingRun, Invoice, InvoiceLine
from billing.periods import period_from_text
from config.money import round_money
from config.serializers import MoneyField


class InvoiceLineOutputSerializer(serializers.ModelSerializer):
    amount = MoneyField(currency="invoice.currency")
    time_entries = serializers.SerializerMethodField()
    milestone = serializers.SerializerMethodField()
    project = serializers.SerializerMethodField()
    reverses = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)

    class Meta:
        model = InvoiceLine
        fields = [
            "id",
            "kind",
            "description",
            "project",
            "role",
            "person_email",
            "hours",
            "rate",
            "amount",
            "service_month",
            "milestone",
            "reverses",
            "time_entries",
        ]

    def get_project(self, line: InvoiceLine) -> str | None:
        project = getattr(line.contract, "project", None)
        return project.psa_project_id if project else None

    def get_milestone(self, line: InvoiceLine) -> dict | None:
        if line.milestone is None:
            return None
        return {"id": line.milestone.pk, "name": line.milestone.name}

    def get_time_entries(self, line: InvoiceLine) -> list[dict]:
        return [
            {
                "psa_time_entry_id": link.time_entry.psa_time_entry_id,
                "url": f"/api/v1/time-entries/?psa_time_entry_id={link.time_entry.psa_time_entry_id}",
                "hours": str(link.hours),
                "amount": str(round_money(link.amount, line.invoice.currency)),
                "is_active": link.is_active,
            }
            for link in line.entries.all()
        ]


class InvoiceOutputSerializer(serializers.ModelSerializer):
    customer = serializers.SerializerMethodField()
    legal_entity = serializers.CharField(source="legal_entity.code")
    period = serializers.SerializerMethodField()
    net_total = MoneyField()
    tax_total = MoneyField()
    gross_total = MoneyField()
    erp_total = MoneyField()
    amount_due = MoneyField()
    lines = InvoiceLineOutputSerializer(many=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = Invoice
        fields = [
            "id",
            "url",
            "customer",
            "legal_entity",
            "currency",
            "tax_jurisdiction",
            "period",
            "sequence",
            "status",
            "invoice_date",
            "net_total",
            "tax_rate",
            "tax_total",
            "gross_total",
            "erp_invoice_id",
            "number",
            "erp_total",
            "amount_due",
            "approved_at",
            "posted_at",
            "trace_id",
            "lines",
        ]

    def get_customer(self, invoice: Invoice) -> dict:
        return {"id": invoice.customer_id, "name": invoice.customer.name}

    def get_period(self, invoice: Invoice) -> str:
        return f"{invoice.period:%Y-%m}"

    def get_url(self, invoice: Invoice) -> str:
        return invoice.get_absolute_url()


class BillingRunOutputSerializer(serializers.ModelSerializer):
    period = serializers.SerializerMethodField()
    legal_entity = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    class Meta:
        model = BillingRun
        fields = [
            "id",
            "url",
            "period",
            "legal_entity",
            "customer",
            "status",
            "step",
            "progress",
            "counts",
            "error",
            "trace_id",
            "created_at",
            "started_at",
            "finished_at",
        ]

    def get_period(self, run: BillingRun) -> str:
        return f"{run.period:%Y-%m}"

    def get_legal_entity(self, run: BillingRun) -> str | None:
        return run.legal_entity.code if run.legal_entity else None

    def get_url(self, run: BillingRun) -> str:
        return f"/billing-runs/{run.pk}/"


class BillingRunInputSerializer(serializers.Serializer):
    period = serializers.RegexField(r"^\d{4}-\d{2}$")
    legal_entity = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    customer = serializers.IntegerField(required=False, allow_null=True)

    def validate_period(self, value: str):
        try:
            return period_from_text(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc
