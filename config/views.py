import time

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import Http404, HttpRequest, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from redis.exceptions import ConnectionError as RedisConnectionError

from config.exports import export_query, export_response, requested_format
from config.registry import Panel, dashboard_filters, panels
from config.roles import has_role, user_roles


def favicon(request: HttpRequest):
    """Browsers ask for /favicon.ico: the site's icon, wherever the static files are."""
    from django.templatetags.static import static

    return redirect(static("throughline/favicon.svg"), permanent=True)


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

    try:
        replies = app.control.ping(timeout=1.0)
    except (OSError, RedisConnectionError):
        # A connection pooled before the broker restarted is broken; the pool drops it, so
        # one more try tells whether the broker and a worker are really there.
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


# Dashboards served at /dashboards/<name>/ ("home" is the home page), in tab order.
DASHBOARD_TITLES = {"finance": "Finance", "pmo": "PMO", "operations": "Operations"}


def panel_visible(panel: Panel, user) -> bool:
    return not panel.roles or has_role(user, *panel.roles)


def panel_params(panel: Panel, query) -> dict:
    """The query parameters a panel declares (``extra["params"]``, e.g. ``weeks``), as given:
    the panel's selector validates them."""
    return {key: query[key] for key in panel.extra.get("params", ()) if key in query}


def dashboard_tabs(user, current: str) -> list[dict]:
    """The dashboards with at least one panel this user may see (no queries: roles are cached)."""
    names = {
        p.dashboard for p in panels.values() if p.dashboard != "home" and panel_visible(p, user)
    }
    ordered = [n for n in DASHBOARD_TITLES if n in names] + sorted(names - set(DASHBOARD_TITLES))
    return [
        {
            "name": name,
            "title": DASHBOARD_TITLES.get(name, name.title()),
            "url": reverse("dashboard", args=[name]),
            "active": name == current,
        }
        for name in ordered
    ]


@login_required
def dashboards(request: HttpRequest):
    """``/dashboards/``: the first dashboard this user may see (the page's tabs lead to the rest)."""
    tabs = dashboard_tabs(request.user, "")
    if not tabs:
        raise PermissionDenied("you see no dashboard")
    # A person lands on the dashboard of their own role (finance, pmo, operations) when they
    # hold one; an admin or an integration engineer on the first they may see.
    mine = user_roles(request.user)
    for tab in tabs:
        if tab["name"] in mine:
            return redirect(tab["url"])
    return redirect(tabs[0]["url"])


def _panel_view(panel: Panel, request: HttpRequest) -> tuple[dict, dict | None]:
    data = panel.compute(user=request.user, **panel_params(panel, request.GET))
    present = panel.extra.get("present")
    return data, present(data) if present else None


def panel_export(request: HttpRequest, name: str, fmt: str, visible: list[Panel]):
    """``?panel=<key>&format=csv|xlsx``: the rows a panel's table shows, as a file (404 when
    the dashboard shows the viewer no such panel or the panel draws no table)."""
    key = request.GET.get("panel", "")
    panel = next((p for p in visible if p.key == key and "table" in p.extra), None)
    if panel is None:
        raise Http404(f"no table {key!r} on the {name} dashboard")
    data, view = _panel_view(panel, request)
    table = panel.extra["table"]
    return export_response(
        fmt,
        name=f"{name}-{key.replace(':', '-')}",
        title=panel.title,
        columns=table.columns,
        rows=table.rows(data, view),
    )


def _filters(name: str, query) -> dict | None:
    """The dashboard's filter form (``config.registry.dashboard_filters``), if it has one."""
    found = dashboard_filters.get(name)
    if found is None:
        return None
    fields = found.fields(query)
    return {
        "fields": fields,
        "active": any(field["value"] for field in fields),
        "keep": {k: query[k] for k in ("weeks",) if k in query},
    }


@login_required
def dashboard(request: HttpRequest, name: str):
    """A dashboard: the panels registered for ``name`` that this user may see, in order.

    404 when no app registers a panel for ``name``; 403 when the user may see none of them.
    """
    registered = [p for p in panels.values() if p.dashboard == name]
    if name == "home" or not registered:
        raise Http404(f"no dashboard {name!r}")
    visible = sorted(
        (p for p in registered if panel_visible(p, request.user)), key=lambda p: p.order
    )
    if not visible:
        raise PermissionDenied(f"you see no panel of the {name} dashboard")
    if fmt := requested_format(request):
        return panel_export(request, name, fmt, visible)
    shown = []
    for panel in visible:
        data, view = _panel_view(panel, request)
        shown.append(
            {
                "panel": panel,
                "data": data,
                "view": view,
                "wide": panel.extra.get("wide", False),
                "columns": panel.extra.get("columns", 1),
                "export_query": export_query(request.GET, panel=panel.key)
                if "table" in panel.extra
                else "",
            }
        )
    return render(
        request,
        "dashboard.html",
        {
            "name": name,
            "title": DASHBOARD_TITLES.get(name, name.title()),
            "tabs": dashboard_tabs(request.user, name),
            "panels": shown,
            "filters": _filters(name, request.GET),
        },
    )
