"""The customer page lists the customer's projects (CONTRACT: customer pages for finance)."""

import json
from pathlib import Path

import pytest
from django.core.management import call_command

from billing.models import Project
from tests.conftest import make_user
from tests.helpers import drain, post_event

pytestmark = pytest.mark.django_db


def test_the_customer_page_lists_the_project_a_deal_made(client, systems):
    examples = Path(__file__).resolve().parents[2] / "docs" / "examples"
    call_command("load_reference", str(examples / "reference.json"))
    body = json.loads((examples / "closed_won.json").read_text())
    assert post_event(client, "crm", systems["crm"][1], body).status_code == 202
    drain()
    project = Project.objects.get()

    client.force_login(make_user("fiona", "finance"))
    page = client.get(f"/customers/{project.customer_id}/").content.decode()

    assert project.name in page
    assert project.get_absolute_url() in page
