"""The fake org's data: well-formed Salesforce ids, timestamps, and an in-memory record store.

Ids are 15 case-sensitive characters (a 3-character key prefix naming the object, then the
rest) plus the 3-character case checksum that makes the 18-character form; the store keeps
18-character ids and accepts either form on lookups.
"""

import copy
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

CHECKSUM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
KEY_PREFIXES = {
    "Account": "001",
    "Contact": "003",
    "Opportunity": "006",
    "User": "005",
    "Organization": "00D",
}
START = datetime(2026, 12, 4, 10, 0, 0, tzinfo=UTC)
# Standard relationship names whose id field is the name plus "Id" (AccountId, OwnerId …).
STANDARD_LOOKUPS = {"Account", "Opportunity", "Contact", "Owner", "Parent"}


class LookupFailure(ValueError):
    """A lookup by external id in a body that names no record (or several)."""

    def __init__(self, message: str, field_name: str) -> None:
        super().__init__(message)
        self.message = message
        self.field_name = field_name


def checksum(id15: str) -> str:
    """The three characters that turn a 15-character id into its 18-character form."""
    suffix = ""
    for start in (0, 5, 10):
        bits = sum(1 << i for i, char in enumerate(id15[start : start + 5]) if "A" <= char <= "Z")
        suffix += CHECKSUM_ALPHABET[bits]
    return suffix


def to18(record_id: str) -> str:
    return record_id + checksum(record_id) if len(record_id) == 15 else record_id


def is_well_formed(record_id: str, prefix: str | None = None) -> bool:
    """A 15-character id, or an 18-character one whose checksum is right."""
    if len(record_id) not in (15, 18) or not all(c in BASE62 for c in record_id):
        return False
    if prefix is not None and not record_id.startswith(prefix):
        return False
    return len(record_id) == 15 or record_id[15:] == checksum(record_id[:15])


def make_id(prefix: str, number: int) -> str:
    """An 18-character id ``<prefix>5g…<number in base 62>`` with its checksum."""
    digits = ""
    while True:
        number, rest = divmod(number, 62)
        digits = BASE62[rest] + digits
        if not number:
            break
    id15 = (prefix + "5g").ljust(15 - len(digits), "0") + digits
    return id15 + checksum(id15)


def stamp(moment: datetime) -> str:
    """The REST API's datetime form: ``2026-12-04T10:00:00.000+0000``."""
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{moment.microsecond // 1000:03d}+0000"
    )


def id_field_for(relationship: str) -> str:
    """``Account__r`` -> ``Account__c``; ``Account`` -> ``AccountId``."""
    if relationship.endswith("__r"):
        return relationship[:-3] + "__c"
    return relationship + "Id"


def is_relationship(name: str, value: Any) -> bool:
    return isinstance(value, dict) and (name.endswith("__r") or name in STANDARD_LOOKUPS)


class Store:
    """Records by object and id, the deleted ones apart, and a clock that ticks a second per
    write (deterministic LastModifiedDate / SystemModstamp)."""

    def __init__(self) -> None:
        self.live: dict[str, dict[str, dict]] = {}
        self.deleted: dict[str, dict[str, dict]] = {}
        self.now = START
        self._numbers = itertools.count(1)
        self._prefixes = dict(KEY_PREFIXES)

    def key_prefix(self, sobject: str) -> str:
        """The standard objects' prefixes; ``e00`` for platform events; a01, a02 … for the
        custom objects, in the order the fake first meets them."""
        if sobject.endswith("__e"):
            return "e00"
        if sobject not in self._prefixes:
            custom = sum(1 for prefix in self._prefixes.values() if prefix.startswith("a"))
            self._prefixes[sobject] = "a" + BASE62[(custom + 1) // 62] + BASE62[(custom + 1) % 62]
        return self._prefixes[sobject]

    def table(self, sobject: str) -> dict[str, dict]:
        return self.live.setdefault(sobject, {})

    def new_id(self, sobject: str) -> str:
        return make_id(self.key_prefix(sobject), next(self._numbers))

    def tick(self) -> str:
        moment, self.now = self.now, self.now + timedelta(seconds=1)
        return stamp(moment)

    def get(self, sobject: str, record_id: str) -> dict | None:
        return self.table(sobject).get(to18(record_id))

    def is_deleted(self, sobject: str, record_id: str) -> bool:
        return to18(record_id) in self.deleted.get(sobject, {})

    def matching(self, sobject: str, field_name: str, value: Any) -> list[str]:
        """Ids of the live records whose ``field_name`` equals ``value`` (as text)."""
        if field_name == "Id":
            return [to18(str(value))] if self.get(sobject, str(value)) else []
        wanted = str(value)
        return [
            record_id
            for record_id, fields in self.table(sobject).items()
            if fields.get(field_name) is not None and str(fields[field_name]) == wanted
        ]

    def resolve(self, fields: dict) -> dict:
        """``fields`` with every lookup by external id replaced by the id it names."""
        resolved = {}
        for name, value in fields.items():
            if name == "attributes":
                continue
            if not is_relationship(name, value):
                resolved[name] = value
                continue
            target = name[:-3] if name.endswith("__r") else name
            if target in ("Owner", "Parent"):
                target = "User" if target == "Owner" else "Account"
            key, key_value = next((k, v) for k, v in value.items() if k != "attributes")
            found = self.matching(target, key, key_value)
            if len(found) != 1:
                problem = "not found" if not found else "matches more than one record"
                message = f"Foreign key external ID: {key_value} {problem} for field {key} in entity {target}"
                raise LookupFailure(message, name)
            resolved[id_field_for(name)] = found[0]
        return resolved

    def write(self, sobject: str, fields: dict, record_id: str | None = None) -> tuple[str, bool]:
        """Create (no id) or update a record with already resolved fields: (id, created)."""
        created = record_id is None
        record_id = to18(record_id) if record_id else self.new_id(sobject)
        record = self.table(sobject).setdefault(record_id, {"Id": record_id})
        record.update({k: v for k, v in fields.items() if k != "Id"})
        record["LastModifiedDate"] = record["SystemModstamp"] = self.tick()
        return record_id, created

    def delete(self, sobject: str, record_id: str) -> None:
        record_id = to18(record_id)
        record = self.table(sobject).pop(record_id)
        self.deleted.setdefault(sobject, {})[record_id] = record

    def snapshot(self) -> tuple:
        return copy.deepcopy((self.live, self.deleted))

    def restore(self, snapshot: tuple) -> None:
        self.live, self.deleted = snapshot
