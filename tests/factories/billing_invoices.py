"""Factories for rating and invoicing tests: entities, cards, contracts with projects, rules.

Plain functions with valid minimal defaults (the world of docs/contract.md §4's example): US01 bills
USD in US-NY; consultant at 150.00 on US-STD from 2026-01-01; project PRJ-100 (phase DISC
open) of a time-and-materials contract of account 001A from 2026-01-01 to 2026-12-31.
"""

from datetime import date
from decimal import Decimal

from billing.models import (
    BillingRule,
    Contract,
    Milestone,
    Person,
    Phase,
    Project,
    ProjectTemplate,
    Rate,
    RateCard,
    RateCardVersion,
    Role,
    TaxRate,
)
from mdm.models import Customer, LegalEntity


def legal_entity(code="US01", currency="USD", jurisdictions=("US-NY",)) -> LegalEntity:
    entity, _ = LegalEntity.objects.get_or_create(
        code=code,
        defaults={
            "name": f"Acme {code}",
            "country": code[:2],
            "currency": currency,
            "tax_jurisdictions": list(jurisdictions),
        },
    )
    return entity


def customer(name="Globex") -> Customer:
    return Customer.objects.get_or_create(name=name)[0]


def role(code="consultant") -> Role:
    return Role.objects.get_or_create(code=code, defaults={"name": code.title()})[0]


def person(email="ana@acme.example", role_code="consultant", entity=None, cost_rate="80.00"):
    return Person.objects.get_or_create(
        email=email,
        defaults={
            "name": email.split("@")[0].title(),
            "role": role(role_code),
            "legal_entity": entity or legal_entity(),
            "cost_rate": Decimal(cost_rate),
        },
    )[0]


def rate_card(
    code="US-STD",
    *,
    entity=None,
    currency="USD",
    client_account_id="",
    versions=((date(2026, 1, 1), None, {"consultant": "150.00"}),),
) -> RateCard:
    card = RateCard.objects.create(
        code=code,
        legal_entity=entity or legal_entity(),
        currency=currency,
        client_account_id=client_account_id,
        is_standard=not client_account_id,
    )
    for valid_from, valid_to, rates in versions:
        version = RateCardVersion.objects.create(
            card=card, valid_from=valid_from, valid_to=valid_to
        )
        for role_code, hourly in rates.items():
            Rate.objects.create(version=version, role=role(role_code), hourly=Decimal(hourly))
    return card


def template(code="TM-STD") -> ProjectTemplate:
    return ProjectTemplate.objects.get_or_create(
        code=code,
        defaults={
            "name": code,
            "billing_models": ["time_and_materials", "fixed_fee", "retainer"],
        },
    )[0]


def project(
    psa_project_id="PRJ-100",
    *,
    billing_model=Contract.BillingModel.TIME_AND_MATERIALS,
    entity=None,
    client=None,
    currency="USD",
    crm_account_id="001A",
    tax_jurisdiction="US-NY",
    start=date(2026, 1, 1),
    end=date(2026, 12, 31),
    not_to_exceed=None,
    card=None,
    retainer=None,
    phases=(("DISC", "open"),),
    status=Project.Status.ACTIVE,
    milestones=(),
) -> Project:
    """A contract with its project; ``retainer`` = (monthly amount, included hours)."""
    client = client or customer()
    contract = Contract.objects.create(
        crm_opportunity_id=f"OPP-{psa_project_id}",
        crm_account_id=crm_account_id,
        name=f"Deal {psa_project_id}",
        customer=client,
        legal_entity=entity or legal_entity(),
        billing_model=billing_model,
        currency=currency,
        amount=Decimal("100000.00"),
        close_date=start,
        start_date=start,
        end_date=end,
        not_to_exceed=Decimal(not_to_exceed) if not_to_exceed is not None else None,
        tax_jurisdiction=tax_jurisdiction,
        rate_card=card,
        retainer_monthly_amount=Decimal(retainer[0]) if retainer else None,
        retainer_included_hours=Decimal(retainer[1]) if retainer else None,
    )
    for name, amount, completed_on in milestones:
        Milestone.objects.create(
            contract=contract, name=name, amount=Decimal(amount), completed_on=completed_on
        )
    created = Project.objects.create(
        contract=contract,
        customer=client,
        template=template(),
        name=f"Project {psa_project_id}",
        psa_project_id=psa_project_id,
        status=status,
    )
    for position, (code, phase_status) in enumerate(phases):
        Phase.objects.create(
            project=created, code=code, name=code, status=phase_status, position=position
        )
    return created


def billing_rule(
    client_account_id="001A",
    *,
    increment=None,
    rounding="up",
    non_billable=(),
    grouping="per_role",
) -> BillingRule:
    return BillingRule.objects.create(
        client_account_id=client_account_id,
        rounding_increment_hours=Decimal(increment) if increment else None,
        rounding=rounding,
        non_billable_categories=list(non_billable),
        invoice_grouping=grouping,
    )


def tax_rate(jurisdiction="US-NY", rate="0.0800", valid_from=date(2020, 1, 1)) -> TaxRate:
    return TaxRate.objects.create(
        jurisdiction=jurisdiction, rate=Decimal(rate), valid_from=valid_from
    )


def standard_world() -> Project:
    """US01/USD, US-STD consultant 150.00, Ana (cost 80.00), T&M project PRJ-100."""
    entity = legal_entity()
    person(entity=entity)
    rate_card(entity=entity)
    return project(entity=entity)
