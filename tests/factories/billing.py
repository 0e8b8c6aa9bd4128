"""Factories of billing: reference data (as ``load_reference`` rows), deals and built records."""

import copy
import uuid

import factory

from billing.models import EventSubscription, ProjectTemplate, RateCard, Role, TemplatePhase
from mdm.models import LegalEntity

# A small reference file (docs/contract.md §4): three entities, standard cards, one template per
# billing model. Tests load it with billing.services.reference.load_reference_data.
REFERENCE = {
    "legal_entities": [
        {
            "code": "US01",
            "name": "Acme Consulting Inc.",
            "country": "US",
            "currency": "USD",
            "tax_jurisdictions": ["US-NY", "US-CA"],
        },
        {
            "code": "GB01",
            "name": "Acme Consulting Ltd",
            "country": "GB",
            "currency": "GBP",
            "tax_jurisdictions": ["GB"],
        },
        {
            "code": "DE01",
            "name": "Acme Consulting GmbH",
            "country": "DE",
            "currency": "EUR",
            "tax_jurisdictions": ["DE"],
        },
    ],
    "tax_rates": [{"jurisdiction": "GB", "rate": "0.20", "valid_from": "2020-01-01"}],
    "fx_rates": [{"from": "GBP", "to": "USD", "rate": "1.27", "date": "2026-11-01"}],
    "roles": [{"code": "consultant", "name": "Consultant"}, {"code": "partner", "name": "Partner"}],
    "people": [
        {
            "email": "ana@acme.example",
            "name": "Ana",
            "role": "consultant",
            "legal_entity": "US01",
            "cost_rate": "80.00",
            "weekly_capacity_hours": "40",
        }
    ],
    "rate_cards": [
        {
            "code": "US-STD",
            "legal_entity": "US01",
            "currency": "USD",
            "client_account_id": None,
            "standard": True,
            "versions": [
                {
                    "valid_from": "2026-01-01",
                    "valid_to": None,
                    "rates": [
                        {"role": "consultant", "hourly": "150.00"},
                        {"role": "partner", "hourly": "300.00"},
                    ],
                }
            ],
        },
        {
            "code": "GB-STD",
            "legal_entity": "GB01",
            "currency": "GBP",
            "client_account_id": None,
            "standard": True,
            "versions": [
                {
                    "valid_from": "2026-01-01",
                    "valid_to": None,
                    "rates": [{"role": "consultant", "hourly": "120.00"}],
                }
            ],
        },
        {
            "code": "US-GLOBEX",
            "legal_entity": "US01",
            "currency": "USD",
            "client_account_id": "001GLOBEX",
            "standard": False,
            "versions": [
                {
                    "valid_from": "2026-07-01",
                    "valid_to": None,
                    "rates": [{"role": "consultant", "hourly": "140.00"}],
                }
            ],
        },
    ],
    "project_templates": [
        {
            "code": "TM-STD",
            "name": "Time and materials",
            "billing_models": ["time_and_materials"],
            "phases": [{"code": "DISC", "name": "Discovery"}, {"code": "BUILD", "name": "Build"}],
        },
        {
            "code": "FF-STD",
            "name": "Fixed fee",
            "billing_models": ["fixed_fee"],
            "phases": [{"code": "PLAN", "name": "Plan"}, {"code": "DELIVER", "name": "Deliver"}],
        },
        {
            "code": "RET-STD",
            "name": "Retainer",
            "billing_models": ["retainer"],
            "phases": [{"code": "ADVISE", "name": "Advisory"}],
        },
    ],
    "billing_rules": [
        {
            "client_account_id": "001GLOBEX",
            "rounding_increment_hours": "0.25",
            "rounding": "up",
            "non_billable_categories": ["travel"],
        }
    ],
}


def reference_data(**sections) -> dict:
    """A deep copy of REFERENCE with some sections replaced."""
    data = copy.deepcopy(REFERENCE)
    data.update(sections)
    return data


def load_reference(data: dict | None = None, *, subscribe: tuple[str, ...] = ("crm",)) -> None:
    """Load the reference data and subscribe systems (by slug) to throughline.project.activated."""
    from billing.services.reference import load_reference_data

    data = reference_data() if data is None else data
    data.setdefault(
        "event_subscriptions",
        [{"system": slug, "event_type": "throughline.project.activated"} for slug in subscribe],
    )
    load_reference_data(data=data)


def closed_won_data(billing_model: str = "time_and_materials", **overrides) -> dict:
    """The ``data`` of a valid ``crm.opportunity.closed_won`` for the REFERENCE data."""
    data = {
        "opportunity_id": f"006{uuid.uuid4().hex[:12].upper()}",
        "account_id": "001ACME",
        "account_name": "Initech Corporation",
        "name": "Initech ERP rollout",
        "close_date": "2026-10-28",
        "amount": "120000.00",
        "currency": "USD",
        "legal_entity": "US01",
        "billing_model": billing_model,
        "start_date": "2026-11-01",
        "end_date": "2027-04-30",
        "tax_jurisdiction": "US-NY",
        "project_template": "TM-STD",
        "rate_card": None,
        "not_to_exceed": "150000.00",
        "po_number": "PO-4711",
        "payment_terms": "NET30",
        "milestones": [],
        "retainer": None,
    }
    if billing_model == "fixed_fee":
        data.update(
            project_template="FF-STD",
            amount="90000.00",
            not_to_exceed=None,
            milestones=[
                {"name": "Blueprint signed off", "amount": "30000.00", "due_date": "2026-12-15"},
                {"name": "Go-live", "amount": "60000.00", "due_date": "2027-03-31"},
            ],
        )
    elif billing_model == "retainer":
        data.update(
            project_template="RET-STD",
            amount="60000.00",
            not_to_exceed=None,
            retainer={"monthly_amount": "10000.00", "included_hours": "50"},
        )
    data.update(overrides)
    return data


class LegalEntityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LegalEntity
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"E{n:03d}")
    name = factory.LazyAttribute(lambda o: f"Entity {o.code}")
    country = "US"
    currency = "USD"
    tax_jurisdictions = factory.LazyFunction(lambda: ["US-NY"])


class RoleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Role
        django_get_or_create = ("code",)

    code = "consultant"
    name = "Consultant"


class ProjectTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProjectTemplate
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"T{n:03d}")
    name = "Template"
    billing_models = factory.LazyFunction(lambda: ["time_and_materials"])

    @factory.post_generation
    def phases(self, create, extracted, **kwargs):
        for position, code in enumerate(extracted or ("DISC",)):
            TemplatePhase.objects.get_or_create(
                template=self, code=code, defaults={"name": code.title(), "position": position}
            )


class RateCardFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RateCard

    code = factory.Sequence(lambda n: f"CARD-{n:03d}")
    legal_entity = factory.SubFactory(LegalEntityFactory)
    currency = "USD"
    is_standard = True


class EventSubscriptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EventSubscription

    event_type = "throughline.project.activated"
    is_active = True
