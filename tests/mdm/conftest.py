from datetime import UTC, datetime, timedelta

import pytest

from tests.factories.mdm import LegalEntityFactory
from tests.helpers import drain, envelope, post_event


@pytest.fixture
def legal_entity(db):
    return LegalEntityFactory()


@pytest.fixture
def send(client, systems):
    """send("crm", "crm.account.upserted", data, at=minutes) -> response; then drains."""
    base = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)

    def post(slug: str, event_type: str, data: dict, *, minute: int = 0, run: bool = True):
        body = envelope(event_type, data, timestamp=base + timedelta(minutes=minute))
        response = post_event(client, slug, systems[slug][1], body)
        assert response.status_code == 202, response.content
        if run:
            drain()
        return response

    return post
