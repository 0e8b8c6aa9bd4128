"""What the OpenAPI document (docs/openapi.yaml) says beyond what drf-spectacular finds itself.

- the API token scheme (``integrations.api.auth.ApiTokenAuthentication``);
- the webhook receiver ``POST /api/v1/hooks/{system}/`` (docs/contract.md §1): a plain Django
  view, so drf-spectacular cannot see it; ``add_webhook_receiver`` (a postprocessing hook in
  ``SPECTACULAR_SETTINGS``) adds it with its Standard Webhooks headers, a request body that is
  one of the event envelopes (one component per event type, its ``data`` the type's JSON
  Schema from ``integrations/connectors/schemas.py``), and every answer of §1.

The document is OpenAPI 3.1, whose schemas are JSON Schema 2020-12, so the event schemas go in
as they are validated (``decimalRange``, Throughline's keyword, becomes ``x-decimalRange``).
"""

import copy

from drf_spectacular.extensions import OpenApiAuthenticationExtension

from integrations.connectors.schemas import DATA_SCHEMAS, DATETIME

RECEIVER_PATH = "/api/v1/hooks/{system}/"


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "integrations.api.auth.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "tl_<prefix>_<secret>",
            "description": "`Authorization: Bearer <token>` (or `Token <token>`): one machine "
            "client, one role (`manage.py tokens create`, docs/contract.md §2).",
        }


def component_name(event_type: str) -> str:
    """``psa.time_entry.approved`` → ``PsaTimeEntryApprovedEvent``."""
    words = event_type.replace("_", ".").split(".")
    return "".join(word.capitalize() for word in words) + "Event"


def _openapi_schema(schema):
    """The event JSON Schema with Throughline's own keyword marked as an extension."""
    if isinstance(schema, dict):
        return {
            ("x-decimalRange" if key == "decimalRange" else key): _openapi_schema(value)
            for key, value in schema.items()
        }
    if isinstance(schema, list):
        return [_openapi_schema(item) for item in schema]
    return schema


def envelope_schemas() -> dict[str, dict]:
    """One envelope component per event type: ``type`` fixed, ``timestamp``, typed ``data``."""
    return {
        component_name(event_type): {
            "type": "object",
            "title": event_type,
            "required": ["type", "timestamp", "data"],
            "properties": {
                "type": {"type": "string", "const": event_type},
                "timestamp": {**DATETIME, "description": "when the change happened at the source"},
                "data": _openapi_schema(copy.deepcopy(DATA_SCHEMAS[event_type])),
            },
        }
        for event_type in sorted(DATA_SCHEMAS)
    }


RECEIPT = {
    "type": "object",
    "required": ["status"],
    "properties": {
        "id": {"type": "string", "description": "the webhook-id"},
        "status": {
            "type": "string",
            "enum": ["accepted", "duplicate", "rejected", "unavailable"],
        },
        "reason": {"type": "string"},
        "trace_id": {"type": "string"},
        "errors": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
            "description": "422: the field errors, by path (`data.hours`)",
        },
    },
}

_HEADERS = [
    ("webhook-id", "unique per event from this system; the idempotency key"),
    ("webhook-timestamp", "unix seconds; refused more than 300 s away from Throughline's clock"),
    (
        "webhook-signature",
        'space-separated `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<raw body>">`; the key '
        "is the base64 part of the system's `whsec_` secret; any one match is enough",
    ),
]

_ANSWERS = {
    "202": "accepted: stored, applied asynchronously",
    "200": "duplicate: this webhook-id was stored before (nothing repeated)",
    "400": "not JSON, not an object, no string `type`, or an unknown type (kept as rejected)",
    "401": "unknown or inactive system, or a signature header missing, not matching or stale",
    "404": "no such address: the system is not a slug (letters, digits, '-' and '_')",
    "413": "body over WEBHOOK_MAX_BODY_BYTES (256 KiB by default)",
    "422": "the envelope timestamp or `data` fails the type's schema (`errors` names fields)",
    "429": "over the system's rate limit (`Retry-After`), or too many unsigned deliveries",
    "503": "unavailable: this server cannot decrypt the system's signing secrets (its own "
    "configuration, not the sender's fault); retry after `Retry-After`",
}


def receiver_operation(envelopes: list[str]) -> dict:
    receipt = {"application/json": {"schema": {"$ref": "#/components/schemas/WebhookReceipt"}}}
    return {
        "operationId": "hooks_receive",
        "tags": ["hooks"],
        "summary": "Receive a signed event (Standard Webhooks)",
        "description": "docs/contract.md §1. Authenticated by the signature alone: no session, "
        "no token. The body is one of the event envelopes below.",
        "security": [],
        "parameters": [
            {
                "name": "system",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$"},
                "description": "slug of an active external system",
            },
            *(
                {"name": name, "in": "header", "required": True, "schema": {"type": "string"}}
                | {"description": text}
                for name, text in _HEADERS
            ),
        ],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "oneOf": [{"$ref": f"#/components/schemas/{name}"} for name in envelopes],
                        "discriminator": {
                            "propertyName": "type",
                            "mapping": {
                                event_type: f"#/components/schemas/{component_name(event_type)}"
                                for event_type in sorted(DATA_SCHEMAS)
                            },
                        },
                    }
                }
            },
        },
        "responses": {
            status: {"description": text, "content": receipt} for status, text in _ANSWERS.items()
        },
    }


def _nullable_as_31(node):
    """OpenAPI 3.0's ``nullable: true`` (DRF's pagination schema still says it) as 3.1 says it:
    ``"null"`` among the types, or one of the schema and null."""
    if isinstance(node, list):
        return [_nullable_as_31(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _nullable_as_31(value) for key, value in node.items()}
    if not node.pop("nullable", False):
        return node
    if isinstance(node.get("type"), str):
        return {**node, "type": [node["type"], "null"]}
    if isinstance(node.get("type"), list):
        return {**node, "type": [*node["type"], "null"]}
    return {"oneOf": [node, {"type": "null"}]}


def add_webhook_receiver(result, generator, request, public):
    """drf-spectacular postprocessing hook: the receiver, its envelopes and its receipt; the
    document's schemas in OpenAPI 3.1's words."""
    result = _nullable_as_31(result)
    envelopes = envelope_schemas()
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(envelopes)
    schemas["WebhookReceipt"] = RECEIPT
    result.setdefault("paths", {})[RECEIVER_PATH] = {"post": receiver_operation(list(envelopes))}
    result["paths"] = dict(sorted(result["paths"].items()))
    result["components"]["schemas"] = dict(sorted(schemas.items()))
    return result


# The database's own integer limits, which Django puts on integer fields as validators: they
# differ by vendor (SQLite 64-bit, PostgreSQL 32-bit), so the document would depend on where it
# was generated. They are storage limits, not part of the contract: left out.
_VENDOR_BOUNDS = {2147483647, 9223372036854775807, -2147483648, -9223372036854775808}


def drop_vendor_integer_bounds(result, generator, request, public):
    """POSTPROCESSING_HOOKS: the same document on every database (tests/test_openapi.py)."""

    def walk(node):
        if isinstance(node, dict):
            vendor = False
            for bound in ("maximum", "minimum"):
                if node.get(bound) in _VENDOR_BOUNDS and not isinstance(node.get(bound), bool):
                    del node[bound]
                    vendor = True
            if vendor and node.get("format") == "int64":
                del node["format"]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(result)
    return result
