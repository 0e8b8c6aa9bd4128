"""The REST API's throttles (docs/contract.md §2, docs/security.md): per token and per anonymous
client IP, 429 with Retry-After and a JSON reason. The rates are read from settings on every
request (config/throttles.py), so ``settings`` sets them here."""

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from config.throttles import AnonymousRateThrottle
from integrations.services.tokens import issue_token

pytestmark = pytest.mark.django_db


def token_client(client_name: str) -> APIClient:
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {issue_token(client=client_name, role='integration').secret}"
    )
    return client


def assert_throttled(response) -> None:
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert "throttled" in response.json()["detail"]


def test_a_token_burst_gets_429_with_retry_after_and_other_tokens_go_on(settings):
    settings.API_THROTTLE_PER_TOKEN = "3/min"
    burst, other = token_client("burst-bot"), token_client("calm-bot")
    assert [burst.get("/api/v1/events/").status_code for _ in range(3)] == [200] * 3
    assert_throttled(burst.get("/api/v1/events/"))
    assert other.get("/api/v1/events/").status_code == 200  # counted per token


def test_anonymous_requests_are_counted_per_client_ip(settings):
    settings.API_THROTTLE_ANON = "2/min"
    ip, other_ip = "203.0.113.7", "203.0.113.8"
    for address in (ip, other_ip):  # the file cache outlives a run: start from nothing
        key = AnonymousRateThrottle.cache_format % {"scope": "anon", "ident": address}
        cache.delete(key)
    anonymous = APIClient()
    statuses = [anonymous.get("/api/v1/", REMOTE_ADDR=ip).status_code for _ in range(2)]
    assert statuses == [200, 200]
    assert_throttled(anonymous.get("/api/v1/", REMOTE_ADDR=ip))
    assert anonymous.get("/api/v1/", REMOTE_ADDR=other_ip).status_code == 200


def test_a_token_is_not_counted_as_anonymous(settings):
    settings.API_THROTTLE_ANON = "1/min"
    client = token_client("busy-bot")
    assert [client.get("/api/v1/").status_code for _ in range(3)] == [200] * 3
