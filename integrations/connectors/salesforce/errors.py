"""Salesforce's answers as the connector errors the outbox understands
(integrations/connectors/base.py). simple-salesforce raises one class per HTTP status
(``SalesforceMalformedRequest`` for every 400), so the class says little: the ``errorCode`` of
the JSON error list (``[{"message", "errorCode", "fields"}]``) decides.

- ``UNABLE_TO_LOCK_ROW``, 500 ``UNKNOWN_EXCEPTION``, 503, a timeout or a reset: RetryableError
  (retried with backoff);
- 403 ``REQUEST_LIMIT_EXCEEDED`` (the org's API quota): RateLimited(pause_system): every message
  to the org waits, the breaker paused for LIMIT_PAUSE_SECONDS;
- 401 ``INVALID_SESSION_ID``: the client mints a token and retries once, then AuthError (dead);
- validation and data errors (``FIELD_CUSTOM_VALIDATION_EXCEPTION``, ``REQUIRED_FIELD_MISSING``,
  ``INVALID_FIELD`` …), 404, 300: SalesforceRefused (permanent, with Salesforce's message and
  the fields it names: dead, an item for a person);
- ``INSUFFICIENT_ACCESS_OR_READONLY``, ``INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY``:
  AuthError (a permission to grant).
"""

from simple_salesforce.exceptions import SalesforceError

from integrations.connectors.base import (
    AuthError,
    PermanentError,
    RateLimited,
    RetryableError,
)

TRANSIENT = frozenset({"UNABLE_TO_LOCK_ROW", "UNKNOWN_EXCEPTION", "SERVER_UNAVAILABLE"})
PERMISSION = frozenset(
    {"INSUFFICIENT_ACCESS_OR_READONLY", "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY"}
)
# How long the org's queue waits when its daily API requests are spent: the quota is a
# rolling 24 hours, so minutes, not seconds (never a tight loop).
LIMIT_PAUSE_SECONDS = 15 * 60.0


class SalesforceRefused(PermanentError):
    """Salesforce refused the data: its code, message and the fields it names, kept for the
    person who fixes it (the dead letter's reason, the item's text)."""

    def __init__(self, code: str, message: str, fields: list[str]) -> None:
        self.code, self.sf_message, self.fields = code, message, fields
        named = f" (field {', '.join(fields)})" if fields else ""
        super().__init__(f"Salesforce refused it: {code}: {message}{named}")


def first_error(content: object) -> tuple[str, str, list[str]]:
    """(code, message, fields) of a Salesforce error body: a JSON list of errors (REST), one
    item's ``errors`` (Collections: ``statusCode``), or text (an HTML 503 page)."""
    if isinstance(content, list) and content and isinstance(content[0], dict):
        error = content[0]
        code = str(error.get("errorCode") or error.get("statusCode") or "")
        fields = [str(f) for f in error.get("fields") or []]
        return code, str(error.get("message") or ""), fields
    if isinstance(content, dict) and "error" in content:  # the OAuth token endpoint
        return str(content["error"]), str(content.get("error_description") or ""), []
    return "", str(content or "")[:300], []


def classify(status: int, content: object) -> Exception:
    """The connector error for an answer with HTTP ``status`` and body ``content``."""
    code, message, fields = first_error(content)
    if code in TRANSIENT or status in (500, 502, 503, 504):
        return RetryableError(f"Salesforce is busy or unwell ({status} {code}): {message}"[:500])
    if code == "REQUEST_LIMIT_EXCEEDED":
        return RateLimited(
            f"Salesforce API limit reached: {message} (paused for "
            f"{int(LIMIT_PAUSE_SECONDS // 60)} minutes)",
            retry_after=LIMIT_PAUSE_SECONDS,
            pause_system=True,
        )
    if code in PERMISSION:
        return AuthError(
            f"the integration user lacks a permission in Salesforce ({code}): {message}"
        )
    if status == 401:
        return AuthError(f"Salesforce refused the session ({code}): {message}")
    if status == 300:
        return SalesforceRefused(
            "MULTIPLE_MATCHES", "several records share this external id; make it Unique", []
        )
    return SalesforceRefused(code or f"HTTP {status}", message, fields)


def from_exception(exc: SalesforceError) -> Exception:
    return classify(exc.status, exc.content)
