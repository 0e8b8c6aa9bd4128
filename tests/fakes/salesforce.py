"""A fake Salesforce org for the tests: a WSGI application served in-process through a
``requests`` transport adapter (no sockets, no network).

    fake = FakeSalesforce()
    sf = Salesforce(instance_url=fake.instance_url, session_id=fake.issue_token(),
                    version=fake.api_version, session=fake.session())

What it answers (in the shapes the Salesforce docs give):

- the OAuth 2.0 JWT bearer token endpoint on ``login.salesforce.com``, ``test.salesforce.com``
  and the instance host (``salesforce_auth``);
- the REST API under ``/services/data/v<api_version>/`` — upsert by external id, update, read
  and delete by id, create, platform events, sObject Collections upsert, a little SOQL, limits
  (``salesforce_rest``, ``salesforce_soql``); every answer there carries
  ``Sforce-Limit-Info: api-usage=<used>/<limit>``, each call that gets through counts, and
  a call once the limit is reached is refused (403 REQUEST_LIMIT_EXCEEDED);
- the Streaming API's CometD endpoint ``/cometd/<api_version>/`` with replay
  (``salesforce_cometd``).

Faults are injected per path (``fail_next`` and its presets). They strike before anything else,
but a broad glob such as ``"*"`` leaves the token endpoint alone: only a glob naming it
(``"*oauth2*"``) reaches it, so a fault meant for the API is not spent on a token request.
"""

import fnmatch
import json
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.structures import CaseInsensitiveDict

from tests.fakes import salesforce_rest
from tests.fakes.salesforce_auth import TOKEN_PATH, new_access_token, new_key_pair, token_answer
from tests.fakes.salesforce_cometd import Bus, cometd_answer
from tests.fakes.salesforce_store import Store, make_id
from tests.fakes.salesforce_wsgi import (
    JSON_TYPE,
    Answer,
    Call,
    WSGIAdapter,
    error_list,
    json_answer,
    not_found,
    serve,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "salesforce"
LOGIN_HOSTS = ("login.salesforce.com", "test.salesforce.com")
RELEASES = {
    "58.0": "Summer '23",
    "59.0": "Winter '24",
    "60.0": "Spring '24",
    "61.0": "Summer '24",
    "62.0": "Winter '25",
    "63.0": "Spring '25",
}
REST_PATH = re.compile(r"^/services/data/v(?P<version>\d+\.\d+)(?:/(?P<rest>.*))?$")
COMETD_PATH = re.compile(r"^/cometd/(?P<version>\d+\.\d+)/?$")
UNAVAILABLE_PAGE = (
    "<!DOCTYPE html><html><head><title>Service Unavailable</title></head><body>"
    "<h1>Service Unavailable</h1><p>The server is temporarily unable to service your request. "
    "Please try again later.</p></body></html>"
)


@dataclass
class Recorded:
    """One request the fake answered."""

    method: str
    host: str
    path: str
    query: dict[str, str]
    headers: CaseInsensitiveDict
    json: Any
    body: bytes
    status: int

    @classmethod
    def of(cls, call: Call, status: int) -> "Recorded":
        try:
            body_json = call.json()
        except ValueError:
            body_json = None
        return cls(
            method=call.method,
            host=call.host,
            path=call.path,
            query=call.query,
            headers=call.headers,
            json=body_json,
            body=call.body,
            status=status,
        )


@dataclass
class Fault:
    glob: str
    method: str | None
    answer: Answer
    remaining: int

    def matches(self, call: Call) -> bool:
        if self.method is not None and self.method.upper() != call.method:
            return False
        if call.path.rstrip("/") == TOKEN_PATH and "oauth2" not in self.glob:
            return False
        return fnmatch.fnmatchcase(call.path, self.glob)


class FakeSalesforce:
    """One org: its keys and tokens, records, event bus, recorded requests and faults."""

    consumer_key: str = "3MVG9FAKECONSUMERKEY"
    username: str = "integration@firm.example"

    def __init__(
        self,
        *,
        org_id: str = "00D5g000000TEST1EAA",
        instance_url: str = "https://sf.test",
        api_version: str = "62.0",
        api_limit: int = 5000,
    ) -> None:
        self.org_id = org_id
        self.instance_url = instance_url.rstrip("/")
        self.instance_host = (urlsplit(self.instance_url).hostname or "").lower()
        self.api_version = api_version
        self.api_limit = api_limit
        self.api_used = 0
        self.user_id = make_id("005", 1)
        self.private_key_pem, self.public_key = new_key_pair()
        self.tokens_minted = 0
        self.store = Store()
        self.bus = Bus()
        self.requests: list[Recorded] = []
        self.published_events: list[tuple[str, dict]] = []
        self.item_failures: dict[str, tuple[str, str, list[str]]] = {}
        self._tokens: set[str] = set()
        self._faults: list[Fault] = []
        self._lock = threading.RLock()

    # -- wiring ------------------------------------------------------------------------------

    def session(self) -> requests.Session:
        """A Session whose every ``https://`` URL is answered by this org (and that reads no
        proxy or netrc settings from the environment)."""
        session = requests.Session()
        session.trust_env = False
        session.mount("https://", WSGIAdapter(self))
        return session

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        call = Call.from_environ(environ)
        with self._lock:
            answer = self._answer(call)
            self.requests.append(Recorded.of(call, answer.status))
        return serve(answer, start_response)

    def _answer(self, call: Call) -> Answer:
        is_token = call.path.rstrip("/") == TOKEN_PATH
        if call.host in LOGIN_HOSTS:
            if not is_token:
                return not_found()
        elif call.host != self.instance_host:
            return not_found(f"Unknown host {call.host}")
        fault = next((fault for fault in self._faults if fault.matches(call)), None)
        if fault is not None:
            return self._strike(fault, call)
        if is_token:
            return token_answer(self, call)
        return self._instance(call)

    def _strike(self, fault: Fault, call: Call) -> Answer:
        fault.remaining -= 1
        if fault.remaining <= 0:
            self._faults.remove(fault)
        answer = Answer(fault.answer.status, fault.answer.body, dict(fault.answer.headers))
        if REST_PATH.match(call.path) and answer.is_json:
            self.api_used += 1
            answer.headers.update(self._usage())
        return answer

    def _usage(self) -> dict[str, str]:
        return {"Sforce-Limit-Info": f"api-usage={self.api_used}/{self.api_limit}"}

    def _instance(self, call: Call) -> Answer:
        if call.path.rstrip("/") == "/services/data":
            return self._versions(call)
        rest, cometd = REST_PATH.match(call.path), COMETD_PATH.match(call.path)
        if rest is None and cometd is None:
            return not_found()
        if call.bearer() not in self._tokens:
            answer = error_list(401, "INVALID_SESSION_ID", "Session expired or invalid")
        elif cometd is not None:
            if cometd["version"] != self.api_version:
                return not_found()
            return cometd_answer(self.bus, call)
        elif self.api_used >= self.api_limit:
            answer = error_list(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        else:
            self.api_used += 1
            if rest["version"] != self.api_version:
                answer = not_found()
            else:
                answer = salesforce_rest.route(self, call, (rest["rest"] or "").split("/"))
        if rest is not None:
            answer.headers.update(self._usage())
        return answer

    def _versions(self, call: Call) -> Answer:
        if call.method != "GET":
            return error_list(405, "METHOD_NOT_ALLOWED", "HTTP Method not allowed. Allowed are GET")
        releases = {**RELEASES, self.api_version: RELEASES.get(self.api_version, self.api_version)}
        shown = sorted((v for v in releases if float(v) <= float(self.api_version)), key=float)
        return json_answer(
            200,
            [{"label": releases[v], "url": f"/services/data/v{v}", "version": v} for v in shown],
        )

    # -- tokens ------------------------------------------------------------------------------

    def issue_token(self) -> str:
        """A valid access token without the JWT round trip (not counted in tokens_minted)."""
        token = new_access_token(self.org_id)
        self._tokens.add(token)
        return token

    def expire_tokens(self) -> None:
        """Every token issued so far is invalid from now on (401 INVALID_SESSION_ID)."""
        self._tokens.clear()

    # -- records -----------------------------------------------------------------------------

    def records(self, sobject: str) -> dict[str, dict]:
        """The live records of one object: Salesforce Id -> fields (the store itself)."""
        return self.store.table(sobject)

    def put_record(self, sobject: str, fields: dict) -> str:
        """Seed a record; an ``Id``, ``LastModifiedDate`` or ``SystemModstamp`` given is kept,
        lookups such as ``{"Account": {"Throughline_Id__c": "TL-1"}}`` are resolved."""
        fields = dict(fields)
        given_id = fields.pop("Id", None)
        stamps = {k: fields.pop(k) for k in ("LastModifiedDate", "SystemModstamp") if k in fields}
        with self._lock:
            record_id, _ = self.store.write(sobject, self.store.resolve(fields), given_id)
            if stamps:
                stamp = stamps.get("SystemModstamp", stamps.get("LastModifiedDate"))
                stamps = {"LastModifiedDate": stamp, "SystemModstamp": stamp, **stamps}
                self.store.table(sobject)[record_id].update(stamps)
        return record_id

    def delete_record(self, sobject: str, record_id: str) -> None:
        """Delete a record: reads of it answer 404 ENTITY_IS_DELETED from now on."""
        with self._lock:
            self.store.delete(sobject, record_id)

    def calls(self, path_glob: str = "*", method: str | None = None) -> list[Recorded]:
        """The recorded requests whose path matches ``path_glob`` (and method, if given)."""
        return [
            r
            for r in self.requests
            if fnmatch.fnmatchcase(r.path, path_glob) and method in (None, r.method)
        ]

    # -- faults ------------------------------------------------------------------------------

    def fail_next(
        self,
        path_glob: str,
        *,
        status: int,
        errors: list[dict] | None = None,
        body: str | bytes | None = None,
        times: int = 1,
        method: str | None = None,
        content_type: str = "application/json",
    ) -> None:
        """Answer the next ``times`` requests whose path matches the glob (and method) with
        ``status`` and the JSON error array ``errors``, or the raw ``body``."""
        if body is None:
            errors = (
                errors
                if errors is not None
                else [
                    {"message": "An unexpected error occurred.", "errorCode": "UNKNOWN_EXCEPTION"}
                ]
            )
            body = json.dumps(errors)
        raw = body.encode("utf-8") if isinstance(body, str) else body
        if content_type == "application/json":
            content_type = JSON_TYPE
        answer = Answer(status, raw, {"Content-Type": content_type})
        with self._lock:
            self._faults.append(Fault(path_glob, method, answer, times))

    def _error(
        self, path_glob: str, status: int, code: str, message: str, fields: list, times: int
    ):
        errors = [{"message": message, "errorCode": code, "fields": fields}]
        self.fail_next(path_glob, status=status, errors=errors, times=times)

    def lock_row(self, path_glob: str = "*", times: int = 2) -> None:
        message = "unable to obtain exclusive access to this record"
        self._error(path_glob, 400, "UNABLE_TO_LOCK_ROW", message, [], times)

    def validation(
        self,
        path_glob: str = "*",
        field: str = "Status__c",
        message: str = "Status cannot move back",
        times: int = 1,
    ) -> None:
        self._error(path_glob, 400, "FIELD_CUSTOM_VALIDATION_EXCEPTION", message, [field], times)

    def duplicate(self, path_glob: str = "*", times: int = 1) -> None:
        message = "duplicate value found: Throughline_Id__c duplicates value on record with id: "
        self._error(path_glob, 400, "DUPLICATE_VALUE", message + make_id("001", 9999), [], times)

    def exhaust_limit(self, times: int = 1) -> None:
        errors = [
            {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
        ]
        self.fail_next("/services/data/v*", status=403, errors=errors, times=times)

    def unavailable(self, path_glob: str = "*", times: int = 1) -> None:
        """503 with an HTML page, as a proxy in front of the org answers: never JSON."""
        self.fail_next(
            path_glob,
            status=503,
            body=UNAVAILABLE_PAGE,
            times=times,
            content_type="text/html;charset=UTF-8",
        )

    def item_failure(
        self,
        external_id_value: str,
        status_code: str = "FIELD_CUSTOM_VALIDATION_EXCEPTION",
        message: str = "Status cannot move back",
        fields: Iterable[str] = ("Status__c",),
    ) -> None:
        """In the next Collections upsert, the item with this external id fails (inside a 200)."""
        with self._lock:
            self.item_failures[str(external_id_value)] = (status_code, message, list(fields))

    # -- change events -----------------------------------------------------------------------

    def publish_change(self, channel: str, payload: dict, schema: str | None = None) -> int:
        """Append a change event to ``channel``; returns its (opaque, increasing) replay id."""
        with self._lock:
            return self.bus.publish(channel, payload, schema or "")

    def forget_events_before(self, channel: str, replay_id: int) -> None:
        """Retention: events before ``replay_id`` are gone; replaying from one is refused."""
        with self._lock:
            self.bus.forget_before(channel, replay_id)

    def publish_fixture(self, name: str) -> int:
        """Publish a CometD-form fixture of tests/fixtures/salesforce on its channel."""
        message = json.loads((FIXTURES / name).read_text())
        data = message["data"]
        return self.publish_change(message["channel"], data["payload"], data.get("schema"))
