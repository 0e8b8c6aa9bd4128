"""A JSON-RPC client for Tryton (trytond 8.2): one logged-in session per client object.

Calls go to ``POST <base_url>/<database>/rpc/`` with ``{"id", "method", "params"}``. The client
logs in lazily with ``common.db.login`` and sends ``Authorization: Session
base64(user:user_id:token)`` (a session costs about a tenth of Basic auth per call, which
checks the password every time). Tryton wants the user's context as the last parameter of
every ``model.*`` and ``wizard.*`` method: the client fetches the user's preferences once
after the first login and appends them. Values travel in Tryton's typed JSON (``{"__class__":
"Decimal", "decimal": "150.00"}`` and likewise dates, datetimes, times, timedeltas, bytes),
so money stays ``Decimal`` both ways. Failures become the typed connector errors of
``errors.py``. Not thread-safe: one client per thread or task.
"""

import base64
import itertools
import json
import logging
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as time_of_day
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import requests

from integrations.connectors.tryton.errors import (
    AuthError,
    RetryableError,
    error_from_answer,
    error_from_status,
)

logger = logging.getLogger("integrations.connectors.tryton")

# Methods that take the context as their last parameter (common.* and system.* do not).
CONTEXT_PREFIXES = ("model.", "wizard.")


class _Unauthorized(Exception):
    """A 401: the session is missing, expired or was revoked (the client logs in again)."""


class TrytonEncoder(json.JSONEncoder):
    """Python values as Tryton's typed JSON (trytond/protocols/jsonrpc.py, JSONEncoder)."""

    def default(self, o: Any) -> Any:
        if isinstance(o, Decimal):
            return {"__class__": "Decimal", "decimal": str(o)}
        if isinstance(o, datetime):
            if o.tzinfo is not None:  # Tryton keeps naive UTC datetimes
                o = o.astimezone(UTC).replace(tzinfo=None)
            return {
                "__class__": "datetime",
                **{part: getattr(o, part) for part in ("year", "month", "day", "hour")},
                **{part: getattr(o, part) for part in ("minute", "second", "microsecond")},
            }
        if isinstance(o, date):
            return {"__class__": "date", "year": o.year, "month": o.month, "day": o.day}
        if isinstance(o, time_of_day):
            parts = ("hour", "minute", "second", "microsecond")
            return {"__class__": "time", **{part: getattr(o, part) for part in parts}}
        if isinstance(o, timedelta):
            return {"__class__": "timedelta", "seconds": o.total_seconds()}
        if isinstance(o, bytes | bytearray):
            return {"__class__": "bytes", "base64": base64.b64encode(o).decode("ascii")}
        if isinstance(o, set | frozenset):
            return list(o)
        return super().default(o)


def decode_value(dct: dict) -> Any:
    """One JSON object of an answer back to its Python value (datetimes as aware UTC)."""
    kind = dct.get("__class__")
    if kind == "Decimal":
        return Decimal(dct["decimal"])
    if kind == "date":
        return date(dct["year"], dct["month"], dct["day"])
    if kind == "datetime":
        return datetime(
            dct["year"], dct["month"], dct["day"], dct["hour"], dct["minute"],
            dct["second"], dct["microsecond"], tzinfo=UTC,
        )  # fmt: skip
    if kind == "time":
        return time_of_day(dct["hour"], dct["minute"], dct["second"], dct["microsecond"])
    if kind == "timedelta":
        return timedelta(seconds=dct["seconds"])
    if kind == "bytes":
        return base64.b64decode(dct["base64"])
    return dct


class TrytonClient:
    """A Tryton user's session over JSON-RPC (see the module docstring)."""

    def __init__(
        self,
        *,
        base_url: str,
        database: str,
        username: str,
        password: str,
        timeout: float = 30.0,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.database = database
        self.username = username
        self._password = password
        self.timeout = timeout
        self.http = session if session is not None else requests.Session()
        self.rpc_url = f"{self.base_url}/{quote(database, safe='')}/rpc/"
        self.user_id: int | None = None
        self.login_count = 0  # logins done by this client (a session is reused across calls)
        self._authorization: str | None = None
        self._context: dict | None = None
        self._ids = itertools.count(1)

    def __repr__(self) -> str:
        return f"<TrytonClient {self.username}@{self.rpc_url}>"

    @property
    def context(self) -> dict:
        """The user's preferences context (company, employee, language …), fetched once after
        the first login and appended to every model and wizard call."""
        if self._context is None:
            self._context = self._fetch_context()
        return self._context

    def refresh_context(self) -> dict:
        """Fetch the preferences again (after changing the user's company or employee)."""
        self._context = self._fetch_context()
        return self._context

    def _fetch_context(self) -> dict:
        preferences = self._authorized("model.res.user.get_preferences", [True, {}])
        if not isinstance(preferences, dict):
            raise RetryableError(f"malformed preferences from Tryton: {preferences!r}")
        return preferences

    def call(self, method: str, *params: Any, context: dict | None = None) -> Any:
        """Call ``method`` with ``params``; ``model.*`` and ``wizard.*`` methods get the user's
        context (updated with ``context``, if given) as their last parameter."""
        if method.startswith(CONTEXT_PREFIXES):
            params = (*params, {**self.context, **(context or {})})
        return self._authorized(method, list(params))

    def model(self, name: str) -> "TrytonModel":
        return TrytonModel(self, name)

    def login(self) -> None:
        """Open a new session (done lazily by the first call and again after a 401)."""
        params = [self.username, {"password": self._password}, "en"]
        try:
            result = self._post("common.db.login", params, authorization=None)
        except _Unauthorized:
            raise AuthError(
                f"Tryton refused the login of {self.username!r} on database {self.database!r}"
            ) from None
        if not isinstance(result, list | tuple) or len(result) < 2:
            raise RetryableError(f"malformed login answer from Tryton: {result!r}")
        self.user_id, token = int(result[0]), str(result[1])
        credentials = f"{self.username}:{self.user_id}:{token}".encode()
        self._authorization = "Session " + base64.b64encode(credentials).decode("ascii")
        self.login_count += 1

    def _authorized(self, method: str, params: list) -> Any:
        """One call in the session; a 401 logs in again once and retries, a second is fatal."""
        if self._authorization is None:
            self.login()
        try:
            return self._post(method, params, authorization=self._authorization)
        except _Unauthorized:
            logger.info("Tryton session refused for %s: logging in again", method)
        self.login()
        try:
            return self._post(method, params, authorization=self._authorization)
        except _Unauthorized:
            raise AuthError(
                f"Tryton answered 401 Unauthorized for {method} even after a fresh login"
            ) from None

    def _post(self, method: str, params: list, *, authorization: str | None) -> Any:
        body = json.dumps(
            {"id": next(self._ids), "method": method, "params": params},
            cls=TrytonEncoder,
            separators=(",", ":"),
        )
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if authorization:
            headers["Authorization"] = authorization
        started = time.monotonic()
        try:
            response = self.http.post(
                self.rpc_url, data=body.encode(), headers=headers, timeout=self.timeout
            )
        except requests.Timeout as exc:
            raise RetryableError(
                f"Tryton did not answer {method} within {self.timeout:g} s ({self.rpc_url})"
            ) from exc
        except requests.RequestException as exc:
            raise RetryableError(
                f"cannot reach Tryton at {self.rpc_url} for {method}: {type(exc).__name__}"
            ) from exc
        logger.debug(
            "tryton %s -> %s in %.0f ms",
            method, response.status_code, (time.monotonic() - started) * 1000,
        )  # fmt: skip
        if response.status_code == 401:
            raise _Unauthorized
        if response.status_code != 200:
            raise error_from_status(
                method, response.status_code, response.text, response.headers.get("Retry-After")
            )
        return _result(method, response)


def _result(method: str, response: requests.Response) -> Any:
    """The ``result`` of a 200 answer, or its ``error`` raised as a connector error."""
    try:
        answer = json.loads(response.content, object_hook=decode_value)
    except (ValueError, KeyError, TypeError) as exc:
        raise RetryableError(f"malformed answer from Tryton for {method}: not JSON") from exc
    if not isinstance(answer, dict) or not ({"result", "error"} & answer.keys()):
        raise RetryableError(f"malformed answer from Tryton for {method}: {str(answer)[:200]}")
    if answer.get("error") is not None:
        raise error_from_answer(method, answer["error"])
    return answer.get("result")


class TrytonModel:
    """The generic methods of one Tryton model (``party.party``, ``account.invoice`` …)."""

    def __init__(self, client: TrytonClient, name: str) -> None:
        self.client = client
        self.name = name

    def __repr__(self) -> str:
        return f"<TrytonModel {self.name}>"

    def _call(self, method: str, *params: Any) -> Any:
        return self.client.call(f"model.{self.name}.{method}", *params)

    def search(self, domain, *, offset=0, limit=None, order=None) -> list[int]:
        return self._call("search", domain, offset, limit, order)

    def search_read(self, domain, fields, *, offset=0, limit=None, order=None) -> list[dict]:
        return self._call("search_read", domain, offset, limit, order, list(fields))

    def read(self, ids, fields) -> list[dict]:
        return self._call("read", list(ids), list(fields))

    def create(self, values: list[dict]) -> list[int]:
        """Create every record of ``values`` in one call (one transaction); ids in order."""
        return self._call("create", list(values))

    def write(self, ids, values: dict) -> None:
        self._call("write", list(ids), values)

    def delete(self, ids) -> None:
        self._call("delete", list(ids))

    def button(self, name: str, ids) -> Any:
        """Press a button (``post``, ``validate_invoice``, ``draft`` …) on ``ids``."""
        return self._call(name, list(ids))

    def method(self, name: str, *params: Any) -> Any:
        """Any other RPC method of the model; the context is appended."""
        return self._call(name, *params)


def get_id(client: TrytonClient, module: str, xml_id: str) -> int:
    """The database id of the record ``module.xml_id`` (``ir.model.data.get_id``)."""
    return client.call("model.ir.model.data.get_id", module, xml_id)
