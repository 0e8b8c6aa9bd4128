"""The seed defaults of field ownership (issue 6): CRM owns relationship data, ERP owns bill-to,
legal entity, payment terms and tax. The data migration copies this table once; afterwards the
admin is the place to change it."""

SEED_OWNERSHIP: tuple[tuple[str, str, str], ...] = (
    ("customer", "name", "crm"),
    ("customer", "website", "crm"),
    ("customer", "industry", "crm"),
    ("customer", "phone", "crm"),
    ("customer", "owner_email", "crm"),
    ("customer", "parent", "crm"),
    ("customer", "country", "crm"),
    ("customer", "legal_name", "erp"),
    ("billing_profile", "bill_to", "erp"),
    ("billing_profile", "legal_entity", "erp"),
    ("billing_profile", "payment_terms", "erp"),
    ("billing_profile", "currency", "erp"),
    ("billing_profile", "tax_id", "erp"),
    ("billing_profile", "tax_jurisdiction", "erp"),
    ("contact", "first_name", "crm"),
    ("contact", "last_name", "crm"),
    ("contact", "email", "crm"),
    ("contact", "phone", "crm"),
    ("contact", "title", "crm"),
    ("contact", "is_billing_contact", "crm"),
)
