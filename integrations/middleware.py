"""The trace id at the edges: per request (middleware) and on every log line (log filter).

Both only read and set the trace context of integrations/services/traces.py; the log filter is
loaded by Django's logging configuration, before the app registry is ready.
"""

import logging
import re

from integrations.services.traces import get_trace_id, new_trace_id, use_trace

# A client's X-Request-ID worth keeping: 1 to 200 printable ASCII characters (space inside
# allowed). Anything else (longer, control characters, non-ASCII) is ignored, not refused.
CLIENT_REQUEST_ID_MAX = 200
_CLIENT_REQUEST_ID = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?")


def client_request_id(header: str) -> str:
    """The client's ``X-Request-ID`` to keep, or ``""`` when it is not one we keep."""
    if len(header) > CLIENT_REQUEST_ID_MAX or not _CLIENT_REQUEST_ID.fullmatch(header):
        return ""
    return header


class TraceIdFilter(logging.Filter):
    """Stamps the current trace id on every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.trace_id = get_trace_id()
        return True


class TraceMiddleware:
    """A new trace id per request, always ours: a client cannot join its work to an existing
    trace. A well-formed ``X-Request-ID`` is kept as the client's correlation id, stamped on
    every step the request records (TraceStep.client_request_id) and echoed back.

    Answers carry ``X-Trace-ID``: the request's trace, unless the view set its own (the webhook
    receiver answers with the trace of the event it stored)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        client_id = client_request_id(request.META.get("HTTP_X_REQUEST_ID", ""))
        trace_id = new_trace_id()
        with use_trace(trace_id, client_request_id=client_id):
            response = self.get_response(request)
        response.setdefault("X-Trace-ID", trace_id)
        if client_id:
            response["X-Request-ID"] = client_id
        return response
