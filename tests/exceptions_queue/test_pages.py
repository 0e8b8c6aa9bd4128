"""The queue and item pages, through Django's test client."""

from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from exceptions_queue.models import ExceptionItem
from exceptions_queue.services.notifications import send_exception_digests
from tests.factories.exceptions_queue import ExceptionItemFactory, raise_item

pytestmark = pytest.mark.django_db


def test_queue_page_lists_items_flags_overdue_and_counts_in_the_navigation(client, operations_user):
    late = raise_item(
        type_code="delivery_failed", subject_key="outbox:late", subject_ref="late one"
    )
    ExceptionItem.objects.filter(pk=late.pk).update(due_at=timezone.now() - timedelta(hours=1))
    raise_item(type_code="delivery_failed", subject_key="outbox:fresh", subject_ref="fresh one")
    client.force_login(operations_user)

    page = client.get("/exceptions/operations/").content.decode()
    assert "late one" in page and "fresh one" in page
    assert f'class="item-row overdue" id="item-{late.pk}"' in page
    assert 'Operations queue <span class="badge">2</span>' in page


def test_filters_search_and_sorting(client, operations_user):
    raise_item(type_code="delivery_failed", subject_key="outbox:f1", subject_ref="alpha message")
    raise_item(type_code="delivery_failed", subject_key="outbox:f2", subject_ref="beta message")
    client.force_login(operations_user)

    page = client.get("/exceptions/operations/", {"q": "beta", "sort": "-subject"}).content.decode()
    assert "beta message" in page and "alpha message" not in page
    partial = client.get("/exceptions/operations/", {"q": "alpha"}, headers={"HX-Request": "true"})
    assert b"<html" not in partial.content and b"alpha message" in partial.content


def test_item_page_shows_explanation_payload_and_trace(client, operations_user, dead_message):
    item = ExceptionItem.objects.get(type_code="delivery_failed")
    client.force_login(operations_user)
    page = client.get(f"/exceptions/items/{item.pk}/").content.decode()
    assert "Delivery failed" in page and "stopped retrying" in page
    assert "TE-77" in page  # the payload
    assert f"/traces/{dead_message.trace_id}/" in page
    assert "Replay the message" in page


def test_claim_comment_and_dismiss_from_the_page(client, operations_user):
    item = raise_item(type_code="delivery_failed", subject_key="outbox:pg")
    client.force_login(operations_user)
    client.post(f"/exceptions/items/{item.pk}/claim/")
    client.post(f"/exceptions/items/{item.pk}/comment/", {"text": "on it"})
    response = client.post(f"/exceptions/items/{item.pk}/dismiss/", {"reason": "test data"})
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.status == "dismissed" and item.resolved_by == operations_user
    assert list(item.comments.values_list("text", flat=True))[:2] == ["Claimed", "on it"]


def test_bulk_dismiss_from_the_queue_page(client, operations_user):
    items = [raise_item(type_code="delivery_failed", subject_key=f"outbox:bk{n}") for n in range(2)]
    client.force_login(operations_user)
    client.post(
        "/exceptions/operations/bulk/",
        {"items": [i.pk for i in items], "operation": "dismiss", "reason": "load test"},
    )
    assert set(ExceptionItem.objects.values_list("status", flat=True)) == {"dismissed"}


def test_pmo_user_gets_no_page_of_an_operations_item(client, pmo_user):
    item = raise_item(type_code="delivery_failed", subject_key="outbox:pmo")
    client.force_login(pmo_user)
    assert client.get("/exceptions/operations/").status_code == 403
    assert client.get(f"/exceptions/items/{item.pk}/").status_code == 404
    assert client.post(f"/exceptions/items/{item.pk}/resolve/replay/").status_code == 404
    assert client.post(f"/exceptions/items/{item.pk}/dismiss/", {"reason": "x"}).status_code == 404
    assert b"Operations queue" not in client.get("/").content
    item.refresh_from_db()
    assert item.status == "open"


def test_home_panel_counts_by_queue(client, operations_user):
    raise_item(type_code="delivery_failed", subject_key="outbox:home")
    client.force_login(operations_user)
    page = client.get("/").content.decode()
    assert "Exceptions to work" in page and "/exceptions/operations/" in page


def test_queue_page_query_count_does_not_grow_with_rows(client, operations_user):
    client.force_login(operations_user)
    ExceptionItemFactory(assignee=operations_user)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/exceptions/operations/").status_code == 200
        return len(queries)

    one = count()
    ExceptionItemFactory.create_batch(19, assignee=operations_user)
    assert count() == one


def test_daily_digest_mails_new_and_overdue_items_to_the_queue_group(operations_user, pmo_user):
    operations_user.email = "olga@example.com"
    operations_user.save()
    late = raise_item(type_code="delivery_failed", subject_key="outbox:dg", subject_ref="late msg")
    ExceptionItem.objects.filter(pk=late.pk).update(due_at=timezone.now() - timedelta(hours=2))

    assert send_exception_digests() == 1
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["olga@example.com"]
    assert "1 new, 1 overdue" in message.subject and "late msg" in message.body
