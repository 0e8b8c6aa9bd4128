from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from integrations.services.inbox import KEPT_HEADERS, receive_webhook

# The headers receive_webhook reads or keeps on a rejected delivery, by their WSGI names:
# request.headers would parse every header of the request first (`make bench`).
_META_NAMES = {
    name: name.upper().replace("-", "_")
    if name in ("content-type", "content-length")
    else "HTTP_" + name.upper().replace("-", "_")
    for name in (*KEPT_HEADERS, "webhook-signature")
}


@csrf_exempt
@require_POST
def receive_webhook_view(request: HttpRequest, system: str) -> JsonResponse:
    """``POST /api/v1/hooks/<system>/``: the answers of docs/contract.md §1. Authenticated by its
    signature alone (no session, no token)."""
    limit, meta = settings.WEBHOOK_MAX_BODY_BYTES, request.META
    try:
        declared = int(meta.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    # Read at most one byte past the limit: a missing or understated Content-Length cannot
    # make us buffer an unbounded body.
    body = request.read(limit + 1) if declared <= limit else b"x" * (limit + 1)
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
