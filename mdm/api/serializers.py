from rest_framework import serializers

from mdm.models import BillingProfile, Contact, Customer, LegalEntity


class LegalEntityOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = LegalEntity
        fields = ["code", "name", "country", "currency", "tax_jurisdictions"]


class ContactOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Contact
        fields = ["id", "first_name", "last_name", "email", "phone", "title", "is_billing_contact"]


class BillingProfileOutputSerializer(serializers.ModelSerializer):
    legal_entity = serializers.CharField(source="legal_entity.code")
    bill_to = serializers.DictField(child=serializers.CharField(allow_blank=True))
    billing_contact = ContactOutputSerializer(allow_null=True)
    field_owners = serializers.SerializerMethodField()

    class Meta:
        model = BillingProfile
        fields = [
            "id",
            "legal_entity",
            "erp_customer_id",
            "bill_to",
            "payment_terms",
            "currency",
            "tax_id",
            "tax_jurisdiction",
            "billing_contact",
            "field_owners",
        ]

    def get_field_owners(self, obj) -> dict:
        return self.context.get("owners", {}).get("billing_profile", {})


class CustomerOutputSerializer(serializers.ModelSerializer):
    throughline_id = serializers.CharField(read_only=True)
    crm_account_id = serializers.CharField(allow_null=True, read_only=True)
    erp_customer_ids = serializers.SerializerMethodField()
    parent = serializers.SerializerMethodField()
    merged_into = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    legal_entities = serializers.SerializerMethodField()
    billing_profiles = BillingProfileOutputSerializer(many=True)
    contacts = ContactOutputSerializer(many=True)
    field_owners = serializers.SerializerMethodField()

    class Meta:
        model = Customer
        fields = [
            "id",
            "throughline_id",
            "name",
            "legal_name",
            "status",
            "website",
            "industry",
            "phone",
            "owner_email",
            "country",
            "parent",
            "merged_into",
            "crm_account_id",
            "erp_customer_ids",
            "legal_entities",
            "billing_profiles",
            "contacts",
            "field_owners",
            "created_at",
            "updated_at",
        ]

    def get_erp_customer_ids(self, obj) -> list[str]:
        return [p.erp_customer_id for p in obj.billing_profiles.all() if p.erp_customer_id]

    def get_parent(self, obj) -> dict | None:
        if obj.parent is None:
            return None
        return {
            "id": obj.parent.pk,
            "throughline_id": obj.parent.throughline_id,
            "name": obj.parent.name,
        }

    def get_legal_entities(self, obj) -> list[dict]:
        return [
            LegalEntityOutputSerializer(p.legal_entity).data for p in obj.billing_profiles.all()
        ]

    def get_field_owners(self, obj) -> dict:
        return self.context.get("owners", {}).get("customer", {})
