"""The fake org's Streaming API: CometD (Bayeux) long polling at ``/cometd/<version>/`` with the
replay extension, over an event bus with opaque, increasing (not contiguous) replay ids.

``/meta/connect`` never waits: it answers at once with whatever is pending (at most
``BATCH`` events) and the connect reply, so a test drives the stream one poll at a time.
"""

import re
import secrets
from typing import Any

from tests.fakes.salesforce_wsgi import Answer, Call, error_list, json_answer

BATCH = 100
REPLAY_STEP = 7  # replay ids are opaque: increasing, never contiguous
ALL_CHANGES = "/data/ChangeEvents"
KNOWN_CHANNEL = re.compile(r"^(/data/ChangeEvents|/data/\w+ChangeEvent|/event/\w+__e|/topic/\w+)$")
CONNECT_ADVICE = {"reconnect": "retry", "interval": 0, "timeout": 110000}
INVALID_REPLAY = (
    "400::The replayId {0} you provided was invalid.  Please provide a valid ID, -2 to replay all "
    "events, or -1 to replay only new events."
)


class Bus:
    """Retained events per channel, and the subscribed clients' positions (the replay id each
    subscription last saw; a subscription gets the events after it)."""

    def __init__(self, first_replay_id: int = 2401) -> None:
        self.channels: dict[str, list[dict]] = {}
        self.last_replay_id = first_replay_id - REPLAY_STEP
        self.clients: dict[str, dict[str, int]] = {}

    def publish(self, channel: str, payload: dict, schema: str = "") -> int:
        self.last_replay_id += REPLAY_STEP
        data = {
            "schema": schema or f"{channel.rsplit('/', 1)[-1]}-TESTschema1",
            "payload": payload,
            "event": {"replayId": self.last_replay_id},
        }
        self.channels.setdefault(channel, []).append(data)
        return self.last_replay_id

    def forget_before(self, channel: str, replay_id: int) -> None:
        for name in self._sources(channel):
            kept = [
                data
                for data in self.channels.get(name, [])
                if data["event"]["replayId"] >= replay_id
            ]
            self.channels[name] = kept

    def _sources(self, channel: str) -> list[str]:
        if channel == ALL_CHANGES:
            return [name for name in self.channels if name.startswith("/data/")]
        return [channel]

    def retained(self, channel: str) -> list[dict]:
        events = [data for name in self._sources(channel) for data in self.channels.get(name, [])]
        return sorted(events, key=lambda data: data["event"]["replayId"])

    def known(self, channel: str) -> bool:
        return channel in self.channels or bool(KNOWN_CHANNEL.match(channel or ""))

    def start_position(self, channel: str, replay: Any) -> int | None:
        """The position a subscription replaying from ``replay`` starts at; None if refused."""
        if replay == -1:
            return self.last_replay_id
        if replay == -2:
            return 0
        ids = {data["event"]["replayId"] for data in self.retained(channel)}
        return replay if isinstance(replay, int) and replay in ids else None

    def pending(self, client_id: str) -> list[dict]:
        """Up to BATCH events after each subscription's position; the positions move on."""
        delivered: list[dict] = []
        subscriptions = self.clients[client_id]
        for channel, position in subscriptions.items():
            room = BATCH - len(delivered)
            due = [d for d in self.retained(channel) if d["event"]["replayId"] > position][:room]
            if due:
                subscriptions[channel] = due[-1]["event"]["replayId"]
            delivered += [{"channel": channel, "data": data} for data in due]
        return delivered


def _reply(message: dict, **fields: Any) -> dict:
    reply = {"channel": message.get("channel")}
    if "id" in message:
        reply["id"] = message["id"]
    return {**reply, **fields}


def _handshake(bus: Bus, message: dict) -> list[dict]:
    client_id = secrets.token_hex(12)
    bus.clients[client_id] = {}
    return [
        _reply(
            message,
            clientId=client_id,
            successful=True,
            version="1.0",
            supportedConnectionTypes=["long-polling"],
            ext={"replay": True},
        )
    ]


def _subscribe(bus: Bus, message: dict) -> list[dict]:
    client_id, channel = message.get("clientId"), message.get("subscription")
    base = {"clientId": client_id, "subscription": channel}
    if not bus.known(channel):
        return [_reply(message, **base, successful=False, error="404::Unknown channel")]
    replay = ((message.get("ext") or {}).get("replay") or {}).get(channel, -1)
    position = bus.start_position(channel, replay)
    if position is None:
        return [_reply(message, **base, successful=False, error=INVALID_REPLAY.format(replay))]
    bus.clients[client_id][channel] = position
    return [_reply(message, **base, successful=True)]


def _unsubscribe(bus: Bus, message: dict) -> list[dict]:
    client_id, channel = message.get("clientId"), message.get("subscription")
    bus.clients[client_id].pop(channel, None)
    return [_reply(message, clientId=client_id, subscription=channel, successful=True)]


def _connect(bus: Bus, message: dict) -> list[dict]:
    client_id = message.get("clientId")
    events = bus.pending(client_id)
    return [*events, _reply(message, clientId=client_id, successful=True, advice=CONNECT_ADVICE)]


def _disconnect(bus: Bus, message: dict) -> list[dict]:
    client_id = message.get("clientId")
    bus.clients.pop(client_id, None)
    return [_reply(message, clientId=client_id, successful=True)]


HANDLERS = {
    "/meta/subscribe": _subscribe,
    "/meta/unsubscribe": _unsubscribe,
    "/meta/connect": _connect,
    "/meta/disconnect": _disconnect,
}


def _answer_one(bus: Bus, message: Any) -> list[dict]:
    if not isinstance(message, dict):
        return [{"successful": False, "error": "400::Invalid message"}]
    channel = message.get("channel")
    if channel == "/meta/handshake":
        return _handshake(bus, message)
    if channel not in HANDLERS:
        return [_reply(message, successful=False, error=f"400::Unsupported channel {channel}")]
    if message.get("clientId") not in bus.clients:
        advice = {"reconnect": "handshake"}
        return [_reply(message, successful=False, error="403::Unknown client", advice=advice)]
    return HANDLERS[channel](bus, message)


def cometd_answer(bus: Bus, call: Call) -> Answer:
    """Answer a POSTed array of Bayeux messages (already authenticated) with an array."""
    if call.method != "POST":
        return error_list(405, "METHOD_NOT_ALLOWED", "POST only")
    try:
        messages = call.json()
    except ValueError:
        return error_list(400, "JSON_PARSER_ERROR", "The request body is not valid JSON")
    if not isinstance(messages, list):
        messages = [messages]
    replies = [reply for message in messages for reply in _answer_one(bus, message)]
    return json_answer(200, replies)
