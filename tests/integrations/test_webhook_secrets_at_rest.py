"""Webhook signing secrets are encrypted at rest (docs/security.md "Secrets at rest"): no clear
value in the row, signatures verify across a key rotation, a key this server lost answers 503
(recorded, logged) instead of a 500, the admin shows them masked only, migration 0008 encrypts
the rows it finds and its reversal decrypts them."""

import logging
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from integrations.models import InboundEvent, RejectedDelivery, WebhookSecret
from integrations.services.credentials import CredentialsUnreadable, rotate_keys
from integrations.services.inbox.receive import forget_cached_systems
from integrations.services.systems import active_secrets, add_system, rotate_secret
from tests.helpers import envelope, post_event, time_entry_data

pytestmark = pytest.mark.django_db
KEY_A, KEY_B = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def _raw_rows(table: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 a table name of ours
        return " ".join(str(value) for row in cursor.fetchall() for value in row)


def _deliver(client, secret: str, **headers):
    return post_event(
        client, "psa", secret, envelope("psa.time_entry.approved", time_entry_data()), **headers
    )


@pytest.fixture
def psa(settings):
    settings.THROUGHLINE_CREDENTIALS_KEYS = [KEY_A]
    forget_cached_systems()
    system, secret, _notes = add_system(slug="psa", kind="psa", connector="sandbox")
    yield system, secret
    forget_cached_systems()


def test_the_row_holds_no_secret_in_clear(psa):
    system, first = psa
    second = rotate_secret(slug="psa").secret
    stored = _raw_rows("integrations_webhooksecret")
    for clear in (first, second):
        assert clear.startswith("whsec_")
        assert clear not in stored
        assert clear.removeprefix("whsec_")[:16] not in stored  # nor a part of its base64
    assert "whsec_" not in stored
    rows = WebhookSecret.objects.filter(system=system).order_by("number")
    assert [row.secret_encrypted[:6] for row in rows] == ["gAAAAA", "gAAAAA"]  # Fernet tokens
    assert [row.secret for row in rows] == [first, second]  # the model reads them in clear
    assert active_secrets(system) == [first, second]
    assert [f.name for f in WebhookSecret._meta.get_fields()].count("secret") == 0


def test_signatures_verify_after_a_key_rotation(client, psa, settings):
    system, secret = psa
    assert _deliver(client, secret).status_code == 202

    settings.THROUGHLINE_CREDENTIALS_KEYS = [KEY_B, KEY_A]  # the new key first, the old kept
    done = rotate_keys()
    assert done.webhook_secrets == 1
    settings.THROUGHLINE_CREDENTIALS_KEYS = [KEY_B]  # the old key dropped (a restart)
    forget_cached_systems()

    token = WebhookSecret.objects.get(system=system).secret_encrypted
    assert Fernet(KEY_B).decrypt(token.encode()).decode() == secret  # under the new key alone
    assert _deliver(client, secret).status_code == 202
    assert InboundEvent.objects.count() == 2


def test_the_rotate_key_command_reencrypts_the_secrets(psa, settings):
    settings.THROUGHLINE_CREDENTIALS_KEYS = [KEY_B, KEY_A]
    out = StringIO()
    call_command("systems", "rotate-key", stdout=out)
    assert "1 webhook secret(s)" in out.getvalue()
    token = WebhookSecret.objects.get(system=psa[0]).secret_encrypted
    assert Fernet(KEY_B).decrypt(token.encode()).decode() == psa[1]


def test_a_lost_key_answers_503_with_a_reason_records_and_logs_it(client, psa, settings, caplog):
    system, secret = psa
    settings.THROUGHLINE_CREDENTIALS_KEYS = [KEY_B]  # KEY_A, which encrypted it, is gone
    forget_cached_systems()

    with caplog.at_level(logging.ERROR, logger="integrations.services.inbox"):
        first = _deliver(client, secret)
        again = _deliver(client, secret)
    for response in (first, again):
        assert response.status_code == 503
        assert response["Retry-After"] == "60"
        assert response.json()["status"] == "unavailable"
        assert "cannot read the signing secrets" in response.json()["reason"]
    assert not InboundEvent.objects.exists()
    row = RejectedDelivery.objects.get()  # one row per system and minute, counting them
    assert row.reason == RejectedDelivery.Reason.SECRETS_UNREADABLE
    assert row.system == system and row.count == 2
    assert [r.message for r in caplog.records].count("webhook.secrets_unreadable") == 1

    # An unsigned or stale delivery is still the sender's fault: answered 401 as before.
    unsigned = client.post("/api/v1/hooks/psa/", b"{}", content_type="application/json")
    assert unsigned.status_code == 401 and "missing webhook-id" in unsigned.json()["reason"]
    stale = _deliver(client, secret, at=datetime.now(tz=UTC) - timedelta(hours=1))
    assert stale.status_code == 401 and "tolerance" in stale.json()["reason"]
    assert RejectedDelivery.objects.get(reason="secrets_unreadable").count == 2

    settings.THROUGHLINE_CREDENTIALS_KEYS = [KEY_B, KEY_A]  # the key put back
    forget_cached_systems()
    assert _deliver(client, secret).status_code == 202


def test_a_rotation_under_a_lost_key_changes_nothing_and_names_the_secret(psa, settings):
    system, _secret = psa
    before = WebhookSecret.objects.get(system=system).secret_encrypted
    settings.THROUGHLINE_CREDENTIALS_KEYS = [KEY_B]
    with pytest.raises(CredentialsUnreadable, match="webhook secret #1 of psa"):
        rotate_keys()
    assert WebhookSecret.objects.get(system=system).secret_encrypted == before


def test_a_retired_secret_under_a_lost_key_does_not_block_a_rotation(psa, settings):
    system, _first = psa
    settings.THROUGHLINE_CREDENTIALS_KEYS = [KEY_B]
    new = rotate_secret(slug="psa")  # under KEY_B; #1 stays under the lost KEY_A
    WebhookSecret.objects.filter(system=system, number=1).update(is_active=False)
    assert rotate_keys().webhook_secrets == 1
    assert active_secrets(system) == [new.secret]


def test_the_admin_shows_secrets_masked_and_never_the_ciphertext(client, psa, settings):
    system, secret = psa
    client.force_login(get_user_model().objects.create_superuser("root", "r@example.com", "pw"))
    url = reverse("admin:integrations_externalsystem_change", args=[system.pk])

    html = client.get(url).content.decode()
    token = WebhookSecret.objects.get(system=system).secret_encrypted
    assert f"whsec_…{secret[-4:]}" in html
    assert secret not in html and token not in html
    assert "secret_encrypted" not in html  # no input for it, read-only or not

    settings.THROUGHLINE_CREDENTIALS_KEYS = [KEY_B]
    page = client.get(url)
    assert page.status_code == 200
    assert "unreadable with the configured keys" in page.content.decode()


@pytest.mark.django_db(transaction=True)
def test_migration_0008_encrypts_existing_rows_and_its_reversal_decrypts_them(settings):
    settings.THROUGHLINE_CREDENTIALS_KEYS = [KEY_A]
    before, after = (
        ("integrations", "0007_api_token_systems"),
        (
            "integrations",
            "0008_webhook_secret_encrypted",
        ),
    )
    executor = MigrationExecutor(connection)
    leaves = executor.loader.graph.leaf_nodes()
    try:
        executor.migrate([before])
        old = executor.loader.project_state([before]).apps
        system = old.get_model("integrations", "ExternalSystem").objects.create(
            slug="legacy", kind="psa", connector="sandbox"
        )
        old.get_model("integrations", "WebhookSecret").objects.create(
            system=system, number=1, secret="whsec_bGVnYWN5LXNlY3JldC12YWx1ZS0wMDAwMDAwMDAwMA=="
        )

        executor = MigrationExecutor(connection)
        executor.migrate([after])
        assert "whsec_bGVnYWN5" not in _raw_rows("integrations_webhooksecret")
        new = executor.loader.project_state([after]).apps
        token = new.get_model("integrations", "WebhookSecret").objects.get().secret_encrypted
        assert Fernet(KEY_A).decrypt(token.encode()).startswith(b"whsec_bGVnYWN5")

        executor = MigrationExecutor(connection)
        executor.migrate([before])
        old = executor.loader.project_state([before]).apps
        row = old.get_model("integrations", "WebhookSecret").objects.get()
        assert row.secret == "whsec_bGVnYWN5LXNlY3JldC12YWx1ZS0wMDAwMDAwMDAwMA=="
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(leaves)
