"""The canonical operations of each port: for every operation its payload as a TypedDict (what
a connector reads) and as a JSON Schema (what ``Connector.deliver`` checks before the platform
is called, so a connector never sees a malformed payload).

``OPERATIONS`` (name → Operation) is the one list: ``integrations.connectors.base.PORTS`` and the
operation table of docs/connectors.md derive from it. ``validate_operation`` answers field
errors (``{"lines.0.amount": ["..."]}``), empty when the payload is valid; each schema is
compiled once, into the fast check of ``integrations/connectors/schemas.py`` where it can be
and into a jsonschema validator for the words of the errors.
"""

from collections.abc import Callable

from jsonschema import Draft202012Validator, ValidationError

from integrations.connectors.operations import crm, erp, psa
from integrations.connectors.operations.spec import Operation, Port
from integrations.connectors.schemas import UncompilableSchema, compile_schema

__all__ = ["OPERATIONS", "Operation", "Port", "operations_of", "validate_operation"]

OPERATIONS: dict[str, Operation] = {
    operation.name: operation for operation in (*crm.OPERATIONS, *psa.OPERATIONS, *erp.OPERATIONS)
}


def operations_of(port: str) -> list[str]:
    """The operation names of ``port`` (``"crm"``, ``"psa"``, ``"erp"``), in declaration order."""
    return [name for name, operation in OPERATIONS.items() if operation.port == port]


def _build() -> tuple[dict[str, Draft202012Validator], dict[str, Callable[[object], bool]]]:
    validators, fast = {}, {}
    for name, operation in OPERATIONS.items():
        Draft202012Validator.check_schema(operation.schema)
        validators[name] = Draft202012Validator(operation.schema)
        try:
            fast[name] = compile_schema(operation.schema)
        except UncompilableSchema:
            continue  # jsonschema alone validates this operation
    return validators, fast


_VALIDATORS, _FAST_CHECKS = _build()
_MESSAGE_LIMIT = 200


def validate_operation(name: str, payload: object) -> dict[str, list[str]]:
    """Field errors of ``payload`` for operation ``name`` (field path → messages; the payload
    itself is ``"payload"``); empty when valid. An unknown operation is an error of its own."""
    if name not in OPERATIONS:
        return {"operation": [f"{name!r} is not an operation of any port"]}
    fast = _FAST_CHECKS.get(name)
    if fast is not None and fast(payload):
        return {}
    errors: dict[str, list[str]] = {}
    for error in sorted(_VALIDATORS[name].iter_errors(payload), key=lambda e: list(e.path)):
        parts = [str(part) for part in error.absolute_path]
        if error.validator == "required" and "'" in error.message:
            parts.append(error.message.split("'")[1])
            message = "This field is required."
        else:
            message = _message(error)
        errors.setdefault(".".join(parts) or "payload", []).append(message)
    return errors


def _message(error: ValidationError) -> str:
    """jsonschema's words; for a nullable value or a choice of shapes, the reasons of the
    alternatives (without "is not of type 'null'")."""
    message = error.message
    if error.validator == "anyOf" and error.context:
        reasons = [
            sub.message
            for sub in error.context
            if not (sub.validator == "type" and sub.validator_value == "null")
        ]
        message = " or ".join(dict.fromkeys(reasons)) or message
    if len(message) > _MESSAGE_LIMIT:
        message = message[: _MESSAGE_LIMIT - 1] + "…"
    return message
