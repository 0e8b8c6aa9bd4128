"""Factories and event payloads of the customer master."""

import uuid

import factory

from mdm.models import Customer, LegalEntity


class LegalEntityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LegalEntity
        django_get_or_create = ("code",)

    code = "US01"
    name = "Acme Consulting Inc."
    country = "US"
    currency = "USD"
    tax_jurisdictions = factory.LazyFunction(lambda: ["US-NY", "US-CA"])


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    name = factory.Sequence(lambda n: f"Customer {n}")


def crm_account(**overrides) -> dict:
    data = {
        "account_id": f"001{uuid.uuid4().hex[:12]}",
        "name": "Northwind Traders",
        "website": "https://www.northwind.example",
        "industry": "Retail",
        "phone": "+1 212 555 0100",
        "parent_account_id": None,
        "owner_email": "sales@acme.example",
        "billing_country": "US",
        "updated_at": "2026-11-01T09:00:00+00:00",
    }
    data.update(overrides)
    return data


def erp_customer(**overrides) -> dict:
    data = {
        "customer_id": f"C-{uuid.uuid4().hex[:8]}",
        "crm_account_id": None,
        "legal_name": "Northwind Traders Inc.",
        "legal_entity": "US01",
        "bill_to": {
            "line1": "1 Main St",
            "line2": None,
            "city": "New York",
            "region": "NY",
            "postal_code": "10001",
            "country": "US",
        },
        "payment_terms": "NET30",
        "currency": "USD",
        "tax_id": "US-12-3456789",
        "tax_jurisdiction": "US-NY",
        "updated_at": "2026-11-01T09:00:00+00:00",
    }
    data.update(overrides)
    return data


def crm_contact(**overrides) -> dict:
    data = {
        "contact_id": f"003{uuid.uuid4().hex[:12]}",
        "account_id": "001",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@northwind.example",
        "phone": "+1 212 555 0101",
        "title": "Controller",
        "is_billing_contact": True,
        "updated_at": "2026-11-01T09:00:00+00:00",
    }
    data.update(overrides)
    return data
