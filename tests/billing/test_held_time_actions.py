"""Actions on held time from the PMO queue: a write-off in words, a move to an open phase
offered as a choice (a guided fix)."""

import pytest

from billing.models import TimeEntry
from tests.billing.test_rating import approve, item
from tests.factories import billing_invoices as f

pytestmark = pytest.mark.django_db


def test_writing_off_time_with_no_amount_says_so_in_words(client, psa_secret):
    from exceptions_queue.services import resolve_exception_item
    from tests.conftest import make_user

    entity = f.legal_entity()
    f.rate_card(entity=entity)
    f.project(entity=entity, phases=(("DISC", "open"), ("OLD", "closed")))
    approve(
        client, psa_secret, time_entry_id="TE-W", hours="3.00", phase_code="OLD", billable=False
    )
    held = item("closed_phase")
    done = resolve_exception_item(
        item_id=held.pk,
        action="write_off",
        user=make_user("pia", "pmo", "finance"),
        data={"reason": "internal time"},
    )
    assert done.resolution_outcome == "Wrote off 1 entry (no amount known): internal time"


def test_moving_held_time_offers_the_open_phases_and_rates_it_there(client, psa_secret):
    from tests.conftest import make_user

    entity = f.legal_entity()
    f.rate_card(entity=entity)
    f.project(entity=entity, phases=(("DISC", "open"), ("OLD", "closed"), ("BUILD", "open")))
    approve(client, psa_secret, time_entry_id="TE-M", hours="2.00", phase_code="OLD")
    held = item("closed_phase")
    make_user("pia", "pmo")
    client.login(username="pia", password="pw-pia")
    page = client.get(f"/exceptions/items/{held.pk}/").content.decode()
    form = page[
        page.index('name="phase_code"') : page.index("</select>", page.index('name="phase_code"'))
    ]
    assert 'value="DISC"' in form and 'value="BUILD"' in form and 'value="OLD"' not in form
    refused = client.post(
        f"/exceptions/items/{held.pk}/resolve/move_phase/", {"phase_code": "OLD"}, follow=True
    )
    assert TimeEntry.objects.get(psa_time_entry_id="TE-M").status == TimeEntry.Status.ON_HOLD
    assert refused.status_code == 200
    client.post(f"/exceptions/items/{held.pk}/resolve/move_phase/", {"phase_code": "BUILD"})
    entry = TimeEntry.objects.get(psa_time_entry_id="TE-M")
    assert (entry.status, entry.phase_code) == (TimeEntry.Status.RATED, "BUILD")
    held.refresh_from_db()
    assert not held.is_open
