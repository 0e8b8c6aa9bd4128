"""Credentials of external systems: encrypted at rest (row and history), masked in the admin,
a clear error under a wrong key, readable across a key rotation."""

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.urls import reverse

from integrations.models import ExternalSystem
from integrations.services.credentials import (
    CredentialsUnreadable,
    get_credentials,
    masked_credentials,
    rotate_credentials_key,
    set_credentials,
)

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery-1234"
KEY_A, KEY_B = Fernet.generate_key().decode(), Fernet.generate_key().decode()


@pytest.fixture
def erp(systems) -> ExternalSystem:
    return systems["erp"][0]


def _rows(table: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 a table name of ours
        return cursor.fetchall()


def test_a_round_trip_merges_and_removes(erp, settings):
    settings.THROUGHLINE_CREDENTIALS_KEYS = []  # the key derived from SECRET_KEY
    set_credentials(erp, {"username": "admin", "password": PASSWORD})
    set_credentials(erp, {"token": "tok-0001", "username": ""})

    assert get_credentials(ExternalSystem.objects.get(pk=erp.pk)) == {
        "password": PASSWORD,
        "token": "tok-0001",
    }
    assert masked_credentials(erp) == {"password": "••••1234", "token": "••••"}
    assert erp.history.first().history_change_reason == "credentials: token, username"


def test_nothing_is_in_clear_in_the_row_or_the_history(erp):
    set_credentials(erp, {"username": "tryton-admin", "password": PASSWORD})
    set_credentials(erp, {"password": PASSWORD + "-next"})

    stored = " ".join(
        str(value)
        for table in ("integrations_externalsystem", "integrations_historicalexternalsystem")
        for row in _rows(table)
        for value in row
    )
    assert erp.history.filter(credentials_encrypted__startswith="gAAAAA").count() == 2
    for clear in ("tryton-admin", PASSWORD, "correct-horse"):
        assert clear not in stored


def test_a_wrong_key_is_a_clear_error_naming_the_system(erp, settings):
    settings.THROUGHLINE_CREDENTIALS_KEYS = [KEY_A]
    set_credentials(erp, {"password": PASSWORD})
    settings.THROUGHLINE_CREDENTIALS_KEYS = [KEY_B]

    with pytest.raises(CredentialsUnreadable, match="credentials of erp cannot be decrypted"):
        get_credentials(erp)
    with pytest.raises(CredentialsUnreadable):
        set_credentials(erp, {"token": "x"})  # cannot merge into what it cannot read
    settings.THROUGHLINE_CREDENTIALS_KEYS = ["not-a-fernet-key"]
    with pytest.raises(ImproperlyConfigured, match="must be Fernet keys"):
        get_credentials(erp)


def test_rotation_keeps_the_values_readable_under_the_new_key_alone(erp, systems, settings):
    settings.THROUGHLINE_CREDENTIALS_KEYS = [KEY_A]
    set_credentials(erp, {"password": PASSWORD})
    set_credentials(systems["crm"][0], {"client_secret": "sf-secret-9876"})

    settings.THROUGHLINE_CREDENTIALS_KEYS = [KEY_B, KEY_A]  # the new key first, the old kept
    assert rotate_credentials_key() == 2
    settings.THROUGHLINE_CREDENTIALS_KEYS = [KEY_B]  # the old key dropped

    assert get_credentials(ExternalSystem.objects.get(pk=erp.pk)) == {"password": PASSWORD}
    assert get_credentials(ExternalSystem.objects.get(slug="crm")) == {
        "client_secret": "sf-secret-9876"
    }
    fernet = Fernet(KEY_B)
    for row in ExternalSystem.history.exclude(credentials_encrypted=""):
        fernet.decrypt(row.credentials_encrypted.encode())  # history re-encrypted too


@pytest.fixture
def admin_client(client, db):
    client.force_login(
        get_user_model().objects.create_superuser("root", "root@example.com", "pw-root")
    )
    return client


def _change_url(system) -> str:
    return reverse("admin:integrations_externalsystem_change", args=[system.pk])


def _form_data(response) -> dict:
    """What the change page's form posts back as it is (the inline's rows included)."""
    forms = [response.context["adminform"].form]
    data = {}
    for formset in (inline.formset for inline in response.context["inline_admin_formsets"]):
        management = formset.management_form
        data.update({management.add_prefix(k): v for k, v in management.initial.items()})
        forms += formset.forms
    for form in forms:
        for name, field in form.fields.items():
            value = field.prepare_value(form[name].value())
            if value is True:
                data[form.add_prefix(name)] = "on"
            elif value not in (None, False, [], ()):
                data[form.add_prefix(name)] = value
    return data


def test_the_admin_shows_credentials_masked_and_keeps_a_blank_input(admin_client, erp):
    set_credentials(erp, {"username": "tryton-admin", "password": PASSWORD})

    page = admin_client.get(_change_url(erp))
    html = page.content.decode()
    assert page.status_code == 200
    assert "••••1234" in html and "••••" in html
    assert PASSWORD not in html and "tryton-admin" not in html

    data = {**_form_data(page), "token": "tok-abcdef-5678", "forget": ["username"]}
    response = admin_client.post(_change_url(erp), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert get_credentials(ExternalSystem.objects.get(pk=erp.pk)) == {
        "password": PASSWORD,  # the blank password input kept it
        "token": "tok-abcdef-5678",
    }


def test_the_admin_page_under_a_wrong_key_says_so_instead_of_failing(admin_client, erp, settings):
    settings.THROUGHLINE_CREDENTIALS_KEYS = [KEY_A]
    set_credentials(erp, {"password": PASSWORD})
    settings.THROUGHLINE_CREDENTIALS_KEYS = [KEY_B]

    page = admin_client.get(_change_url(erp))
    assert page.status_code == 200
    assert "cannot be decrypted" in page.content.decode()
    response = admin_client.post(_change_url(erp), {**_form_data(page), "token": "new"})
    assert response.status_code == 200  # the form again, with the reason
    assert "cannot be decrypted" in response.content.decode()
