import pytest

from tests.conftest import make_user


@pytest.fixture
def finance_client(client):
    """The test client signed in as a finance person."""
    make_user("fin", "finance")
    client.login(username="fin", password="pw-fin")
    return client
