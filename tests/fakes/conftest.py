import pytest
from simple_salesforce import Salesforce

from tests.fakes.salesforce import FakeSalesforce


@pytest.fixture
def fake() -> FakeSalesforce:
    return FakeSalesforce()


@pytest.fixture
def sf(fake) -> Salesforce:
    """simple-salesforce on a direct token, as the connector builds it."""
    return Salesforce(
        instance_url="https://sf.test",
        session_id=fake.issue_token(),
        version="62.0",
        session=fake.session(),
    )


@pytest.fixture
def http(fake):
    """A raw session carrying a valid Bearer token."""
    session = fake.session()
    session.headers["Authorization"] = f"Bearer {fake.issue_token()}"
    return session
