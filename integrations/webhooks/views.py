from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from integrations.services.inbox import receive_webhook


@csrf_exempt
@require_POST
def receive_webhook_view(request: HttpRequest, system: str) -> JsonResponse:
    """``POST /api/v1/hooks/<system>/``: the answers of CONTRACT.md §1. Authenticated by its
    signature alone (no session, no token)."""
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    # Read at most one byte past the limit: a missing or understated Content-Length cannot
    # make us buffer an unbounded body.
    body = request.read(limit + 1) if declared <= limit else b"x" * (limit + 1)
    receipt = receive_webhook(
        slug=system,
        headers=dict(request.headers),
        body=body,
        remote_addr=request.META.get("REMOTE_ADDR"),
    )
    response = JsonResponse(receipt.body, status=receipt.status_code)
    for name, value in receipt.headers.items():
        response[name] = value
    if receipt.body.get("trace_id"):
        response["X-Trace-ID"] = receipt.body["trace_id"]
    return response
