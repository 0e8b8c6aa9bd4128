"""What every port's operations share: the ``Operation`` record and the common payload parts
(money, periods, the event envelope). The JSON building blocks come from
``integrations/connectors/schemas.py``; these add only what outbound payloads need besides."""

from dataclasses import dataclass
from typing import Any, Literal, NotRequired, TypedDict

from integrations.connectors.schemas import CURRENCY, DATETIME, MONEY, obj

Port = Literal["crm", "psa", "erp"]


@dataclass(frozen=True)
class Operation:
    """One canonical operation of a port: its payload as a TypedDict and as a JSON Schema, and
    whether it creates a record on the peer (a retry after a lost answer must then find the
    first one: an idempotency key on the peer, or a look-up by our reference)."""

    name: str
    port: Port
    description: str
    payload: type
    schema: dict[str, Any]
    creates: bool


def blank_or(schema: dict) -> dict:
    """``schema``, or an empty string (a value the system of record cleared)."""
    return {"anyOf": [schema, {"enum": [""]}]}


TEXT = {"type": "string"}
PERIOD = {"type": "string", "pattern": r"^\d{4}-(0[1-9]|1[0-2])$"}  # a month: "2026-11"


class MoneyValue(TypedDict):
    amount: str
    currency: str


MONEY_VALUE = obj({"amount": MONEY, "currency": CURRENCY})


class EventPublish(TypedDict):
    """A Throughline event to a subscriber: billing's envelope (``type``, ``timestamp``,
    ``data``; docs/contract.md §1) or an exception item event (``type``, ``item``)."""

    type: str
    timestamp: NotRequired[str]
    data: NotRequired[dict[str, Any]]
    item: NotRequired[dict[str, Any]]


EVENT_PUBLISH = {
    **obj(
        {"type": {"type": "string", "minLength": 1}},
        {"timestamp": DATETIME, "data": {"type": "object"}, "item": {"type": "object"}},
    ),
    "anyOf": [{"required": ["timestamp", "data"]}, {"required": ["item"]}],
}


def event_publish(port: Port) -> Operation:
    return Operation(
        name=f"{port}.event.publish",
        port=port,
        description=f"publish a Throughline event to the {port.upper()}",
        payload=EventPublish,
        schema=EVENT_PUBLISH,
        creates=False,
    )
