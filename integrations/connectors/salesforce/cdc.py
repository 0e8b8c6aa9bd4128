"""Change Data Capture: Salesforce's change events as the contract's canonical events.

Each pull stream is one channel (``accounts``: ``/data/AccountChangeEvent`` …), polled like a
peer without webhooks (integrations/services/polling.py): the run's cursor is the last replay
id processed, stored with the run only after its events are in the inbox, and the next run
(after a restart too) subscribes from it. Delivery is at least once: an event read twice has
the same key (transaction key, sequence number, record id) and is stored once.

What each change type becomes:

- ``CREATE``: the event's body (every field set at creation), one event per id in
  ``recordIds`` (Salesforce merges identical changes to several records into one event);
  re-read when the body lacks a field the contract requires.
- ``UPDATE``, ``UNDELETE``: the body has only the changed fields, so the records are re-read
  (one SOQL query for all of the event's ids) and sent whole.
- ``GAP_CREATE``, ``GAP_UPDATE``, ``GAP_UNDELETE``: no values at all: re-read the same way.
- ``GAP_OVERFLOW`` (over 100,000 changes in one transaction; no ids): every record of the
  entity changed since the commit, less a margin, is re-read (a reconciliation).
- ``DELETE``, ``GAP_DELETE``: nothing (Throughline keeps its customers; a merge is done in
  Throughline, docs/customer-master.md).
- an echo, a change our own write caused (``changeOrigin`` holds ``client=throughline``, which
  every write sends in ``Sforce-Call-Options``): dropped.

A replay id Salesforce no longer keeps (down past its 72 hours, an org move) is not an error
to retry forever: the entity is reconciled from the cursor's time and the subscription starts
again from everything kept; the run says so.
"""

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from integrations.connectors.pull import Changes, PulledEvent
from integrations.connectors.salesforce import mapping
from integrations.connectors.salesforce.client import API_VERSION, CLIENT_ID, SalesforceClient
from integrations.connectors.salesforce.cometd import (
    ALL_RETAINED,
    ChangeMessage,
    CometdSession,
    ReplayRejected,
)
from integrations.connectors.schemas import validate_data

STREAMS = {
    "accounts": ("/data/AccountChangeEvent", mapping.ACCOUNT),
    "contacts": ("/data/ContactChangeEvent", mapping.CONTACT),
    "opportunities": ("/data/OpportunityChangeEvent", mapping.OPPORTUNITY),
}
MAX_EVENTS_PER_RUN = 2000
RETENTION = timedelta(hours=72)
RECONCILE_MARGIN = timedelta(minutes=5)
RE_READ = {"UPDATE", "UNDELETE", "GAP_CREATE", "GAP_UPDATE", "GAP_UNDELETE"}
_SALESFORCE_ID = re.compile(r"[A-Za-z0-9]{15}([A-Za-z0-9]{3})?")


@dataclass(frozen=True)
class Cursor:
    replay: int | None = None
    at: str = ""  # the last processed event's commit time: where a reconciliation starts

    @classmethod
    def read(cls, text: str | None) -> "Cursor":
        try:
            stored = json.loads(text or "{}")
            return cls(replay=stored.get("replay"), at=str(stored.get("at") or ""))
        except (ValueError, AttributeError):
            return cls()

    def text(self) -> str:
        return json.dumps({"replay": self.replay, "at": self.at}, separators=(",", ":"))


def fetch_changes(
    client: SalesforceClient, rules: mapping.Mapping, stream: str, since: str | None
) -> Changes:
    channel, kind = STREAMS[stream]
    cursor = Cursor.read(since)
    reader = _Reader(client, rules, kind)
    session = CometdSession(client)
    session.handshake()
    read = 0
    try:
        start = cursor.replay if cursor.replay is not None else ALL_RETAINED
        try:
            session.subscribe(channel, start)
        except ReplayRejected as exc:
            reader.reconcile(cursor.at, why=f"the stored replay id {start} was refused ({exc})")
            session.subscribe(channel, ALL_RETAINED)
        while read < MAX_EVENTS_PER_RUN:
            batch = session.connect()
            if not batch:
                break
            for message in batch:
                read += 1
                reader.take(message)
                cursor = Cursor(message.replay_id, reader.commit_time(message) or cursor.at)
    finally:
        session.disconnect()
    return Changes(events=reader.events, cursor=cursor.text(), read=read, problems=reader.problems)


class _Reader:
    """The events of one stream's run, and what went wrong on the way."""

    def __init__(self, client: SalesforceClient, rules: mapping.Mapping, kind: str) -> None:
        self.client, self.rules, self.kind = client, rules, kind
        self.sobject = mapping.SOBJECTS[kind]
        self.events: list[PulledEvent] = []
        self.problems: list[str] = []

    @staticmethod
    def commit_time(message: ChangeMessage) -> str:
        millis = (message.payload.get("ChangeEventHeader") or {}).get("commitTimestamp")
        if not isinstance(millis, int):
            return ""
        return datetime.fromtimestamp(millis / 1000, UTC).isoformat()

    def take(self, message: ChangeMessage) -> None:
        header = message.payload.get("ChangeEventHeader") or {}
        change = str(header.get("changeType") or "")
        if f"client={CLIENT_ID}" in str(header.get("changeOrigin") or ""):
            return  # an echo of our own write
        ids = [i for i in header.get("recordIds") or [] if _SALESFORCE_ID.fullmatch(str(i))]
        tag = f"{header.get('transactionKey') or message.replay_id}:{header.get('sequenceNumber') or 0}"
        if change == "GAP_OVERFLOW":
            since = self.commit_time(message)
            start = datetime.fromisoformat(since) - RECONCILE_MARGIN if since else None
            self.reconcile(start.isoformat() if start else "", why="an overflow event")
        elif change == "CREATE" and self.kind == mapping.OPPORTUNITY:
            # A deal is read whole: formula fields (the account's name) are in no change event.
            self._re_read(ids, tag, fallback=self.commit_time(message))
        elif change == "CREATE":
            body = _flat_body(message.payload)
            missing = [
                i for i in ids if not self._add({**body, "Id": i}, f"{i}:{tag}", strict=True)
            ]
            self._re_read(missing, tag, fallback=self.commit_time(message))
        elif change in RE_READ:
            self._re_read(ids, tag, fallback=self.commit_time(message))

    def _add(self, record: dict, key: str, *, strict: bool = False, fallback: str = "") -> bool:
        translation = mapping.translate(self.rules, self.kind, record)
        if translation.skipped:
            return True  # read, and no event (an opportunity not won)
        if strict and validate_data(translation.event_type, translation.data):
            return False  # the body lacks a required field: re-read the record
        self.events.append(
            PulledEvent(
                key=f"cdc:{self.kind}:{key}",
                event_type=translation.event_type,
                data=translation.data,
                occurred_at=translation.occurred_at or fallback or datetime.now(UTC).isoformat(),
            )
        )
        return True

    def _re_read(self, ids: list[str], tag: str, *, fallback: str) -> None:
        if not ids:
            return
        quoted = ", ".join(f"'{i}'" for i in ids)
        for record in self.query(f"WHERE Id IN ({quoted})"):
            self._add(record, f"{record.get('Id')}:{tag}", fallback=fallback)

    def reconcile(self, since: str, *, why: str) -> None:
        start = datetime.fromisoformat(since) if since else datetime.now(UTC) - RETENTION
        stamp = start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        records = self.query(f"WHERE SystemModstamp >= {stamp} ORDER BY SystemModstamp")
        for record in records:
            stamp_of = record.get("SystemModstamp") or record.get("LastModifiedDate")
            self._add(record, f"reconciled:{record.get('Id')}:{stamp_of}")
        self.problems.append(
            f"{why}: {len(records)} {self.sobject} records changed since {stamp} were re-read"
        )

    def query(self, where: str) -> list[dict]:
        fields = sorted(
            set(mapping.source_fields(self.rules, self.kind)) | {"Id", "SystemModstamp"}
        )
        answer = (
            self.client.request(
                "GET",
                "query",
                params={"q": f"SELECT {', '.join(fields)} FROM {self.sobject} {where}"},
            )
            or {}
        )
        records = list(answer.get("records") or [])
        while answer.get("nextRecordsUrl") and not answer.get("done", True):
            path = str(answer["nextRecordsUrl"]).split(f"/v{API_VERSION}/", 1)[-1]
            answer = self.client.request("GET", path) or {}
            records += answer.get("records") or []
        return [_flat(r) for r in records]


def _flat_body(payload: dict) -> dict:
    """A change event's fields as REST names them: compound fields come nested
    (``BillingAddress: {"Country": "US"}`` is ``BillingCountry``; a person's ``Name:
    {"FirstName", "LastName"}`` is ``FirstName`` and ``LastName``); nulls are left out (in the
    Pub/Sub form null means unchanged, never cleared)."""
    flat: dict = {}
    for name, value in payload.items():
        if name == "ChangeEventHeader" or value is None:
            continue
        if isinstance(value, dict):
            prefix = name[: -len("Address")] if name.endswith("Address") else ""
            flat.update({f"{prefix}{k}": v for k, v in value.items() if v is not None})
        else:
            flat[name] = value
    return flat


def _flat(record: dict, prefix: str = "") -> dict:
    """A REST record as the flat field dict translations read (``Owner.Email``)."""
    flat: dict = {}
    for name, value in record.items():
        if name == "attributes":
            continue
        if isinstance(value, dict):
            flat.update(_flat(value, prefix=f"{prefix}{name}."))
        else:
            flat[f"{prefix}{name}"] = value
    return flat
