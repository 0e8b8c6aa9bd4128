"""Outbound HTTP to peers, safe by default: a peer URL must be http(s) with a host that resolves
only to public addresses, unless ``settings.THROUGHLINE_ALLOW_PRIVATE_PEERS`` lists the host,
the address or a network holding it (on-premises ERPs, the test Tryton on 127.0.0.1).

``check_peer_url(url)`` raises PermanentError with the reason (not http(s), no host, an
address that is loopback, link-local, private, multicast, reserved, unspecified or otherwise
not public, IPv4 and IPv6, IPv4 inside IPv6 included) and RetryableError when the name does
not resolve now.

``peer_session(timeout=…)`` is the ``requests.Session`` every connector uses:

- every request's URL is checked when it is sent, resolving the name then (a system's
  ``base_url`` was checked when it was saved, but a DNS answer can change since); the socket's
  connected address is checked again, so a name that answers differently a moment later
  (DNS rebinding) is caught too (direct connections; through a proxy the proxy connects);
- redirects are followed, at most ``MAX_REDIRECTS``, each target checked before it is
  requested: a redirect to a refused address, or one redirect too many, is a PermanentError
  naming the target;
- a request without a timeout gets the session's.
"""

import ipaddress
import socket
from collections.abc import Generator
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from integrations.connectors.base import PermanentError, RetryableError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_REDIRECTS = 3
ALLOW_SETTING = "THROUGHLINE_ALLOW_PRIVATE_PEERS"
_REFUSED = (
    ("is_loopback", "a loopback address"),
    ("is_link_local", "a link-local address"),
    ("is_multicast", "a multicast address"),
    ("is_unspecified", "the unspecified address"),
    ("is_reserved", "a reserved address"),
    ("is_private", "a private address"),
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def check_peer_url(url: str) -> None:
    """Raise PermanentError unless ``url`` is http(s), names a host, and every address the host
    resolves to is public or allowed (``THROUGHLINE_ALLOW_PRIVATE_PEERS``); RetryableError when
    the host does not resolve now."""
    host, port = _host_and_port(url)
    names, networks = _allow_list(tuple(getattr(settings, ALLOW_SETTING, ()) or ()))
    if host in names:
        return
    for address in _resolve(host, port):
        reason = refusal(address, networks)
        if reason:
            raise PermanentError(
                f"peer URL {url} resolves to {address}, {reason}: not allowed "
                f"(list the host or address in {ALLOW_SETTING} for a peer on a private network)"
            )


def refusal(address: IPAddress, networks: tuple[IPNetwork, ...] = ()) -> str:
    """Why ``address`` is refused as a peer (``""``: it is public, or in ``networks``)."""
    candidates = (*_embedded_ipv4(address), address)
    for candidate in candidates:
        if any(candidate in net for net in networks if candidate.version == net.version):
            return ""
    for candidate in candidates:
        for attribute, words in _REFUSED:
            if getattr(candidate, attribute):
                return words if candidate is address else f"{words} inside IPv6 ({candidate})"
        if not candidate.is_global:
            return "not a public address"
    return ""


def peer_session(*, timeout: float = 30.0) -> requests.Session:
    """A ``requests.Session`` for a peer: URLs checked at send time (and each redirect target,
    at most MAX_REDIRECTS), connected addresses checked, ``timeout`` seconds by default."""
    return _PeerSession(timeout=timeout)


def _host_and_port(url: str) -> tuple[str, int]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise PermanentError(f"peer URL {url!r} is not a URL: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise PermanentError(f"peer URL {url!r} is not http or https")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise PermanentError(f"peer URL {url!r} has no host")
    return host, port or (443 if parts.scheme == "https" else 80)


@lru_cache(maxsize=16)
def _allow_list(entries: tuple[str, ...]) -> tuple[frozenset[str], tuple[IPNetwork, ...]]:
    """Host names (lower case) and networks (an address is a /32 or /128) of the setting."""
    names, networks = set(), []
    for entry in (e.strip().lower().strip("[]") for e in entries):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            names.add(entry.rstrip("."))
    return frozenset(names), tuple(networks)


def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host.split("%")[0])]
    except ValueError:
        pass
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise RetryableError(f"peer host {host!r} does not resolve: {exc}") from exc
    return list(dict.fromkeys(ipaddress.ip_address(str(a[4][0]).split("%")[0]) for a in answers))


def _embedded_ipv4(address: IPAddress) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address carries (mapped ``::ffff:a.b.c.d``, 6to4, NAT64)."""
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    found = [address.ipv4_mapped, address.sixtofour]
    if address in _NAT64:
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return [a for a in found if a is not None]


def _check_connected(host: str, sock: socket.socket) -> None:
    """The address the socket reached must pass as the URL's did (DNS may have changed)."""
    names, networks = _allow_list(tuple(getattr(settings, ALLOW_SETTING, ()) or ()))
    if host.lower().rstrip(".") in names:
        return
    address = ipaddress.ip_address(str(sock.getpeername()[0]).split("%")[0])
    reason = refusal(address, networks)
    if reason:
        sock.close()
        raise PermanentError(f"peer host {host} connected to {address}, {reason}: not allowed")


class _CheckedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        if self.proxy is None:
            _check_connected(self.host, sock)
        return sock


class _CheckedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        if self.proxy is None and getattr(self, "_tunnel_host", None) is None:
            _check_connected(self.host, sock)
        return sock


class _CheckedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _CheckedHTTPConnection


class _CheckedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _CheckedHTTPSConnection


class _CheckedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _CheckedHTTPPool,
            "https": _CheckedHTTPSPool,
        }


class _PeerSession(requests.Session):
    def __init__(self, *, timeout: float) -> None:
        super().__init__()
        self.default_timeout = timeout
        self.max_redirects = MAX_REDIRECTS
        adapter = _CheckedAdapter()
        self.mount("http://", adapter)
        self.mount("https://", adapter)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        check_peer_url(request.url or "")
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout
        return super().send(request, **kwargs)

    def resolve_redirects(
        self, resp: requests.Response, req: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> Generator[requests.Response, None, None]:
        try:
            yield from super().resolve_redirects(resp, req, *args, **kwargs)
        except requests.TooManyRedirects as exc:
            last = exc.response.headers.get("Location", "?") if exc.response is not None else "?"
            raise PermanentError(
                f"{req.url} redirected more than {MAX_REDIRECTS} times (last to {last})"
            ) from exc
        except PermanentError as exc:
            raise PermanentError(f"a redirect from {req.url} was refused: {exc.message}") from exc
