"""The trace id at the edges: per request (middleware) and on every log line (log filter).

Both only read and set the trace context of integrations/services/traces.py; the log filter is
loaded by Django's logging configuration, before the app registry is ready.
"""

import logging
import re

from integrations.services.traces import get_trace_id, new_trace_id, use_trace

_VALID = re.compile(r"^[0-9a-fA-F-]{8,36}$")


class TraceIdFilter(logging.Filter):
    """Stamps the current trace id on every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.trace_id = get_trace_id()
        return True


class TraceMiddleware:
    """Takes ``X-Request-ID`` (when it looks like an id) or makes a new trace id per request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        header = request.headers.get("X-Request-ID", "")
        trace_id = header.replace("-", "").lower() if _VALID.match(header) else new_trace_id()
        with use_trace(trace_id):
            response = self.get_response(request)
            response["X-Trace-ID"] = get_trace_id() or trace_id
        return response
