"""Tryton's answers as the connector errors the outbox understands (integrations/connectors/base.py).

Tryton's JSON-RPC answers a call that carries an ``id`` with HTTP 200 and either ``result`` or
``error``; an ``error`` is ``[exception name, arguments]`` for Tryton's own exceptions and
``[text, traceback]`` for anything else the server raised. Transport failures come as HTTP
statuses (trytond/protocols/dispatcher.py, trytond/wsgi.py):

- ``UserError`` (bad data, access rights, constraints): ``["UserError", [message,
  description, domain]]`` -> TrytonUserError (permanent);
- ``UserWarning`` (to acknowledge first): ``["UserWarning", [key, message, description]]``
  -> TrytonUserWarning (permanent, with its ``key``);
- ``ConcurrencyException`` (the record changed meanwhile): ``["ConcurrencyException",
  message]`` -> TrytonConcurrencyError (retryable);
- database locked or unavailable (``DatabaseOperationalError``): 503 -> RetryableError;
  the call ran out of time in the server: 504 -> RetryableError; any other 5xx too;
- no, expired or revoked session: 401 -> the client logs in again once, then AuthError;
  a wrong password at login: 401 -> AuthError;
- too many login attempts: 429 (without Retry-After) -> RateLimited (5 s unless told);
- a method Tryton does not publish over RPC: 403; any other 4xx -> PermanentError;
- any other exception raised in the server: ``[text, traceback]`` -> TrytonServerError
  (permanent: the same call fails the same way);
- an answer that is not JSON-RPC, a connection refused or reset, a client timeout ->
  RetryableError.
"""

from integrations.connectors.base import (
    AuthError,
    PermanentError,
    RateLimited,
    RetryableError,
)

DEFAULT_RETRY_AFTER = 5.0

__all__ = [
    "DEFAULT_RETRY_AFTER",
    "AuthError",
    "PermanentError",
    "RateLimited",
    "RetryableError",
    "TrytonConcurrencyError",
    "TrytonServerError",
    "TrytonUserError",
    "TrytonUserWarning",
    "error_from_answer",
    "error_from_status",
]


class TrytonUserError(PermanentError):
    """Tryton refused the data (a ``UserError``): repeating the same call cannot succeed."""

    def __init__(self, message: str, description: str = "") -> None:
        self.tryton_message = message
        self.description = description
        super().__init__(
            " ".join(part for part in ("Tryton refused:", message, description) if part)
        )


class TrytonUserWarning(PermanentError):
    """Tryton asks to acknowledge a warning first (a ``UserWarning``).

    ``key`` is the warning's name: creating ``res.user.warning`` ``{"user": uid, "name": key,
    "always": False}`` acknowledges it once, and the same call then goes through.
    """

    def __init__(self, key: str, message: str, description: str = "") -> None:
        self.key = key
        self.tryton_message = message
        self.description = description
        text = " ".join(part for part in (message, description) if part)
        super().__init__(f"Tryton warns ({key}): {text}")


class TrytonConcurrencyError(RetryableError):
    """The record was changed by someone else meanwhile; reading it again and retrying works."""


class TrytonServerError(PermanentError):
    """An exception inside Tryton that is not one of its user-facing ones (a bug or a call
    Tryton cannot run, e.g. an unknown field): the same call fails the same way again."""


def error_from_answer(method: str, error) -> Exception:
    """The connector error for the ``error`` member of a JSON-RPC answer to ``method``."""
    if not isinstance(error, list | tuple) or not error:
        return RetryableError(f"malformed error from Tryton for {method}: {error!r}")
    name, args = error[0], error[1] if len(error) > 1 else None
    if name == "UserError":
        parts = _texts(args, 2)
        return TrytonUserError(parts[0], parts[1])
    if name == "UserWarning":
        parts = _texts(args, 3)
        return TrytonUserWarning(parts[0], parts[1], parts[2])
    if name == "ConcurrencyException":
        return TrytonConcurrencyError(f"Tryton concurrency on {method}: {args}")
    if name == "LoginException":
        parts = _texts(args, 2)
        return AuthError(f"Tryton asks for the login parameter {parts[0]!r}: {parts[1]}")
    if name in {"RateLimitException", "TimeOutException"}:
        return RetryableError(f"Tryton answered {name} for {method}")
    if isinstance(name, str):
        first_line = name.strip().splitlines()[0] if name.strip() else "no message"
        return TrytonServerError(f"Tryton failed on {method}: {first_line}")
    return RetryableError(f"malformed error from Tryton for {method}: {error!r}")


def _texts(args, count: int) -> list[str]:
    """``count`` strings from an exception's arguments (missing ones blank)."""
    values = list(args) if isinstance(args, list | tuple) else [args]
    values = ["" if value is None else str(value) for value in values[:count]]
    return values + [""] * (count - len(values))


def error_from_status(method: str, status: int, body: str, retry_after: str | None) -> Exception:
    """The connector error for an HTTP status other than 200 (401 is handled by the client)."""
    snippet = " ".join(body.split())[:200]
    detail = f": {snippet}" if snippet else ""
    if status == 429:
        return RateLimited(
            f"Tryton answered 429 Too Many Requests for {method}",
            retry_after=_retry_after(retry_after),
        )
    if status == 503:
        return RetryableError(
            f"Tryton answered 503 (database locked or unavailable) for {method}{detail}"
        )
    if status == 504:
        return RetryableError(
            f"Tryton answered 504 (the call timed out in the server) for {method}"
        )
    if status == 423:
        return TrytonConcurrencyError(f"Tryton answered 423 Locked for {method}{detail}")
    if status >= 500:
        return RetryableError(f"Tryton answered {status} for {method}{detail}")
    if status == 401:
        return AuthError(f"Tryton answered 401 Unauthorized for {method} after a fresh login")
    return PermanentError(f"Tryton answered {status} for {method}{detail}")


def _retry_after(header: str | None) -> float:
    try:
        value = float(header) if header else DEFAULT_RETRY_AFTER
    except ValueError:
        return DEFAULT_RETRY_AFTER
    return value if value >= 0 else DEFAULT_RETRY_AFTER
