"""Login lockout (django-axes; docs/security.md): counted per username and client IP, on the
sign-in page and the admin's, AXES_FAILURE_LIMIT failures (default 10) lock for the cool-off
(AXES_COOLOFF_MINUTES, default 30), `manage.py axes_reset_username` unlocks."""

import io
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.utils import timezone

from tests.conftest import make_user

pytestmark = pytest.mark.django_db

SITE, ADMIN = "/login/", "/admin/login/"
HOME = "10.0.0.1"


def attempt(client, url: str, username: str, password: str, ip: str = HOME):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=ip)


def signed_in(response) -> bool:
    return response.status_code == 302 and "login" not in response.headers["Location"]


def assert_locked(response) -> None:
    assert response.status_code == 429
    body = response.content.decode()
    assert "Sign-in locked" in body and "Too many failed sign-in attempts" in body


def lock_out(client, url: str, username: str, ip: str = HOME) -> None:
    answers = [attempt(client, url, username, "wrong", ip).status_code for _ in range(20)]
    assert answers[:9] == [200] * 9  # the form again, with its error
    assert set(answers[9:]) == {429}  # the 10th failure locks


@pytest.mark.parametrize("url", [SITE, ADMIN])
def test_twenty_bad_logins_lock_the_account_then_the_right_password_is_refused(client, url):
    user = make_user("fin", "finance")
    user.is_staff = True
    user.save()
    lock_out(client, url, "fin")
    assert_locked(attempt(client, url, "fin", "pw-fin"))
    assert "_auth_user_id" not in client.session


def test_the_admin_is_locked_out_too(client, django_user_model):
    django_user_model.objects.create_superuser("root", password="pw-root-long")
    lock_out(client, ADMIN, "root")
    assert_locked(attempt(client, ADMIN, "root", "pw-root-long"))


def test_unlocking_lets_the_right_password_in(client):
    make_user("fin", "finance")
    lock_out(client, SITE, "fin")
    out = io.StringIO()
    call_command("axes_reset_username", "fin", stdout=out)
    assert "attempts removed" in out.getvalue()
    assert signed_in(attempt(client, SITE, "fin", "pw-fin"))


def test_the_lock_ends_after_the_cool_off(client):
    make_user("fin", "finance")
    lock_out(client, SITE, "fin")
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=31))
    assert signed_in(attempt(client, SITE, "fin", "pw-fin"))


def test_another_user_and_another_address_are_not_locked(client):
    make_user("fin", "finance")
    make_user("pm", "pmo")
    lock_out(client, SITE, "fin", ip=HOME)
    assert signed_in(attempt(client, SITE, "pm", "pw-pm", ip=HOME))
    client.logout()
    assert signed_in(attempt(client, SITE, "fin", "pw-fin", ip="10.0.0.2"))


def test_a_success_clears_the_count(client):
    make_user("fin", "finance")
    for _ in range(9):
        attempt(client, SITE, "fin", "wrong")
    assert signed_in(attempt(client, SITE, "fin", "pw-fin"))
    client.logout()
    assert [attempt(client, SITE, "fin", "wrong").status_code for _ in range(9)] == [200] * 9


def test_api_tokens_and_code_logins_are_not_counted(client, api_client_for):
    make_user("fin", "finance")
    lock_out(client, SITE, "fin")
    before = AccessAttempt.objects.count()
    bad = api_client_for("finance")
    bad.credentials(HTTP_AUTHORIZATION="Bearer tl_00000000_wrong")
    assert {bad.get("/api/v1/invoices/").status_code for _ in range(20)} == {401}
    assert AccessAttempt.objects.count() == before
    # authenticate() without a request (the test client's login(), a shell) is not a web
    # login: it is not counted and not blocked.
    assert client.login(username="pm-less", password="x") is False
    make_user("pm", "pmo")
    assert client.login(username="pm", password="pw-pm") is True
