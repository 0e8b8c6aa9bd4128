import pytest

from tests.helpers import IN_CI, require


@pytest.fixture
def systems(db):
    """The demo's three systems on sandbox connectors: {slug: (system, secret)}."""
    from integrations.services.systems import add_system

    return {
        slug: add_system(slug=slug, kind=slug, connector="sandbox")[:2]
        for slug in ("crm", "psa", "erp")
    }


@pytest.fixture
def psa_secret(systems) -> str:
    return systems["psa"][1]


@pytest.fixture(autouse=True)
def _seeded_field_ownership(request):
    """The migrations seed field ownership (mdm 0002). A transactional test ends by flushing
    every table, seeds included, and with --reuse-db the next local run inherits the empty
    table: put the seed back before each database test that finds it gone."""
    if request.node.get_closest_marker("django_db") is None:
        return
    request.getfixturevalue("_django_db_helper")
    from mdm.models import FieldOwnership
    from mdm.models.governance import SEED_OWNERSHIP

    if not FieldOwnership.objects.exists():
        FieldOwnership.objects.bulk_create(
            FieldOwnership(entity=entity, field=field, owner=owner, note="seed default")
            for entity, field, owner in SEED_OWNERSHIP
        )


@pytest.fixture(autouse=True, scope="session")
def _embedded_broker():
    """Without REDIS_URL the suite runs on the embedded default's broker, as `make run` does:
    a Valkey server on a Unix socket under the tests' own var/ (config/broker.py). Anything a
    test publishes (a doorbell, a dispatch after commit) needs it up."""
    from django.conf import settings

    if settings.REDIS_URL:
        yield None
        return
    from config.broker import EmbeddedBroker

    server = EmbeddedBroker(settings.VAR_DIR, log_path=settings.VAR_DIR / "broker.log").start()
    yield server
    server.stop()


@pytest.fixture(autouse=True, scope="session")
def _database_is_what_ci_promised(django_db_setup, django_db_blocker):
    """Under CI=true the suite must run on PostgreSQL, never silently on SQLite."""
    from django.db import connection

    if IN_CI:
        require(connection.vendor == "postgresql", "CI must run on PostgreSQL (DATABASE_URL)")


def make_user(username: str, *roles: str):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from config.roles import ensure_role_groups

    ensure_role_groups()
    user = get_user_model().objects.create_user(username=username, password="pw-" + username)
    for role in roles:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def api_client_for(db):
    """api_client_for("operations") → a DRF client authenticated by a real API token of that
    role (`tokens create`'s service: a client named ``username``, acting as its service user).

    The token is checked once up front, as its first call would be, so that the last-use
    write (at most once a minute) does not land in a test's query counts. A token holds
    exactly one role, so with none or several roles the client is a person holding them,
    signed in by session (as the browser pages call the API)."""
    from rest_framework.test import APIClient

    from integrations.services.tokens import authenticate_token, issue_token

    def build(*roles: str, username: str | None = None):
        name = username or "user-" + "-".join(roles or ("none",))
        client = APIClient()
        if len(roles) == 1:
            issued = issue_token(client=name, role=roles[0])
            authenticate_token(issued.secret)
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.secret}")
            client.user = issued.token.user
        else:
            client.user = make_user(name, *roles)
            client.force_login(client.user)
        return client

    return build


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Say where the end-to-end tests ran (CI must show PostgreSQL + a worker on Redis)."""
    from django.conf import settings
    from django.db import connection

    e2e = [
        report
        for report in terminalreporter.stats.get("passed", [])
        if report.when == "call" and report.nodeid.startswith("tests/e2e/")
    ]
    if not e2e:
        return
    broker = "Redis" if settings.REDIS_URL else "the embedded Valkey broker"
    terminalreporter.write_line(
        f"end-to-end: {len(e2e)} tests passed through a real Celery worker process on "
        f"{connection.vendor} with {broker}"
    )
