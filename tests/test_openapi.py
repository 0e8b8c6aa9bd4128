"""The OpenAPI document: docs/openapi.yaml is what the code generates, every GET answers what the
document says, the webhook receiver and its events are described, and the docs pages load
Swagger UI and ReDoc from Throughline's own static files (drf-spectacular-sidecar).

Regenerate the file after an API change:

    .venv/bin/python manage.py spectacular --file docs/openapi.yaml
"""

import re
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from jsonschema import Draft202012Validator

from billing.models import BillingRun, Invoice, RateCard
from billing.models import Project as BillingProject
from billing.services.reconciliation import create_reconciliation, execute_reconciliation
from exceptions_queue.models import ExceptionItem
from integrations.connectors.schemas import DATA_SCHEMAS
from integrations.models import InboundEvent, OutboxMessage
from mdm.models import Customer
from tests.test_admin_pages import world  # noqa: F401 the admin pages' world, signed in as root

pytestmark = pytest.mark.django_db
DOCUMENT = Path(__file__).resolve().parent.parent / "docs" / "openapi.yaml"
REGENERATE = ".venv/bin/python manage.py spectacular --file docs/openapi.yaml"


def _generate(tmp_path) -> str:
    target = tmp_path / "openapi.yaml"
    call_command("spectacular", "--file", str(target), "--validate", "--fail-on-warn")
    return target.read_text()


def test_the_checked_in_document_is_what_the_code_generates(tmp_path):
    assert DOCUMENT.read_text() == _generate(tmp_path), (
        f"docs/openapi.yaml differs from the code's document: regenerate it with `{REGENERATE}`"
    )


@pytest.fixture(scope="module")
def document():
    return yaml.safe_load(DOCUMENT.read_text())


def test_the_webhook_receiver_and_every_event_type_are_described(document):
    post = document["paths"]["/api/v1/hooks/{system}/"]["post"]
    headers = {p["name"] for p in post["parameters"] if p["in"] == "header"}
    assert headers == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    body = post["requestBody"]["content"]["application/json"]["schema"]
    mapping = body["discriminator"]["mapping"]
    assert set(mapping) == set(DATA_SCHEMAS)
    schemas = document["components"]["schemas"]
    for event_type, ref in mapping.items():
        envelope = schemas[ref.rsplit("/", 1)[1]]
        assert envelope["properties"]["type"]["const"] == event_type
        assert set(envelope["properties"]["data"]["required"]) == set(
            DATA_SCHEMAS[event_type]["required"]
        )
    assert {"202", "200", "400", "401", "413", "422", "429"} <= set(post["responses"])
    assert post["security"] == []  # the signature is the authentication


def _ids():
    """A real id for each path parameter of the resources, from the world."""
    return {
        "/api/v1/customers/": Customer.objects.order_by("pk").first().pk,
        "/api/v1/projects/": BillingProject.objects.order_by("pk").first().pk,
        "/api/v1/invoices/": Invoice.objects.order_by("pk").first().pk,
        "/api/v1/billing-runs/": BillingRun.objects.order_by("pk").first().pk,
        "/api/v1/rate-cards/": RateCard.objects.order_by("pk").first().pk,
        "/api/v1/exceptions/": ExceptionItem.objects.order_by("pk").first().pk,
        "/api/v1/events/": InboundEvent.objects.order_by("pk").first().pk,
        "/api/v1/outbox/": OutboxMessage.objects.order_by("created_at").first().pk,
        "/api/v1/traces/": InboundEvent.objects.order_by("pk").first().trace_id,
        "/api/v1/reconciliation/runs/": _reconciled().pk,
    }


def _reconciled():
    """A reconciliation of the world's month (its rows are what ``reconciliation/`` lists)."""
    run = create_reconciliation(
        months=[Invoice.objects.order_by("pk").first().period],
        legal_entity_code=None,
        requested_by=None,
    )
    return execute_reconciliation(run_id=run.pk)


def _concrete(path: str, ids: dict) -> str:
    prefix = re.sub(r"\{[^}]+\}.*$", "", path)
    return re.sub(r"\{[^}]+\}", str(ids.get(prefix, "")), path, count=1)


def _pointer(*parts: str) -> str:
    return "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def test_every_get_answers_what_the_document_says(world, document):  # noqa: F811
    ids = _ids()
    checked, mismatches = [], {}
    for path, item in document["paths"].items():
        operation = item.get("get")
        if operation is None or path.count("{") > 1:
            continue
        url = _concrete(path, ids)
        response = world.get(url, HTTP_ACCEPT="application/json")
        assert response.status_code == 200, (url, response.content[:300])
        content = operation["responses"]["200"].get("content", {})
        media = next((m for m in content if "json" in m), None)
        if media is None:
            continue
        pointer = _pointer("paths", path, "get", "responses", "200", "content", media, "schema")
        validator = Draft202012Validator({**document, "$ref": pointer})
        errors = [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(response.json())
        ]
        if errors:
            mismatches[url] = errors[:5]
        checked.append(path)
    assert not mismatches, mismatches
    assert "/api/v1/systems/" in checked and "/api/v1/traces/{trace_id}/" in checked


@pytest.mark.parametrize(
    ("url", "bundle"), [("/api/v1/docs/", "swagger-ui"), ("/api/v1/redoc/", "redoc")]
)
def test_the_docs_pages_load_their_scripts_from_throughline_not_a_cdn(client, url, bundle):
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert f"/static/drf_spectacular_sidecar/{bundle}" in html
    assert "cdn.jsdelivr.net" not in html and "@latest" not in html
    script = re.search(r'src="(/static/drf_spectacular_sidecar/[^"]+\.js)"', html).group(1)
    assert client.get(script).status_code == 200
