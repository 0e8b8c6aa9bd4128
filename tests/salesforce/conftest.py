"""A firm whose CRM is Salesforce (the fake org of tests/fakes, reached through a transport
adapter, no network) with sandbox PSA and ERP, and the reference data loaded."""

from pathlib import Path

import pytest

from integrations.connectors.salesforce import client as sf_client
from integrations.models import ExternalSystem
from integrations.services.credentials import set_credentials
from integrations.services.systems import add_system
from tests.factories.billing import load_reference

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "salesforce"
ORG_ID = "00D5g000000TEST1EAA"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.fixture
def fake_salesforce(monkeypatch):
    from tests.fakes.salesforce import FakeSalesforce

    fake = FakeSalesforce(org_id=ORG_ID)
    monkeypatch.setattr(sf_client, "new_session", fake.session)
    sf_client.forget_tokens()
    yield fake
    sf_client.forget_tokens()


def add_salesforce(fake, *, slug: str = "crm", **options) -> ExternalSystem:
    system, _secret, _notes = add_system(
        slug=slug,
        kind="crm",
        connector="salesforce",
        settings={"salesforce": {"organization_id": ORG_ID, **options}},
    )
    set_credentials(
        system,
        {
            "client_id": fake.consumer_key,
            "username": fake.username,
            "private_key": fake.private_key_pem,
        },
    )
    return ExternalSystem.objects.get(pk=system.pk)


@pytest.fixture
def sf_firm(db, fake_salesforce):
    """Salesforce as the CRM, sandbox PSA and ERP; the CRM subscribed to project events."""
    crm = add_salesforce(fake_salesforce)
    psa, psa_secret, _ = add_system(slug="psa", kind="psa", connector="sandbox")
    erp, erp_secret, _ = add_system(slug="erp", kind="erp", connector="sandbox")
    load_reference()
    return {
        "crm": crm,
        "psa": psa,
        "erp": erp,
        "fake": fake_salesforce,
        "secrets": {"psa": psa_secret, "erp": erp_secret},
    }


def post_message(client, body: bytes, slug: str = "crm"):
    """POST an Outbound Message as Salesforce does (SOAP 1.1, text/xml, a SOAPAction)."""
    return client.generic(
        "POST",
        f"/api/v1/hooks/salesforce/{slug}/outbound-message/",
        body,
        content_type="text/xml; charset=utf-8",
        headers={"SOAPAction": '"notifications"'},
    )
