"""The fake's CometD endpoint speaks Bayeux long polling with the replay extension: handshake,
subscribe from -1 / -2 / a stored replay id, connect (never waiting), disconnect; retention."""

import json

import pytest

from tests.fakes.salesforce import FIXTURES

COMETD = "https://sf.test/cometd/62.0/"
ACCOUNTS = "/data/AccountChangeEvent"
CONNECT_REPLY_ADVICE = {"reconnect": "retry", "interval": 0, "timeout": 110000}


def bayeux(http, *messages, url=COMETD):
    answer = http.post(url, json=list(messages))
    assert answer.status_code == 200, answer.text
    return answer.json()


def handshake(http):
    (reply,) = bayeux(
        http,
        {
            "channel": "/meta/handshake",
            "version": "1.0",
            "supportedConnectionTypes": ["long-polling"],
            "ext": {"replay": True},
        },
    )
    return reply


def subscribe(http, client_id, channel=ACCOUNTS, replay=-1):
    message = {"channel": "/meta/subscribe", "clientId": client_id, "subscription": channel}
    (reply,) = bayeux(http, {**message, "ext": {"replay": {channel: replay}}})
    return reply


def connect(http, client_id):
    message = {"channel": "/meta/connect", "clientId": client_id, "connectionType": "long-polling"}
    *events, reply = bayeux(http, message)
    assert reply == {
        "channel": "/meta/connect",
        "clientId": client_id,
        "successful": True,
        "advice": CONNECT_REPLY_ADVICE,
    }
    return events


def change(n):
    return {"ChangeEventHeader": {"entityName": "Account", "changeType": "UPDATE"}, "n": n}


@pytest.fixture
def client(http):
    return handshake(http)["clientId"]


def test_handshake(http):
    reply = handshake(http)

    assert reply.pop("clientId")
    assert reply == {
        "channel": "/meta/handshake",
        "successful": True,
        "version": "1.0",
        "supportedConnectionTypes": ["long-polling"],
        "ext": {"replay": True},
    }


def test_cometd_needs_a_valid_token_and_takes_the_path_without_a_slash(fake, http):
    assert fake.session().post(COMETD, json=[{"channel": "/meta/handshake"}]).status_code == 401
    assert handshake(http)["successful"] is True
    assert bayeux(http, {"channel": "/meta/handshake"}, url=COMETD.rstrip("/"))[0]["successful"]
    fake.expire_tokens()
    assert http.post(COMETD, json=[{"channel": "/meta/handshake"}]).status_code == 401
    assert fake.api_used == 0  # streaming does not count against the REST limit


def test_replay_ids_increase_but_not_by_one(fake):
    first, second, third = (fake.publish_change(ACCOUNTS, change(n)) for n in range(3))
    assert first < second < third
    assert second - first > 1 and third - second > 1


def test_subscribe_from_minus_one_gets_only_new_events(fake, http, client):
    fake.publish_change(ACCOUNTS, change("before"))

    assert subscribe(http, client) == {
        "channel": "/meta/subscribe",
        "clientId": client,
        "subscription": ACCOUNTS,
        "successful": True,
    }
    assert connect(http, client) == []  # answered at once, nothing pending
    replay_id = fake.publish_change(ACCOUNTS, change("after"))
    (event,) = connect(http, client)
    assert event["channel"] == ACCOUNTS
    assert event["data"]["payload"] == change("after")
    assert event["data"]["event"] == {"replayId": replay_id}
    assert event["data"]["schema"]
    assert connect(http, client) == []


def test_subscribe_from_minus_two_gets_everything_retained(fake, http, client):
    for n in range(3):
        fake.publish_change(ACCOUNTS, change(n))
    fake.publish_change("/data/ContactChangeEvent", change("contact"))

    subscribe(http, client, replay=-2)
    assert [e["data"]["payload"]["n"] for e in connect(http, client)] == [0, 1, 2]


def test_subscribe_from_a_stored_replay_id_gets_the_events_after_it(fake, http, client):
    ids = [fake.publish_change(ACCOUNTS, change(n)) for n in range(4)]

    subscribe(http, client, replay=ids[1])
    events = connect(http, client)
    assert [e["data"]["event"]["replayId"] for e in events] == ids[2:]


def test_a_forgotten_or_never_issued_replay_id_is_refused(fake, http, client):
    ids = [fake.publish_change(ACCOUNTS, change(n)) for n in range(3)]
    fake.forget_events_before(ACCOUNTS, ids[2])

    for replay in (ids[0], ids[2] + 1):
        reply = subscribe(http, client, replay=replay)
        assert reply["successful"] is False
        assert reply["error"] == (
            f"400::The replayId {replay} you provided was invalid.  Please provide a valid ID, "
            "-2 to replay all events, or -1 to replay only new events."
        )
    subscribe(http, client, replay=-2)
    assert [e["data"]["event"]["replayId"] for e in connect(http, client)] == [ids[2]]


def test_an_unknown_channel_is_refused(http, client):
    reply = subscribe(http, client, channel="/data/NoSuchThing")
    assert reply["successful"] is False and reply["error"] == "404::Unknown channel"


def test_connect_hands_out_at_most_100_events_at_a_time(fake, http, client):
    subscribe(http, client, replay=-2)
    for n in range(150):
        fake.publish_change(ACCOUNTS, change(n))

    first, second = connect(http, client), connect(http, client)
    assert len(first) == 100 and len(second) == 50
    assert second[0]["data"]["payload"]["n"] == 100
    assert connect(http, client) == []


def test_the_all_changes_channel_carries_every_object(fake, http, client):
    subscribe(http, client, channel="/data/ChangeEvents", replay=-1)
    fake.publish_change(ACCOUNTS, change("account"))
    fake.publish_change("/data/OpportunityChangeEvent", change("opportunity"))

    events = connect(http, client)
    assert [e["data"]["payload"]["n"] for e in events] == ["account", "opportunity"]
    assert {e["channel"] for e in events} == {"/data/ChangeEvents"}


def test_disconnect_and_unknown_clients(http, client):
    (gone,) = bayeux(http, {"channel": "/meta/disconnect", "clientId": client, "id": "7"})
    assert gone == {
        "channel": "/meta/disconnect",
        "id": "7",
        "clientId": client,
        "successful": True,
    }

    message = {"channel": "/meta/connect", "clientId": client, "connectionType": "long-polling"}
    (refused,) = bayeux(http, message)
    assert refused == {
        "channel": "/meta/connect",
        "successful": False,
        "error": "403::Unknown client",
        "advice": {"reconnect": "handshake"},
    }


def test_several_messages_in_one_post_are_answered_in_one_array(fake, http, client):
    fake.publish_change(ACCOUNTS, change(0))
    subscribe_message = {
        "channel": "/meta/subscribe",
        "clientId": client,
        "subscription": ACCOUNTS,
        "ext": {"replay": {ACCOUNTS: -2}},
    }
    connect_message = {
        "channel": "/meta/connect",
        "clientId": client,
        "connectionType": "long-polling",
    }

    replies = bayeux(http, subscribe_message, connect_message)
    assert [r["channel"] for r in replies] == ["/meta/subscribe", ACCOUNTS, "/meta/connect"]


def test_a_fixture_is_published_as_it_is_written(fake, http, client):
    written = json.loads((FIXTURES / "cdc_opportunity_closed_won.json").read_text())
    subscribe(http, client, channel="/data/OpportunityChangeEvent")

    replay_id = fake.publish_fixture("cdc_opportunity_closed_won.json")
    (event,) = connect(http, client)
    assert event["data"]["payload"] == written["data"]["payload"]
    assert event["data"]["schema"] == written["data"]["schema"]
    assert event["data"]["event"]["replayId"] == replay_id
