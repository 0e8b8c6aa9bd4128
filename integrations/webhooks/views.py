from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from integrations.services.inbox import KEPT_HEADERS, receive_webhook
from integrations.services.inbox.outbound_messages import receive_outbound_message

# The headers receive_webhook reads or keeps on a rejected delivery, by their WSGI names:
# request.headers would parse every header of the request first (`make bench`).
_META_NAMES = {
    name: name.upper().replace("-", "_")
    if name in ("content-type", "content-length")
    else "HTTP_" + name.upper().replace("-", "_")
    for name in (*KEPT_HEADERS, "webhook-signature")
}
_OM_META_NAMES = {
    "content-type": "CONTENT_TYPE",
    "content-length": "CONTENT_LENGTH",
    "soapaction": "HTTP_SOAPACTION",
    "user-agent": "HTTP_USER_AGENT",
}


def _read_body(meta: dict, request: HttpRequest, limit: int) -> bytes:
    """The body, at most one byte past ``limit``: a missing or understated Content-Length
    cannot make us buffer an unbounded body, and an overstated one is not read at all."""
    try:
        declared = int(meta.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return b"x" * (limit + 1)
    if (
        not meta.get("CONTENT_LENGTH")
        and "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower()
        and meta.get("wsgi.input_terminated")
    ):
        # Chunked, no Content-Length: Django's stream (bounded by a length of 0) reads nothing;
        # the server's own input is decoded and ends at the last chunk (gunicorn sets
        # wsgi.input_terminated for exactly this).
        stream, parts, size = meta["wsgi.input"], [], 0
        while size <= limit:
            part = stream.read(min(65536, limit + 1 - size))
            if not part:
                break
            parts.append(part)
            size += len(part)
        return b"".join(parts)
    return request.read(limit + 1)


@csrf_exempt
@require_POST
def receive_webhook_view(request: HttpRequest, system: str) -> JsonResponse:
    """``POST /api/v1/hooks/<system>/``: the answers of docs/contract.md §1. Authenticated by its
    signature alone (no session, no token)."""
    meta = request.META
    body = _read_body(meta, request, settings.WEBHOOK_MAX_BODY_BYTES)
    receipt = receive_webhook(
        slug=system,
        headers={name: meta[key] for name, key in _META_NAMES.items() if key in meta},
        body=body,
        remote_addr=meta.get("REMOTE_ADDR"),
    )
    response = JsonResponse(receipt.body, status=receipt.status_code)
    for name, value in receipt.headers.items():
        response[name] = value
    if receipt.body.get("trace_id"):
        response["X-Trace-ID"] = receipt.body["trace_id"]
    return response


@csrf_exempt
@require_POST
def receive_outbound_message_view(request: HttpRequest, system: str) -> HttpResponse:
    """``POST /api/v1/hooks/salesforce/<system>/outbound-message/``: a Salesforce Outbound
    Message (SOAP), answered with the Ack Salesforce waits for or a SOAP fault
    (integrations/services/inbox/outbound_messages.py)."""
    meta = request.META
    body = _read_body(meta, request, settings.WEBHOOK_MAX_BODY_BYTES)
    receipt = receive_outbound_message(
        slug=system,
        headers={name: meta[key] for name, key in _OM_META_NAMES.items() if key in meta},
        body=body,
        remote_addr=meta.get("REMOTE_ADDR"),
    )
    response = HttpResponse(receipt.body.encode(), status=receipt.status_code)
    for name, value in receipt.headers.items():
        response[name] = value
    return response
