"""The error answers of every REST operation in the OpenAPI document (docs/openapi.yaml).

drf-spectacular documents each operation's success answer from its serializer or its
``@extend_schema(responses=...)``; the errors DRF and ``config.errors`` produce on the way are
the same everywhere, so this schema class (``DEFAULT_SCHEMA_CLASS``) adds them where they can
happen, from what the view declares, unless the view documents that status itself:

- 400: a request body (serializer errors, ``DomainError``) or a filter set (a bad filter value);
- 401: an authentication class (no credentials for a protected view, or a refused token,
  which answers 401 wherever it is presented);
- 403: a permission other than ``AllowAny`` (the role does not reach the operation);
- 404: a path parameter naming nothing the caller may see, or a page past the last of a list;
- 409: a write on one object whose state refuses it (a closed item, an invoice not approvable);
- 429: a throttle (docs/security.md "Throttles").

The body is DRF's ``{"detail": ...}`` or a ``DomainError``'s ``{"code", "message", "extra"}``
(the ``ApiErrorOutput`` component); a 400 may instead name each invalid field with its
messages, a field called ``code`` included, so its component (``ApiInvalidInput``) is any
object. The webhook receiver is a plain Django view documented by ``integrations.api.openapi``,
with answers of its own.
"""

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import serializers
from rest_framework.permissions import AllowAny


class ApiErrorOutputSerializer(serializers.Serializer):
    """An error answer: DRF's ``detail`` or a domain error's ``code``/``message``/``extra``."""

    detail = serializers.CharField(required=False, help_text="DRF's reason (401, 403, 404, 429)")
    code = serializers.CharField(required=False, help_text="a domain error's stable code")
    message = serializers.CharField(required=False, help_text="a domain error's message")
    extra = serializers.DictField(required=False, help_text="the ids needed to act on it")


ANSWERS = {
    "400": "invalid input: the fields' messages by name, or a domain error",
    "401": "no credentials, or a token refused (the reason in `detail` and WWW-Authenticate)",
    "403": "the caller's role does not reach this operation",
    "404": "nothing the caller may see at this path (or a page past the last)",
    "409": "the object's state refuses this action",
    "429": "over the throttle (`Retry-After` says when to try again)",
}
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
INVALID_INPUT = {
    "type": "object",
    "description": "each invalid field's messages under its name, DRF's `detail`, or a domain "
    "error's `code`, `message` and `extra`",
    "additionalProperties": True,
}


class ThroughlineAutoSchema(AutoSchema):
    def _error_codes(self) -> list[str]:
        view = self.view
        has_path_parameters = "{" in self.path
        codes = []
        if self.method in UNSAFE or getattr(view, "filterset_class", None) is not None:
            codes.append("400")
        if getattr(view, "authentication_classes", None):
            codes.append("401")
        if any(not isinstance(p, AllowAny) for p in view.get_permissions()):
            codes.append("403")
        paginated = self.method == "GET" and self._is_list_view() and self._get_paginator()
        if has_path_parameters or paginated:
            codes.append("404")
        if self.method in UNSAFE and has_path_parameters:
            codes.append("409")
        if getattr(view, "throttle_classes", None):
            codes.append("429")
        return codes

    def _get_response_bodies(self, direction: Any = "response") -> dict:
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code in self._error_codes():
            if code in responses:
                continue
            if code == "400":
                invalid = ResolvedComponent(
                    name="ApiInvalidInput",
                    type=ResolvedComponent.SCHEMA,
                    object="ApiInvalidInput",
                    schema=INVALID_INPUT,
                )
                self.registry.register_on_missing(invalid)
                content = {"application/json": {"schema": invalid.ref}}
                responses[code] = {"content": content, "description": ANSWERS[code]}
            else:
                error = self._get_response_for_code(ApiErrorOutputSerializer, code)
                responses[code] = {**error, "description": ANSWERS[code]}
        return responses
