"""API tokens of machine clients (docs/contract.md §2 and §4, docs/security.md): hashed at rest,
one role, expiry, revocation, rotation with a grace period, the admin and the command."""

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from integrations.models import ApiToken
from integrations.services.tokens import issue_token, rotate_token

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def api(token: str, scheme: str = "Bearer") -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{scheme} {token}")
    return client


def test_create_prints_the_token_once_on_the_last_line_and_it_works():
    out = run("tokens", "create", "hubspot-sync", "--role", "integration", "--days", "30")
    secret = out.strip().splitlines()[-1]
    assert secret.startswith("tl_") and len(secret) > 40
    token = ApiToken.objects.get(client="hubspot-sync")
    assert token.role == "integration" and token.user.username == "client.hubspot-sync"
    assert not token.user.has_usable_password()
    assert list(token.user.groups.values_list("name", flat=True)) == ["integration"]
    assert timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)
    for scheme in ("Bearer", "Token"):
        assert api(secret, scheme).get("/api/v1/events/").status_code == 200


def test_the_database_holds_no_usable_secret():
    issued = issue_token(client="erp-bridge", role="finance")
    row = ApiToken.objects.get(pk=issued.token.pk)
    stored = [str(getattr(row, f.attname)) for f in ApiToken._meta.concrete_fields]
    assert not any(issued.secret in value for value in stored)
    secret_part = issued.secret.split("_", 2)[2]
    assert not any(secret_part in value for value in stored)
    # The stored digest and prefix do not authenticate.
    for presented in (row.digest, row.prefix, f"tl_{row.prefix}_{row.digest}"):
        response = api(presented).get("/api/v1/invoices/")
        assert response.status_code == 401


def test_a_valid_token_records_its_last_use_at_most_once_a_minute():
    issued = issue_token(client="psa-sync", role="integration")
    client = api(issued.secret)
    assert client.get("/api/v1/events/").status_code == 200
    first = ApiToken.objects.get(pk=issued.token.pk).last_used_at
    assert first is not None and timezone.now() - first < timedelta(seconds=5)
    assert client.get("/api/v1/events/").status_code == 200
    assert ApiToken.objects.get(pk=issued.token.pk).last_used_at == first  # not rewritten
    ApiToken.objects.filter(pk=issued.token.pk).update(last_used_at=first - timedelta(minutes=2))
    assert client.get("/api/v1/events/").status_code == 200
    assert ApiToken.objects.get(pk=issued.token.pk).last_used_at > first


def test_an_expired_token_answers_401_with_the_reason():
    issued = issue_token(client="old-bot", role="integration")
    ApiToken.objects.filter(pk=issued.token.pk).update(expires_at=timezone.now())
    response = api(issued.secret).get("/api/v1/events/")
    assert response.status_code == 401
    assert response.json() == {"detail": "token expired"}
    header = response.headers["WWW-Authenticate"]
    assert 'error="invalid_token"' in header and 'error_description="token expired"' in header


def test_a_revoked_token_answers_401_and_revoke_finds_a_client_or_a_prefix():
    first = issue_token(client="bot-a", role="integration")
    second = issue_token(client="bot-b", role="integration")
    assert "revoked tl_" in run("tokens", "revoke", "bot-a")
    assert run("tokens", "revoke", second.token.shown_prefix).startswith("revoked tl_")
    for issued in (first, second):
        response = api(issued.secret).get("/api/v1/events/")
        assert response.status_code == 401 and response.json()["detail"] == "token revoked"
    with pytest.raises(CommandError, match="no unrevoked token"):
        run("tokens", "revoke", "bot-a")


def test_unknown_and_malformed_tokens_answer_401_and_no_token_is_not_a_token_error():
    issued = issue_token(client="bot-c", role="integration")
    forged = issued.secret[:-4] + ("AAAA" if not issued.secret.endswith("AAAA") else "BBBB")
    assert api(forged).get("/api/v1/events/").json() == {"detail": "invalid token"}
    assert api("nonsense").get("/api/v1/events/").json() == {"detail": "malformed token"}
    anonymous = APIClient().get("/api/v1/events/")
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"] == 'Bearer realm="api"'


def test_create_twice_refuses_the_second_and_prints_nothing_secret():
    first = run("tokens", "create", "hubspot-sync", "--role", "integration")
    out = io.StringIO()
    with pytest.raises(CommandError, match="already has an active token; rotate or revoke it"):
        call_command("tokens", "create", "hubspot-sync", "--role", "finance", stdout=out)
    assert out.getvalue() == ""
    token = ApiToken.objects.get(client="hubspot-sync")  # still one, not widened
    assert token.role == "integration"
    assert list(token.user.groups.values_list("name", flat=True)) == ["integration"]
    assert first.strip().splitlines()[-1] not in run("tokens", "list")


def test_an_expired_client_may_get_a_new_token():
    old = issue_token(client="bot-d", role="pmo")
    ApiToken.objects.filter(pk=old.token.pk).update(expires_at=timezone.now())
    new = issue_token(client="bot-d", role="pmo")
    assert api(new.secret).get("/api/v1/projects/").status_code == 200
    assert ApiToken.objects.get(pk=old.token.pk).revoked_at is not None


def test_rotate_prints_a_new_token_and_the_old_one_stops_after_the_grace():
    old = issue_token(client="hubspot-sync", role="integration")
    out = run("tokens", "rotate", "hubspot-sync", "--grace-minutes", "60")
    new = out.strip().splitlines()[-1]
    assert new.startswith("tl_") and new != old.secret
    assert api(old.secret).get("/api/v1/events/").status_code == 200  # in its grace
    assert api(new).get("/api/v1/events/").status_code == 200
    assert ApiToken.objects.get(digest=old.token.digest).status() == ApiToken.Status.GRACE
    # Sixty-one minutes later the old one answers 401; the new one still works.
    later = timezone.now() + timedelta(minutes=61)
    ApiToken.objects.filter(pk=old.token.pk).update(expires_at=timezone.now())
    response = api(old.secret).get("/api/v1/events/")
    assert response.status_code == 401
    assert response.json()["detail"] == "token replaced by rotation"
    assert ApiToken.objects.get(client="hubspot-sync", replaced_at__isnull=True).expires_at > later


def test_rotate_without_grace_stops_the_old_token_at_once_and_keeps_the_role():
    old = issue_token(client="bot-e", role="operations")
    new = rotate_token(client="bot-e")
    assert new.token.role == "operations" and new.token.user == old.token.user
    assert api(old.secret).get("/api/v1/events/").status_code == 401
    assert api(new.secret).get("/api/v1/events/").status_code == 200
    with pytest.raises(CommandError, match="has no current token"):
        run("tokens", "rotate", "nobody-here")


def test_an_integration_token_cannot_do_what_finance_does():
    integration = issue_token(client="sync-bot", role="integration")
    finance = issue_token(client="fin-bot", role="finance")
    assert api(integration.secret).get("/api/v1/events/").status_code == 200  # its events
    assert api(integration.secret).get("/api/v1/invoices/").status_code == 403
    refused = api(integration.secret).post("/api/v1/invoices/999/approve/")
    assert refused.status_code == 403
    assert refused.json() == {"detail": "requires one of the roles: finance"}
    # Finance passes the role check (and finds no such invoice).
    assert api(finance.secret).post("/api/v1/invoices/999/approve/").status_code == 404


def test_the_token_holds_its_one_role_even_if_its_user_gains_groups():
    from django.contrib.auth.models import Group

    issued = issue_token(client="sync-bot", role="integration")
    issued.token.user.groups.add(Group.objects.get(name="finance"))
    assert api(issued.secret).post("/api/v1/invoices/999/approve/").status_code == 403


def test_list_shows_prefix_and_status_never_the_secret():
    issued = issue_token(client="hubspot-sync", role="integration")
    revoked = issue_token(client="gone-bot", role="pmo")
    run("tokens", "revoke", "gone-bot")
    listing = run("tokens", "list")
    assert listing.splitlines()[0].split() == [
        "client", "role", "systems", "prefix", "created", "expires", "last", "used", "status",
    ]  # fmt: skip
    line = next(row for row in listing.splitlines() if row.startswith("hubspot-sync"))
    assert issued.token.shown_prefix in line and line.endswith("active")
    assert next(r for r in listing.splitlines() if r.startswith("gone-bot")).endswith("revoked")
    assert issued.secret not in listing and revoked.secret not in listing
    assert issued.token.digest not in listing


def test_create_refuses_a_bad_client_name_and_a_persons_username(django_user_model):
    with pytest.raises(CommandError, match="client name"):
        run("tokens", "create", "Bad Name", "--role", "pmo")
    django_user_model.objects.create_user(username="client.alice", password="pw-alice-long")
    with pytest.raises(CommandError, match="is a person"):
        run("tokens", "create", "alice", "--role", "pmo")
    assert not ApiToken.objects.exists()


def test_the_admin_lists_tokens_without_a_secret_and_revokes_them(client, django_user_model):
    issued = issue_token(client="hubspot-sync", role="integration")
    admin_user = django_user_model.objects.create_superuser("root", password="pw-root-long")
    client.force_login(admin_user)
    page = client.get("/admin/integrations/apitoken/")
    assert page.status_code == 200
    html = page.content.decode()
    assert issued.token.shown_prefix in html and "hubspot-sync" in html
    assert issued.secret not in html and issued.token.digest not in html
    detail = client.get(f"/admin/integrations/apitoken/{issued.token.pk}/change/").content.decode()
    assert issued.secret not in detail and issued.token.digest not in detail
    assert client.get("/admin/integrations/apitoken/add/").status_code == 403
    client.post(
        "/admin/integrations/apitoken/",
        {"action": "revoke", "_selected_action": [issued.token.pk]},
    )
    assert ApiToken.objects.get(pk=issued.token.pk).revoked_at is not None
    assert api(issued.secret).get("/api/v1/events/").status_code == 401


def test_a_legacy_key_converted_by_the_migration_still_works():
    """Migration 0005 hashes each DRF authtoken key into ApiToken the way this does."""
    import hashlib

    from django.contrib.auth import get_user_model

    key = "0123456789abcdef0123456789abcdef01234567"
    user = get_user_model().objects.create(username="old-bot")
    ApiToken.objects.create(
        client="old-bot", role="", user=user, prefix=key[:8], legacy=True,
        digest=hashlib.sha256(key.encode()).hexdigest(),
        expires_at=timezone.now() + timedelta(days=90),
    )  # fmt: skip
    response = api(key, "Token").get(f"/api/v1/traces/{'0' * 32}/")
    # Signed in (a refused key answers 401) and holding no role: 403 names the roles.
    assert response.status_code == 403
    assert response.json()["detail"].startswith("requires one of the roles: finance")
    assert api(key).get("/api/v1/invoices/").status_code == 403
    assert "01234567 (legacy)" in run("tokens", "list")


def test_an_integration_token_names_its_systems_and_rotation_keeps_them(systems):
    out = run("tokens", "create", "psa-bot", "--role", "integration", "--systems", "psa, crm")
    assert out.strip().splitlines()[-1].startswith("tl_")
    token = ApiToken.objects.get(client="psa-bot")
    assert sorted(token.systems.values_list("slug", flat=True)) == ["crm", "psa"]
    line = next(row for row in run("tokens", "list").splitlines() if row.startswith("psa-bot"))
    assert line.split()[2] == "crm,psa"
    rotated = rotate_token(client="psa-bot")
    assert sorted(rotated.token.systems.values_list("slug", flat=True)) == ["crm", "psa"]


def test_systems_are_refused_for_other_roles_and_unknown_slugs(systems):
    with pytest.raises(CommandError, match="integration tokens only"):
        run("tokens", "create", "fin-bot", "--role", "finance", "--systems", "psa")
    with pytest.raises(CommandError, match="unknown system nowhere"):
        run("tokens", "create", "psa-bot", "--role", "integration", "--systems", "psa,nowhere")
    assert not ApiToken.objects.exists()
