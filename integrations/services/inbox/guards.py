"""What a delivery may hold before it is trusted or stored (docs/operations.md "Hostile input").

PostgreSQL's ``text`` and ``jsonb`` refuse NUL (``\\u0000``) and lone surrogates, ``jsonb``
refuses NaN and the infinities, and Python's json raises for very deep nesting or integers of
more than 4,300 digits: each of these is answered here (400 or 422 naming the place) instead of
failing the INSERT with a 500. The accepted path pays a few substring counts over the body
text; the payload is walked (once) only when the text makes a problem possible.
"""

import json
import math
import re

from integrations.models import InboundEvent

MAX_DEPTH = 32
# The header bounds: the webhook-id is stored whole (cutting it merged different events into
# one "duplicate"); a unix timestamp has at most 20 characters (and more overflowed a float);
# a signature header holds a handful of ``v1,<base64>`` entries.
WEBHOOK_ID_MAX = InboundEvent._meta.get_field("webhook_id").max_length or 200
HEADER_BOUNDS = {"webhook-id": WEBHOOK_ID_MAX, "webhook-timestamp": 20, "webhook-signature": 4096}

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# In JSON text that decoded as strict UTF-8, NUL and surrogates can only come from escapes.
_SUSPECT_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")

Outcome = tuple[int, str, dict[str, list[str]]]  # (HTTP status, reason, field errors)


def storable(text: str) -> str:
    """``text`` with NUL and lone surrogates replaced by U+FFFD (for records and excerpts)."""
    return _UNSTORABLE.sub("\ufffd", text)


def header_problem(headers: dict[str, str]) -> str:
    """Why the signature headers cannot be checked or stored ("" when they can)."""
    for name, bound in HEADER_BOUNDS.items():
        value = headers.get(name, "")
        if len(value) > bound:
            return f"{name} over {bound} characters ({len(value)})"
        if not (value.isascii() and "\x00" not in value) and _UNSTORABLE.search(value):
            return f"{name} holds a NUL character or a lone surrogate"
    return ""


class _BadNumber(ValueError):
    """A JSON number jsonb cannot hold (NaN, ±Infinity, a float overflowing to infinity)."""


def _refuse_constant(text: str) -> float:
    raise _BadNumber(text)


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _BadNumber(text)
    return value


# Built once: json.loads with hooks would build a decoder (and its scanner) per delivery.
_DECODER = json.JSONDecoder(parse_float=_finite_float, parse_constant=_refuse_constant)


class _Marked:
    """A number that cannot be stored, left in place by the second parse to find its path."""

    def __init__(self, text: str) -> None:
        self.text = text


def _marked_int(text: str) -> object:
    try:
        return int(text)
    except ValueError:  # over sys.get_int_max_str_digits()
        return _Marked(text)


def _marked_float(text: str) -> object:
    value = float(text)
    return _Marked(text) if math.isinf(value) else value


def decode_json(body: bytes) -> tuple[object, Outcome | None]:
    """(payload, None) for a body that is JSON the database can store; else (None, outcome)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, (400, f"body is not UTF-8 (byte {exc.start})", {})
    text = text.removeprefix("\ufeff")
    try:
        payload = _DECODER.decode(text)
    except json.JSONDecodeError:
        return None, (400, "body is not valid JSON", {})
    except RecursionError:
        return None, (400, f"nesting deeper than {MAX_DEPTH}", {})
    except ValueError:  # _BadNumber, or an integer over Python's digit limit
        return None, _number_outcome(text)
    deep = text.count("{") + text.count("[") > MAX_DEPTH
    strings = "\\u" in text and _SUSPECT_ESCAPE.search(text) is not None
    if deep or strings:
        outcome = _walk(payload, "", 1, strings)
        if outcome is not None:
            return None, outcome
    return payload, None


def _number_outcome(text: str) -> Outcome:
    try:
        marked = json.loads(
            text, parse_int=_marked_int, parse_float=_marked_float, parse_constant=_Marked
        )
    except RecursionError:
        return 400, f"nesting deeper than {MAX_DEPTH}", {}
    return _walk(marked, "", 1, False) or (422, "a JSON number cannot be stored", {})


def _joined(path: str, step: object) -> str:
    shown = storable(str(step))
    shown = shown if len(shown) <= 60 else shown[:60] + "…"
    return f"{path}.{shown}" if path else shown


def _string_problem(value: str) -> str:
    match = _UNSTORABLE.search(value)
    if match is None:
        return ""
    if match.group() == "\x00":
        return "a NUL character (\\u0000) cannot be stored"
    return f"a lone surrogate (\\u{ord(match.group()):04x}) cannot be stored"


def _walk(value: object, path: str, depth: int, strings: bool) -> Outcome | None:
    """The first problem in ``value`` (one pass, stopping at MAX_DEPTH), else None."""
    if isinstance(value, dict | list):
        if depth > MAX_DEPTH:
            return 400, f"nesting deeper than {MAX_DEPTH} (at {path or 'the body'})", {}
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, child in items:
            where = _joined(path, key)
            if strings and isinstance(key, str) and (problem := _string_problem(key)):
                return _field_outcome(where, "key: " + problem)
            outcome = _walk(child, where, depth + 1, strings)
            if outcome is not None:
                return outcome
    elif isinstance(value, _Marked):
        shown = (
            value.text
            if len(value.text) <= 20
            else f"{value.text[:12]}… ({len(value.text)} digits)"
        )
        return _field_outcome(path or "body", f"the number {shown} cannot be stored")
    elif strings and isinstance(value, str) and (problem := _string_problem(value)):
        return _field_outcome(path or "body", problem)
    return None


def _field_outcome(path: str, problem: str) -> Outcome:
    return 422, f"{path}: {problem}", {path: [problem[0].upper() + problem[1:] + "."]}
