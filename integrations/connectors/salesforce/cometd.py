"""A Bayeux (CometD) long-polling client for Salesforce's Streaming API, enough for Change
Data Capture: handshake, subscribe with the replay extension, connect, disconnect.

Each poll is one short session: handshake, subscribe to one channel from the stored replay id
(``-2``: every event Salesforce still keeps, 72 hours; ``-1``: only new ones), connect until a
connect brings nothing, disconnect. Salesforce keeps the events, not the session: the replay id
is what carries the position from one poll to the next (and over a restart).
"""

from dataclasses import dataclass

from integrations.connectors.base import PermanentError, RetryableError
from integrations.connectors.salesforce.client import SalesforceClient

ALL_RETAINED = -2
ONLY_NEW = -1


class ReplayRejected(Exception):
    """Salesforce no longer has the stored replay id (down past retention, or an org move)."""


@dataclass(frozen=True)
class ChangeMessage:
    replay_id: int
    channel: str
    payload: dict


class CometdSession:
    def __init__(self, client: SalesforceClient) -> None:
        self.client = client
        self.client_id = ""

    def _exchange(self, message: dict) -> list[dict]:
        if self.client_id:
            message = {**message, "clientId": self.client_id}
        return self.client.cometd([message])

    def handshake(self) -> None:
        answer = self._exchange(
            {
                "channel": "/meta/handshake",
                "version": "1.0",
                "supportedConnectionTypes": ["long-polling"],
                "ext": {"replay": True},
            }
        )
        reply = _meta(answer, "/meta/handshake")
        if not reply.get("successful"):
            raise RetryableError(f"Salesforce streaming handshake refused: {reply.get('error')}")
        self.client_id = str(reply["clientId"])

    def subscribe(self, channel: str, replay_id: int) -> None:
        answer = self._exchange(
            {
                "channel": "/meta/subscribe",
                "subscription": channel,
                "ext": {"replay": {channel: replay_id}},
            }
        )
        reply = _meta(answer, "/meta/subscribe")
        if reply.get("successful"):
            return
        error = str(reply.get("error") or "")
        if "replayid" in error.lower().replace(" ", ""):
            raise ReplayRejected(error)
        raise PermanentError(f"Salesforce refused the subscription to {channel}: {error}")

    def connect(self) -> list[ChangeMessage]:
        # ``timeout: 0`` asks the server to answer at once with what it holds instead of
        # holding the poll open (up to 110 s) when nothing is pending: each poll is short.
        answer = self._exchange(
            {"channel": "/meta/connect", "connectionType": "long-polling", "advice": {"timeout": 0}}
        )
        reply = _meta(answer, "/meta/connect")
        if not reply.get("successful"):
            raise RetryableError(f"Salesforce streaming connect refused: {reply.get('error')}")
        return [
            ChangeMessage(
                replay_id=int(m["data"]["event"]["replayId"]),
                channel=m["channel"],
                payload=m["data"]["payload"],
            )
            for m in answer
            if not str(m.get("channel", "")).startswith("/meta/")
            and isinstance(m.get("data"), dict)
        ]

    def disconnect(self) -> None:
        if self.client_id:
            self._exchange({"channel": "/meta/disconnect"})
            self.client_id = ""


def _meta(answer: list[dict], channel: str) -> dict:
    for message in answer:
        if isinstance(message, dict) and message.get("channel") == channel:
            return message
    raise RetryableError(f"Salesforce streaming answered without {channel}")
