"""The serializers of ``projects/`` (docs/contract.md §2)."""

from rest_framework import serializers

from billing.models import Milestone, Phase, Project
from config.serializers import MoneyField, money_json


class PhaseOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Phase
        fields = ["code", "name", "status"]


class MilestoneOutputSerializer(serializers.ModelSerializer):
    amount = MoneyField(currency="contract.currency")

    class Meta:
        model = Milestone
        fields = ["name", "amount", "due_date", "completed_on"]


class ProjectOutputSerializer(serializers.ModelSerializer):
    crm_opportunity_id = serializers.CharField(source="contract.crm_opportunity_id")
    customer = serializers.SerializerMethodField()
    template = serializers.CharField(source="template.code")
    phases = PhaseOutputSerializer(many=True)
    milestones = MilestoneOutputSerializer(many=True, source="contract.milestones")
    contract = serializers.SerializerMethodField()
    rate_card = serializers.SerializerMethodField()

    class Meta:
        model = Project
        fields = [
            "id",
            "name",
            "status",
            "crm_opportunity_id",
            "psa_project_id",
            "customer",
            "template",
            "phases",
            "milestones",
            "contract",
            "rate_card",
            "trace_id",
            "created_at",
            "updated_at",
        ]

    def get_customer(self, project: Project) -> dict:
        return {
            "id": project.customer_id,
            "throughline_id": project.customer.throughline_id,
            "name": project.customer.name,
            "crm_account_id": project.contract.crm_account_id,
        }

    def get_contract(self, project: Project) -> dict:
        contract = project.contract
        return {
            "id": contract.pk,
            "name": contract.name,
            "billing_model": contract.billing_model,
            "legal_entity": contract.legal_entity.code,
            "currency": contract.currency,
            "amount": money_json(contract.amount, contract.currency),
            "close_date": contract.close_date,
            "start_date": contract.start_date,
            "end_date": contract.end_date,
            "not_to_exceed": money_json(contract.not_to_exceed, contract.currency),
            "po_number": contract.po_number,
            "payment_terms": contract.payment_terms,
            "tax_jurisdiction": contract.tax_jurisdiction,
            "retainer": None
            if contract.retainer_monthly_amount is None
            else {
                "monthly_amount": money_json(contract.retainer_monthly_amount, contract.currency),
                "included_hours": str(contract.retainer_included_hours),
            },
            "amendment_count": contract.amendment_count,
        }

    def get_rate_card(self, project: Project) -> dict | None:
        card = project.contract.rate_card
        if card is None:
            return None  # the client's card, else the entity's standard card (docs/contract.md §5)
        return {
            "code": card.code,
            "legal_entity": project.contract.legal_entity.code,
            "currency": card.currency,
            "client_account_id": card.client_account_id or None,
            "standard": card.is_standard,
        }
