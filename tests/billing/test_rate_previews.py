"""A rate-card or billing-rule change previewed on the rates page before anyone saves it:
which entries it would change and by how much, nothing kept. Figures by hand: TE-1 7.40 h at
150.00 = 1,110.00; the consultant at 200.00 from 2026-11-01: 1,480.00 (+370.00); rounded up to
half hours instead: 7.50 h, 1,125.00 (+15.00)."""

from decimal import Decimal

import pytest

from billing.models import RateCard, RateCardVersion, TimeEntry
from tests.billing.test_rating import approve
from tests.conftest import make_user
from tests.factories import billing_invoices as f

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def fin(client, psa_secret):
    f.standard_world()
    f.billing_rule("001A")  # no rounding yet
    assert approve(client, psa_secret, time_entry_id="TE-1", hours="7.40").amount == D("1110.00")
    make_user("fin", "finance")
    client.login(username="fin", password="pw-fin")
    return client


def test_a_new_rate_is_previewed_with_the_time_it_would_re_rate_and_nothing_is_kept(fin):
    card = RateCard.objects.get(code="US-STD")
    page = fin.get("/rates/").content.decode()
    assert "US-STD" in page and "consultant 150.00 USD" in page
    change = {"role": "consultant", "hourly": "200.00", "valid_from": "2026-11-01"}
    shown = fin.post(f"/rates/cards/{card.pk}/preview/", change).content.decode()
    assert "A preview: nothing was written" in shown
    assert "1,110.00 USD → 1,480.00 USD" in shown and "370.00 USD" in shown
    assert RateCardVersion.objects.filter(card=card).count() == 1
    assert TimeEntry.objects.get().amount == D("1110.00")


def test_a_billing_rule_change_is_previewed_the_same_way(fin):
    from billing.models import BillingRule

    rule = BillingRule.objects.get()
    change = {"rounding_increment_hours": "0.5", "rounding": "up"}
    shown = fin.post(f"/rates/rules/{rule.pk}/preview/", change).content.decode()
    assert "1,110.00 USD → 1,125.00 USD" in shown and "15.00 USD" in shown
    rule.refresh_from_db()
    assert rule.rounding_increment_hours is None  # not saved
    bad = fin.post(
        f"/rates/cards/{RateCard.objects.get().pk}/preview/",
        {"role": "consultant", "hourly": "lots"},
        follow=True,
    )
    assert "give the new hourly rate" in bad.content.decode()
