"""Typed domain errors and the API's error rendering (bottom layer: every app subclasses these)."""

from typing import Any

from rest_framework.response import Response
from rest_framework.views import exception_handler


class DomainError(Exception):
    """A rule was broken; carries a stable code, an HTTP status and the ids needed to act."""

    code = "domain_error"
    http_status = 400

    def __init__(self, message: str = "", **extra: Any) -> None:
        super().__init__(message or self.code)
        self.message = message or self.code
        self.extra = extra


class NotAllowed(DomainError):
    code, http_status = "not_allowed", 403


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    """Render DomainError as {"code", "message", "extra"}; DRF errors keep DRF's shape plus a code."""
    if isinstance(exc, DomainError):
        return Response(
            {"code": exc.code, "message": exc.message, "extra": exc.extra}, status=exc.http_status
        )
    return exception_handler(exc, context)
