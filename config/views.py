import time

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.shortcuts import render

from config.registry import panels
from config.roles import has_role


def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up (no dependencies checked)."""
    return JsonResponse({"status": "ok"})


def _check(fn) -> dict:
    started = time.monotonic()
    try:
        detail = fn()
    except Exception as exc:  # noqa: BLE001 boundary: a readiness check reports, never raises
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"ok": True, "ms": round((time.monotonic() - started) * 1000, 1), **(detail or {})}


def _database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {"vendor": connection.vendor}


def _broker() -> dict:
    from config.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
        return {
            "transport": conn.transport_cls if isinstance(conn.transport_cls, str) else "custom"
        }


def _workers() -> dict:
    from config.celery import app

    replies = app.control.ping(timeout=1.0)
    if not replies:
        raise RuntimeError("no worker answered a ping within 1 s")
    return {"workers": sorted(name for reply in replies for name in reply)}


def readyz(request: HttpRequest) -> JsonResponse:
    """Database, broker and (when configured) a worker answering a ping; 503 if any fails."""
    checks = {"database": _check(_database), "broker": _check(_broker)}
    if settings.READYZ_PING_WORKERS:
        checks["workers"] = _check(_workers)
    ready = all(check["ok"] for check in checks.values())
    return JsonResponse(
        {"status": "ready" if ready else "not_ready", "checks": checks},
        status=200 if ready else 503,
    )


@login_required
def home(request: HttpRequest):
    """The home dashboard: panels registered by the apps, the ones this user may see."""
    shown = []
    for panel in sorted(
        (p for p in panels.values() if p.dashboard == "home"), key=lambda p: p.order
    ):
        if panel.roles and not has_role(request.user, *panel.roles):
            continue
        shown.append({"panel": panel, "data": panel.compute(user=request.user)})
    return render(request, "home.html", {"panels": shown})
