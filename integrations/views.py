from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from integrations import selectors


@login_required
def trace_detail(request: HttpRequest, trace_id: str) -> HttpResponse:
    """One trace as a timeline: event in, records written, calls out, exceptions raised."""
    steps = list(selectors.list_trace_steps(trace_id=trace_id))
    if not steps:
        raise Http404("no such trace")
    started = steps[0].at
    rows = [
        {"step": step, "offset_ms": int((step.at - started).total_seconds() * 1000)}
        for step in steps
    ]
    return render(request, "integrations/trace_detail.html", {"trace_id": trace_id, "rows": rows})
