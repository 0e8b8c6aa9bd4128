"""The demo traffic switch of the operations dashboard (billing/panels/demo_traffic.py)."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from billing.demo import traffic
from config.policy import require


@login_required
@require_POST
def demo_traffic_switch(request: HttpRequest) -> HttpResponse:
    """POST ``action=start|stop``: turn the simulator on (every 10 s) or off; admins and
    operations only (403 for anyone else); 404 in production, where it does not exist."""
    if settings.PRODUCTION:
        raise Http404("no demo traffic in production")
    require(request, "operations", "demo_traffic")
    action = request.POST.get("action")
    if action == "start":
        traffic.start()
        messages.success(request, "Demo traffic is on: the first deliveries arrive within 10 s.")
    elif action == "stop":
        traffic.stop()
        messages.success(request, "Demo traffic is off; any sandbox fault it set is switched off.")
    else:
        return HttpResponseBadRequest("action must be start or stop")
    return redirect("dashboard", name="operations")
