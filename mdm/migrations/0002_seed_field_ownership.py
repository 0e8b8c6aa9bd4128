from django.db import migrations

# A frozen copy of mdm.models.governance.SEED_OWNERSHIP at the time of this migration.
SEED = (
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


def seed(apps, schema_editor):
    FieldOwnership = apps.get_model("mdm", "FieldOwnership")
    for entity, field, owner in SEED:
        FieldOwnership.objects.get_or_create(
            entity=entity, field=field, defaults={"owner": owner, "note": "seed default"}
        )


def unseed(apps, schema_editor):
    FieldOwnership = apps.get_model("mdm", "FieldOwnership")
    for entity, field, _owner in SEED:
        FieldOwnership.objects.filter(entity=entity, field=field, note="seed default").delete()


class Migration(migrations.Migration):
    dependencies = [("mdm", "0001_customer_master")]
    operations = [migrations.RunPython(seed, unseed)]
