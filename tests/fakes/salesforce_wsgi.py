"""The plumbing under the fake Salesforce: a parsed request (``Call``), an answer (``Answer``)
and a ``requests`` transport adapter that hands every request to a WSGI application in-process.

No framework: the fake needs little more than the method, the path, the query, the headers and
the body, and plain WSGI keeps the adapter honest (anything WSGI can serve, it can call).
"""

import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, unquote_to_bytes, urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers

JSON_TYPE = "application/json;charset=UTF-8"

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]


@dataclass
class Call:
    """One request as the fake sees it."""

    method: str
    host: str
    path: str
    query: dict[str, str]
    headers: CaseInsensitiveDict
    body: bytes

    @classmethod
    def from_environ(cls, environ: dict) -> "Call":
        headers = CaseInsensitiveDict()
        for key, value in environ.items():
            if key.startswith("HTTP_"):
                headers[key[5:].replace("_", "-").title()] = value
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        host = (environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")).split(":")[0]
        path = environ.get("PATH_INFO", "/").encode("latin-1").decode("utf-8", "replace")
        query = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
        return cls(environ["REQUEST_METHOD"].upper(), host.lower(), path, query, headers, body)

    def json(self) -> Any:
        """The body as JSON, or None when there is no body; ValueError when it is not JSON."""
        if not self.body.strip():
            return None
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))

    def bearer(self) -> str | None:
        """The access token of an ``Authorization: Bearer …`` (or ``OAuth …``) header."""
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        if scheme.lower() in ("bearer", "oauth") and token.strip():
            return token.strip()
        return None


@dataclass
class Answer:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def is_json(self) -> bool:
        return self.headers.get("Content-Type", "").startswith("application/json")


def json_answer(status: int, payload: Any, headers: dict[str, str] | None = None) -> Answer:
    return Answer(
        status, json.dumps(payload).encode(), {"Content-Type": JSON_TYPE, **(headers or {})}
    )


def error_list(status: int, code: str, message: str, fields: list[str] | None = None) -> Answer:
    """The REST API's error body: a JSON array of ``{"message", "errorCode", "fields"}``."""
    item: dict[str, Any] = {"message": message, "errorCode": code}
    if fields is not None:
        item["fields"] = fields
    return json_answer(status, [item])


def not_found(message: str = "The requested resource does not exist") -> Answer:
    return error_list(404, "NOT_FOUND", message)


def serve(answer: Answer, start_response: Callable) -> list[bytes]:
    phrase = HTTPStatus(answer.status).phrase
    headers = {**answer.headers, "Content-Length": str(len(answer.body))}
    start_response(f"{answer.status} {phrase}", list(headers.items()))
    return [answer.body]


def _body_bytes(request: requests.PreparedRequest) -> bytes:
    body = request.body
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, bytes):
        return body
    if hasattr(body, "read"):
        return body.read()
    return b"".join(chunk if isinstance(chunk, bytes) else chunk.encode() for chunk in body)


def environ_for(request: requests.PreparedRequest) -> dict:
    """The WSGI environ (PEP 3333) of a prepared ``requests`` request."""
    url = urlsplit(request.url)
    body = _body_bytes(request)
    environ = {
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote_to_bytes(url.path or "/").decode("latin-1"),
        "QUERY_STRING": url.query,
        "SERVER_NAME": url.hostname or "",
        "SERVER_PORT": str(url.port or (443 if url.scheme == "https" else 80)),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": url.netloc,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": url.scheme,
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, value in request.headers.items():
        key = name.upper().replace("-", "_")
        if key == "CONTENT_TYPE":
            environ["CONTENT_TYPE"] = value
        elif key not in ("CONTENT_LENGTH", "HOST"):
            environ[f"HTTP_{key}"] = value
    return environ


class WSGIAdapter(BaseAdapter):
    """A ``requests`` transport that answers from a WSGI application instead of a socket."""

    def __init__(self, app: WSGIApp) -> None:
        super().__init__()
        self.app = app

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        captured: dict[str, Any] = {}

        def start_response(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers

        chunks = self.app(environ_for(request), start_response)
        try:
            content = b"".join(chunks)
        finally:
            if hasattr(chunks, "close"):
                chunks.close()
        response = requests.Response()
        code, _, reason = captured["status"].partition(" ")
        response.status_code = int(code)
        response.reason = reason
        response.headers = CaseInsensitiveDict(dict(captured["headers"]))
        response._content = content
        response.raw = io.BytesIO(content)
        response.url = request.url
        response.request = request
        response.encoding = get_encoding_from_headers(response.headers)
        response.connection = self
        return response

    def close(self) -> None:
        pass
