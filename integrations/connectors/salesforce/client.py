"""A signed-in Salesforce REST client for one system.

Sign-in is the OAuth 2.0 JWT bearer flow: an RS256 assertion (``iss`` the connected app's
consumer key, ``sub`` the integration user, ``aud`` the login host, three minutes to live)
posted to ``<login_url>/services/oauth2/token``; the answer is an access token and the org's
instance URL. There is no refresh token in this flow: a new assertion is the refresh.
Throughline owns the token (cached per system in this process) and builds simple-salesforce in
its direct mode, so a 401 comes back to us: the token is minted again **once** and the call
repeated; a second 401 is an AuthError, never a loop.

Every write carries ``Sforce-Call-Options: client=throughline``, which Salesforce copies into
the ``changeOrigin`` of the change events it causes (the CDC consumer drops those echoes).
Every answer's ``Sforce-Limit-Info`` is kept (``usage``) for the operations dashboard.
"""

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError, SalesforceExpiredSession

from integrations.connectors.base import AuthError, PermanentError, RetryableError
from integrations.connectors.http import peer_session
from integrations.connectors.salesforce import errors

API_VERSION = "62.0"  # Winter '25; simple-salesforce's own default is older: always passed
CLIENT_ID = "throughline"
CALL_OPTIONS = {"Sforce-Call-Options": f"client={CLIENT_ID}"}
DEFAULT_LOGIN_URL = "https://login.salesforce.com"
ASSERTION_SECONDS = 180
TIMEOUT_SECONDS = 30.0
# A streaming connect may be held by the server up to 110 s (its long-poll timeout) should it
# not honour the client's ``timeout: 0``: the read waits past that, never cutting it short.
STREAMING_TIMEOUT_SECONDS = 120.0


def new_session() -> requests.Session:
    """The HTTP session for Salesforce: every URL checked (integrations/connectors/http.py).
    The tests replace this with one mounted on the fake Salesforce."""
    return peer_session(timeout=TIMEOUT_SECONDS)


@dataclass(frozen=True)
class Token:
    access_token: str
    instance_url: str


@dataclass(frozen=True)
class Usage:
    used: int
    allowed: int


_tokens: dict[tuple[int, int], Token] = {}
_tokens_lock = threading.Lock()


def forget_tokens() -> None:
    with _tokens_lock:
        _tokens.clear()


def options_of(system) -> dict:
    return dict((system.settings or {}).get("salesforce") or {})


def mint_token(system, credentials: dict[str, str], session: requests.Session) -> Token:
    """A new access token by the JWT bearer flow (AuthError with Salesforce's reason)."""
    login_url = (options_of(system).get("login_url") or DEFAULT_LOGIN_URL).rstrip("/")
    missing = [k for k in ("client_id", "username", "private_key") if not credentials.get(k)]
    if missing:
        raise AuthError(
            f"Salesforce sign-in needs the credentials {', '.join(missing)} (the connected "
            "app's consumer key as client_id, the integration user, its private key)"
        )
    now = int(time.time())
    claims = {
        "iss": credentials["client_id"],
        "sub": credentials["username"],
        "aud": login_url,
        "exp": now + ASSERTION_SECONDS,
        "jti": uuid.uuid4().hex,
    }
    try:
        assertion = jwt.encode(claims, credentials["private_key"], algorithm="RS256")
    except (ValueError, TypeError, jwt.PyJWTError) as exc:
        raise AuthError(f"the Salesforce private key cannot sign: {exc}") from exc
    try:
        answer = session.post(
            f"{login_url}/services/oauth2/token",
            data={
                "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "assertion": assertion,
            },
            timeout=TIMEOUT_SECONDS,
        )
    except requests.RequestException as exc:
        raise RetryableError(f"Salesforce sign-in did not answer: {exc}") from exc
    body = _json_or_text(answer)
    if answer.status_code >= 500:
        raise RetryableError(f"Salesforce sign-in is unavailable ({answer.status_code})")
    if answer.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
        code, message, _ = errors.first_error(body)
        raise AuthError(f"Salesforce refused the sign-in ({code or answer.status_code}): {message}")
    return Token(access_token=body["access_token"], instance_url=body["instance_url"])


def _json_or_text(answer: requests.Response) -> Any:
    try:
        return answer.json()
    except ValueError:
        return answer.text[:300]


class SalesforceClient:
    """REST calls for one system; ``usage`` is the last ``Sforce-Limit-Info`` seen."""

    def __init__(self, system, credentials: dict[str, str]) -> None:
        self.system, self.credentials = system, credentials
        self.session = new_session()
        self.usage: Usage | None = None
        self.calls = 0

    def _token(self, *, fresh: bool = False) -> Token:
        # Keyed by the system and its credentials: a new key or user signs in again at once.
        key = (self.system.pk, hash(tuple(sorted(self.credentials.items()))))
        with _tokens_lock:
            token = None if fresh else _tokens.get(key)
        if token is None:
            token = mint_token(self.system, self.credentials, self.session)
            with _tokens_lock:
                _tokens[key] = token
        return token

    def _api(self, token: Token) -> Salesforce:
        return Salesforce(
            instance_url=token.instance_url,
            session_id=token.access_token,
            version=API_VERSION,
            session=self.session,
        )

    def request(
        self, method: str, path: str, *, json: Any = None, params: dict | None = None
    ) -> Any:
        """One REST call (``path`` under ``/services/data/v62.0/``): the parsed answer, or
        None for 204. Raises the connector errors of errors.py."""
        kwargs: dict[str, Any] = {"params": params, "headers": CALL_OPTIONS}
        if json is not None:
            kwargs["json"] = json
        return self._with_session(lambda api: api.restful(path, method=method, **kwargs))

    def _with_session(self, call: Callable[[Salesforce], Any]) -> Any:
        for attempt in (1, 2):
            api = self._api(self._token(fresh=attempt == 2))
            try:
                self.calls += 1
                result = call(api)
            except SalesforceExpiredSession as exc:
                if attempt == 2:
                    raise AuthError(
                        "Salesforce refused a freshly minted session (INVALID_SESSION_ID): "
                        "check the integration user and the connected app"
                    ) from exc
                continue  # the token expired or was revoked: mint one, once
            except SalesforceError as exc:
                raise errors.from_exception(exc) from exc
            except PermanentError:
                raise  # an unsafe URL (integrations/connectors/http.py)
            except requests.RequestException as exc:
                raise RetryableError(f"Salesforce did not answer: {exc}") from exc
            finally:
                self._keep_usage(api)
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    def _keep_usage(self, api: Salesforce) -> None:
        usage = (api.api_usage or {}).get("api-usage")
        if usage is not None:
            self.usage = Usage(used=int(usage.used), allowed=int(usage.total))

    def cometd(self, messages: list[dict]) -> list[dict]:
        """One Bayeux exchange with the Streaming API (``/cometd/62.0``), signed in like every
        other call (a 401 mints a token once); answers the list of messages."""
        for attempt in (1, 2):
            token = self._token(fresh=attempt == 2)
            try:
                self.calls += 1
                answer = self.session.post(
                    f"{token.instance_url}/cometd/{API_VERSION}",
                    json=messages,
                    headers={"Authorization": f"Bearer {token.access_token}"},
                    timeout=STREAMING_TIMEOUT_SECONDS,
                )
            except PermanentError:
                raise
            except requests.RequestException as exc:
                raise RetryableError(f"Salesforce streaming did not answer: {exc}") from exc
            if answer.status_code == 401 and attempt == 1:
                continue
            body = _json_or_text(answer)
            if answer.status_code != 200 or not isinstance(body, list):
                raise errors.classify(answer.status_code, body)
            return body
        raise AuthError("Salesforce refused a freshly minted session for streaming")
