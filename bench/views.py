"""The bare baseline of webhook ingestion (docs/baselines.md row 2): a plain Django view
doing the same Standard Webhooks HMAC-SHA256 check and one ``INSERT … ON CONFLICT DO NOTHING``,
then 202. No system lookup, no rate limit, no trace, no task: the floor Throughline is held to."""

import base64
import hashlib
import hmac
import os
import time

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

_SECRET = base64.b64decode(
    os.environ.get("BENCH_BARE_SECRET", "whsec_").removeprefix("whsec_") + "=="
)


@csrf_exempt
@require_POST
def bare_hook(request: HttpRequest) -> JsonResponse:
    body = request.body
    webhook_id = request.headers.get("webhook-id", "")
    timestamp = request.headers.get("webhook-timestamp", "")
    offered = request.headers.get("webhook-signature", "")
    try:
        if abs(time.time() - int(timestamp)) > 300:
            return JsonResponse({"status": "rejected", "reason": "timestamp"}, status=401)
    except ValueError:
        return JsonResponse({"status": "rejected", "reason": "timestamp"}, status=401)
    expected = base64.b64encode(
        hmac.new(_SECRET, f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    ).decode()
    if not any(hmac.compare_digest(expected, item.partition(",")[2]) for item in offered.split()):
        return JsonResponse({"status": "rejected", "reason": "signature"}, status=401)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO bench_bare_inbox (webhook_id, payload) VALUES (%s, %s::jsonb) "
            "ON CONFLICT (webhook_id) DO NOTHING",
            [webhook_id, body.decode()],
        )
    return JsonResponse({"id": webhook_id, "status": "accepted"}, status=202)
