"""Outbound URL safety (integrations/connectors/http.py) and the system's own checks
(ExternalSystem.clean: the peer URL, a connector that can serve the kind). No network: literal
addresses, ``localhost``, a stubbed resolver, and a local HTTP server on 127.0.0.1."""

import ipaddress
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.urls import reverse

from integrations.connectors import http
from integrations.connectors.base import PermanentError, RetryableError
from integrations.models import ExternalSystem

REFUSED = [
    ("ftp://erp.example.com/", "is not http or https"),
    ("http:///path", "has no host"),
    ("http://127.0.0.1:8000/", "loopback"),
    ("http://localhost:8000/", "loopback"),
    ("http://[::1]/", "loopback"),
    ("http://[::ffff:127.0.0.1]/", "loopback address inside IPv6 (127.0.0.1)"),
    ("http://[::ffff:10.0.0.1]/", "private address inside IPv6 (10.0.0.1)"),
    ("http://10.1.2.3/", "private"),
    ("http://172.16.0.9/", "private"),
    ("https://192.168.1.20/", "private"),
    ("http://[fc00::1]/", "private"),
    ("http://169.254.169.254/latest/meta-data", "link-local"),
    ("http://[fe80::1]/", "link-local"),
    ("http://224.0.0.251/", "multicast"),
    ("http://[ff02::1]/", "multicast"),
    ("http://0.0.0.0/", "unspecified"),
    ("http://[::]/", "unspecified"),
    ("http://240.0.0.1/", "reserved"),
    ("http://100.64.0.1/", "not a public address"),
]


@pytest.mark.parametrize(("url", "reason"), REFUSED)
def test_unsafe_peer_urls_are_refused_with_the_reason(url, reason, settings):
    settings.THROUGHLINE_ALLOW_PRIVATE_PEERS = []
    with pytest.raises(PermanentError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        http.check_peer_url(url)


@pytest.mark.parametrize("url", ["https://8.8.8.8/", "http://[2001:4860:4860::8888]:8080/x"])
def test_public_addresses_pass(url, settings):
    settings.THROUGHLINE_ALLOW_PRIVATE_PEERS = []
    http.check_peer_url(url)


@pytest.mark.parametrize(
    ("allowed", "url"),
    [
        (["127.0.0.1"], "http://127.0.0.1:8000/"),
        (["127.0.0.1"], "http://[::ffff:127.0.0.1]/"),
        (["10.0.0.0/8"], "http://10.20.30.40/jsonrpc"),
        (["localhost"], "http://LOCALHOST:8000/"),
        (["fd00::/8", "erp.internal"], "http://[fd12::5]/"),
    ],
)
def test_the_allow_list_admits_listed_hosts_addresses_and_networks(allowed, url, settings):
    settings.THROUGHLINE_ALLOW_PRIVATE_PEERS = allowed
    http.check_peer_url(url)


def _resolver(monkeypatch, answers: dict[str, str]) -> None:
    def getaddrinfo(host, port, *args, **kwargs):
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]

    monkeypatch.setattr(http.socket, "getaddrinfo", getaddrinfo)


def test_names_are_checked_by_what_they_resolve_to(monkeypatch, settings):
    settings.THROUGHLINE_ALLOW_PRIVATE_PEERS = []
    _resolver(monkeypatch, {"erp.example.com": "93.184.216.34", "intranet.example": "10.0.0.5"})
    http.check_peer_url("https://erp.example.com/")
    with pytest.raises(PermanentError, match="resolves to 10.0.0.5, a private address"):
        http.check_peer_url("https://intranet.example/")
    with pytest.raises(RetryableError, match="does not resolve"):
        http.check_peer_url("https://gone.example/")


class _Peer(BaseHTTPRequestHandler):
    """/ok 200; /slow answers after 1.5 s; /to-ok, /to-private, /loop redirect."""

    hits: list[str]
    redirects = {"/to-ok": "/ok", "/to-private": "http://10.0.0.1/", "/loop": "/loop"}

    def do_GET(self):
        self.hits.append(self.path)
        if self.path in self.redirects:
            self.send_response(302)
            self.send_header("Location", self.redirects[self.path])
            self.end_headers()
            return
        if self.path == "/slow":
            time.sleep(1.5)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def peer():
    """A local peer on 127.0.0.1: its URL, and the paths it was asked for."""
    handler = type("Peer", (_Peer,), {"hits": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", handler.hits
    server.shutdown()
    server.server_close()


def test_the_session_refuses_a_private_peer_before_sending_anything(peer, settings):
    url, hits = peer
    settings.THROUGHLINE_ALLOW_PRIVATE_PEERS = []
    with pytest.raises(PermanentError, match="loopback"):
        http.peer_session().get(f"{url}/ok")
    assert hits == []


def test_an_allowed_peer_is_called_and_its_redirects_followed_each_checked(peer, settings):
    url, hits = peer
    settings.THROUGHLINE_ALLOW_PRIVATE_PEERS = ["127.0.0.1"]
    session = http.peer_session()

    response = session.get(f"{url}/to-ok")
    assert (response.status_code, response.text, len(response.history)) == (200, "ok", 1)
    with pytest.raises(PermanentError, match=r"redirect .* refused: peer URL http://10\.0\.0\.1/"):
        session.get(f"{url}/to-private")
    with pytest.raises(PermanentError, match="redirected more than 3 times"):
        session.get(f"{url}/loop")
    assert hits == ["/to-ok", "/ok", "/to-private", *["/loop"] * 4]


def test_a_request_without_a_timeout_gets_the_sessions(peer, settings):
    url, _hits = peer
    settings.THROUGHLINE_ALLOW_PRIVATE_PEERS = ["127.0.0.1"]
    started = time.monotonic()
    with pytest.raises(requests.Timeout):
        http.peer_session(timeout=0.3).get(f"{url}/slow")
    assert time.monotonic() - started < 1.2
    assert http.peer_session(timeout=0.3).get(f"{url}/slow", timeout=5).text == "ok"


def test_an_answer_that_changes_after_the_check_is_caught_at_connect(peer, monkeypatch, settings):
    """DNS rebinding: the check resolved a public address, the connection reached 127.0.0.1."""
    url, hits = peer
    settings.THROUGHLINE_ALLOW_PRIVATE_PEERS = []
    monkeypatch.setattr(http, "_resolve", lambda host, port: [ipaddress.ip_address("8.8.8.8")])
    with pytest.raises(PermanentError, match="connected to 127.0.0.1, a loopback address"):
        http.peer_session().get(f"{url}/ok")
    assert hits == []


@pytest.mark.django_db
def test_a_system_is_refused_an_unsafe_url_and_a_connector_that_cannot_serve_it(
    monkeypatch, settings
):
    settings.THROUGHLINE_ALLOW_PRIVATE_PEERS = []
    with pytest.raises(ValidationError) as refused:
        ExternalSystem(
            slug="erp2", kind="erp", connector="salesforce", base_url="http://10.0.0.7"
        ).full_clean()
    assert refused.value.message_dict["connector"] == [
        "the salesforce connector cannot serve a ERP system; it serves CRM"
    ]
    assert "private address" in refused.value.message_dict["base_url"][0]
    with pytest.raises(ValidationError, match="tryton connector cannot serve a CRM"):
        ExternalSystem(slug="crm2", kind="crm", connector="tryton").full_clean()

    settings.THROUGHLINE_ALLOW_PRIVATE_PEERS = ["10.0.0.7"]
    ExternalSystem(
        slug="erp2", kind="erp", connector="tryton", base_url="http://10.0.0.7"
    ).full_clean()
    _resolver(monkeypatch, {})  # a name that does not resolve here is checked again when sent
    ExternalSystem(
        slug="psa2", kind="psa", connector="tryton", base_url="https://t.example"
    ).full_clean()


@pytest.mark.django_db
def test_the_admin_shows_the_refusals_as_form_errors(client, settings):
    settings.THROUGHLINE_ALLOW_PRIVATE_PEERS = []
    client.force_login(get_user_model().objects.create_superuser("root", "r@example.com", "pw"))
    data = {"slug": "erp9", "kind": "crm", "connector": "tryton", "settings": "{}"}
    data.update({"base_url": "http://169.254.169.254/", "is_active": "on"})
    data.update({"secrets-TOTAL_FORMS": "0", "secrets-INITIAL_FORMS": "0"})

    page = client.post(reverse("admin:integrations_externalsystem_add"), data)
    assert page.status_code == 200
    html = page.content.decode()
    assert "tryton connector cannot serve a CRM system" in html
    assert "169.254.169.254, a link-local address" in html
    assert not ExternalSystem.objects.filter(slug="erp9").exists()
