"""Salesforce Outbound Messages: the SOAP 1.1 notification Salesforce posts, read safely, and
the acknowledgement it waits for.

Parsed with defusedxml: a document with a DTD is refused outright, so neither an external
entity (XXE: a file or URL read into the body) nor an entity expansion ("billion laughs") can
run; the caller refuses a body over the size limit before it gets here. Elements are matched
by namespace and local name, never by prefix (Salesforce does not fix the prefixes).

Salesforce retries a message (all of its 1..100 notifications) until it gets HTTP 200 with
``<Ack>true</Ack>``, for up to 24 hours, out of order and sometimes more than once: each
``Notification/Id`` is the idempotency key, and the answer is sent only once every
notification is stored.
"""

from dataclasses import dataclass, field
from xml.etree.ElementTree import (  # serialising only; parsing: defusedxml
    Element,
    register_namespace,
    tostring,
)

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
OUTBOUND = "http://soap.sforce.com/2005/09/outbound"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
MAX_NOTIFICATIONS = 100
ENTERPRISE = "urn:sobject.enterprise.soap.sforce.com"
# The prefixes a stored notification is written with (its evidence: the notification as
# parsed, re-serialised; the message's own prefixes are not kept).
for _prefix, _uri in (("out", OUTBOUND), ("sf", ENTERPRISE), ("xsi", XSI)):
    register_namespace(_prefix, _uri)

ACK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    f'<soapenv:Envelope xmlns:soapenv="{SOAP}"><soapenv:Body>'
    f'<notificationsResponse xmlns="{OUTBOUND}"><Ack>true</Ack></notificationsResponse>'
    "</soapenv:Body></soapenv:Envelope>"
)


def fault(reason: str, *, server: bool = False) -> str:
    """A SOAP fault (never an Ack): Salesforce keeps the message queued and retries it."""
    code = "soapenv:Server" if server else "soapenv:Client"
    text = reason.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{SOAP}"><soapenv:Body><soapenv:Fault>'
        f"<faultcode>{code}</faultcode><faultstring>{text}</faultstring>"
        "</soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    )


class MessageRefused(Exception):
    """The body is no Outbound Message we can read: ``reason`` a short code, ``detail`` words."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


@dataclass(frozen=True)
class Notification:
    id: str
    sobject: str  # "Account", "Opportunity", "Invoice__c" …
    fields: dict[str, object]  # API name → text (None for xsi:nil); nested: "Owner.Email"
    xml: str = ""  # the notification as parsed, re-serialised: the event's evidence


@dataclass(frozen=True)
class OutboundMessage:
    organization_id: str
    action_id: str
    notifications: list[Notification] = field(default_factory=list)


def _local(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        namespace, _, name = tag[1:].partition("}")
        return namespace, name
    return "", tag


def _child(parent: Element, namespace: str, name: str) -> Element | None:
    for element in parent:
        if _local(element.tag) == (namespace, name):
            return element
    return None


def _text_of(parent: Element, name: str) -> str:
    element = _child(parent, OUTBOUND, name)
    return (element.text or "").strip() if element is not None else ""


def parse(body: bytes) -> OutboundMessage:
    """The message in ``body``; raises MessageRefused for anything else (hostile XML included)."""
    try:
        root = fromstring(body, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise MessageRefused("hostile_xml", f"refused XML: {type(exc).__name__}") from exc
    except (ParseError, ValueError) as exc:
        raise MessageRefused("malformed", f"not well-formed XML: {exc}"[:300]) from exc
    if _local(root.tag) != (SOAP, "Envelope"):
        raise MessageRefused("not_soap", "not a SOAP 1.1 envelope")
    body_element = _child(root, SOAP, "Body")
    notifications = (
        _child(body_element, OUTBOUND, "notifications") if body_element is not None else None
    )
    if notifications is None:
        raise MessageRefused("not_outbound_message", "no Outbound Message notifications")
    items = [n for n in notifications if _local(n.tag) == (OUTBOUND, "Notification")]
    if not items:
        raise MessageRefused("not_outbound_message", "the message has no Notification")
    if len(items) > MAX_NOTIFICATIONS:
        raise MessageRefused("malformed", f"{len(items)} notifications (at most 100)")
    return OutboundMessage(
        organization_id=_text_of(notifications, "OrganizationId"),
        action_id=_text_of(notifications, "ActionId"),
        notifications=[_notification(item) for item in items],
    )


def _notification(item: Element) -> Notification:
    notification_id = _text_of(item, "Id")
    sobject = _child(item, OUTBOUND, "sObject")
    if not notification_id or sobject is None:
        raise MessageRefused("malformed", "a Notification without its Id or sObject")
    kind = sobject.get(f"{{{XSI}}}type", "")
    return Notification(
        id=notification_id[:120],
        sobject=kind.rpartition(":")[2],
        fields=_fields(sobject),
        xml=tostring(item, encoding="unicode")[:20000],
    )


def _fields(sobject: Element, prefix: str = "") -> dict[str, object]:
    fields: dict[str, object] = {}
    for element in sobject:
        name = prefix + _local(element.tag)[1]
        if len(element):
            fields.update(_fields(element, prefix=f"{name}."))
        elif element.get(f"{{{XSI}}}nil") == "true":
            fields[name] = None
        else:
            fields[name] = (element.text or "").strip()
    return fields


def parse_notification(xml: bytes) -> Notification:
    """One stored notification (an event's evidence) read back, as safely as a message."""
    try:
        element = fromstring(xml, forbid_dtd=True)
    except (DefusedXmlException, ParseError, ValueError) as exc:
        raise MessageRefused("malformed", f"the stored notification does not parse: {exc}") from exc
    if _local(element.tag) != (OUTBOUND, "Notification"):
        raise MessageRefused("malformed", "the stored evidence is not a Notification")
    return _notification(element)
