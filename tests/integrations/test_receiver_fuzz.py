"""A property of the webhook receiver (docs/contract.md §1 "Answers"): whatever headers, bytes
or JSON reach it, it answers 2xx or 4xx (never 5xx, never an exception), with a reason for
every 4xx, and records each delivery (an event, accepted or rejected, or a rejected delivery:
one row, or one more in an aggregate's count), except a duplicate, which finds its first.

A share of the cases is signed with the system's real secret, so the paths after the signature
(parsing, storage guards, schemas, dates, the store) are reached. Bounded for CI: 300 examples,
derandomized (the same cases on every run), no example database written into the tree.
Content-Length and Transfer-Encoding are not among the random headers: Django's test client
cannot carry a body whose framing lies (tests/integrations/test_receiver_hostile_input.py
covers chunked bodies through a real input stream).
"""

import itertools
import json
import time

import pytest
from django.db.models import Sum
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from integrations.connectors.signatures import sign
from integrations.models import InboundEvent, RejectedDelivery
from tests.helpers import envelope, time_entry_data

pytestmark = pytest.mark.django_db
LIMIT = 16_384  # WEBHOOK_MAX_BODY_BYTES here: oversize bodies stay cheap to build

# Text of any code point (NUL, controls, lone surrogates, astral), and lengths around bounds.
ODD_TEXT = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=30),
    st.text(st.sampled_from('a\x00\ud800\udfff\ud83d\ude00\u00e9\\"\n'), max_size=8),
)
LENGTHS = st.sampled_from([0, 1, 19, 20, 21, 120, 199, 200, 201, 4096, 4097, 9000])
HEADER_VALUES = st.one_of(
    ODD_TEXT,
    LENGTHS.map(lambda n: "9" * n),
    st.sampled_from(["v1,", "v1,AAAA", "v2,x v1,!!", " ", "1e9", "-1", "0x10", "١٢٣"]),
)
HEADER_NAMES = st.one_of(
    st.sampled_from(
        ["webhook-id", "webhook-timestamp", "webhook-signature", "user-agent", "content-type"]
    ),
    st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True).filter(
        lambda name: name not in ("content-length", "transfer-encoding")
    ),
)
NUMBERS = st.one_of(st.integers(), st.floats(allow_nan=True, allow_infinity=True))
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | NUMBERS | ODD_TEXT,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(ODD_TEXT, children, max_size=4)
    ),
    max_leaves=20,
)
NUMBER_TOKENS = st.sampled_from(
    ["1e400", "-1e400", "1e-400", "-0", "NaN", "Infinity", "-Infinity", "9" * 5000, "1.5e308"]
)
DATES = st.from_regex(
    r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?)?", fullmatch=True
)
FIELDS = st.sampled_from(sorted(time_entry_data()))


def _entry_with(field: str, value: object) -> dict:
    return envelope("psa.time_entry.approved", time_entry_data(**{field: value}))


def _dumped(body: object) -> bytes:
    return json.dumps(body).encode()


VALID = st.builds(lambda: _dumped(_entry_with("notes", "ok")))  # a new time_entry_id each time
BODIES = st.one_of(
    VALID,
    st.builds(_entry_with, st.just("notes"), ODD_TEXT).map(_dumped),  # NUL, surrogates, …
    st.builds(_entry_with, st.just("extra"), JSON_VALUES).map(_dumped),  # ignored unless bad
    st.binary(max_size=300),
    JSON_VALUES.map(_dumped),
    st.builds(_entry_with, FIELDS, JSON_VALUES).map(_dumped),
    st.builds(_entry_with, st.sampled_from(["work_date", "approved_at"]), DATES).map(_dumped),
    DATES.map(lambda when: _dumped({**_entry_with("notes", "n"), "timestamp": when})),
    NUMBER_TOKENS.map(
        lambda token: _dumped(_entry_with("extra", "NUMBER")).replace(b'"NUMBER"', token.encode())
    ),
    st.integers(0, 3000).map(
        lambda depth: (
            b'{"type": "psa.time_entry.approved", "data": ' + b"[" * depth + b"]" * depth + b"}"
        )
    ),
    st.integers(LIMIT - 2, LIMIT + 2).map(lambda size: b"x" * size),
)


_IDS = itertools.count()


@st.composite
def deliveries(draw):
    """(slug, signed, skew, webhook-id, extra headers, body, REMOTE_ADDR)."""
    fresh_id = st.builds(lambda: f"msg_{next(_IDS)}")  # drawn values repeat: a counter does not
    some_address = st.builds(lambda: f"203.0.113.{next(_IDS) % 250 + 1}")
    odd_address = st.sampled_from(["127.0.0.1", "::1", "", "unix:/run/gunicorn.sock", "fe80::1%1"])
    return (
        draw(st.sampled_from(["psa"] * 6 + ["crm"] * 2 + ["nope", "s" * 41])),
        draw(st.sampled_from([True, True, False])),  # two in three signed with the real secret
        draw(st.sampled_from([0] * 6 + [-400, 400])),
        draw(st.sampled_from([fresh_id] * 4 + [HEADER_VALUES]).flatmap(lambda ids: ids)),
        draw(st.dictionaries(HEADER_NAMES, HEADER_VALUES, max_size=3)),
        draw(BODIES),
        draw(st.sampled_from([some_address] * 4 + [odd_address]).flatmap(lambda a: a)),
    )


@pytest.fixture
def small_limit(settings):
    """Set once per test, not per example: each assignment stacks an override."""
    settings.WEBHOOK_MAX_BODY_BYTES = LIMIT


def _recorded() -> int:
    refused = RejectedDelivery.objects.aggregate(total=Sum("count"))["total"] or 0
    return InboundEvent.objects.count() + refused


@hypothesis_settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(delivery=deliveries())
def test_any_delivery_is_answered_2xx_or_4xx_and_recorded(client, systems, small_limit, delivery):
    slug, signed, skew, webhook_id, extra, body, address = delivery
    headers = {"webhook-id": webhook_id, "webhook-timestamp": str(int(time.time()) + skew)}
    if signed and slug in systems:
        try:
            headers["webhook-signature"] = sign(
                systems[slug][1], webhook_id, int(headers["webhook-timestamp"]), body
            )
        except UnicodeEncodeError:  # a lone surrogate in the id: no signature can name it
            headers["webhook-signature"] = "v1,AAAA"
        extra = {k: v for k, v in extra.items() if not k.startswith("webhook-")}
    headers.update(extra)
    before = _recorded()
    response = client.generic(
        "POST",
        f"/api/v1/hooks/{slug}/",
        body,
        content_type="application/json",
        headers=headers,
        REMOTE_ADDR=address,
    )
    status, answer = response.status_code, response.json()
    event(f"{status} {answer.get('reason', answer['status'])[:24]}")  # --hypothesis-show-statistics
    assert 200 <= status < 300 or 400 <= status < 500, (status, answer)
    if status >= 400:
        assert answer["status"] == "rejected" and answer["reason"], answer
    if answer.get("status") == "duplicate":
        assert status == 200
        assert InboundEvent.objects.filter(trace_id=answer["trace_id"]).exists()
        assert _recorded() == before
    else:
        assert _recorded() == before + 1, (status, answer)
