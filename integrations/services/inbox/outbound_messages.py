"""Receiving a Salesforce Outbound Message (``POST /api/v1/hooks/salesforce/<system>/
outbound-message/``): read the SOAP body safely, check the organization, store each
notification once as the canonical event it means, and only then acknowledge.

Salesforce signs nothing: the checks are the organization id of every message against the
system's (``settings["salesforce"]["organization_id"]``), TLS, and at the proxy Salesforce's
client certificate or IP ranges (docs/connectors/salesforce.md). Every refusal is recorded
(RejectedDelivery, with the body unless it is over the size limit) and answered with a SOAP
fault, never an Ack, so Salesforce keeps the message; an accepted notification is an
InboundEvent whose evidence is the notification as received.

The answer ``<Ack>true</Ack>`` is sent once every notification is stored: a crash before it
means Salesforce sends the message again, and what was stored answers as a duplicate.
"""

import json
import logging
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from integrations.connectors.names import ConnectorName
from integrations.connectors.salesforce import mapping
from integrations.connectors.salesforce import outbound_messages as om
from integrations.models import ExternalSystem, FieldMapping, InboundEvent, RejectedDelivery
from integrations.models.inbox import base64_of
from integrations.models.rows import insert_if_new
from integrations.services.inbox.active_systems import active_system
from integrations.services.inbox.guards import storable
from integrations.services.inbox.receive import record_pulled_event
from integrations.services.inbox.refusals import refuse
from integrations.services.traces import new_trace_id

logger = logging.getLogger("integrations.services.inbox")
XML = "text/xml; charset=utf-8"


@dataclass(frozen=True)
class SoapReceipt:
    status_code: int
    body: str
    headers: dict


@dataclass(frozen=True)
class Stored:
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    skipped: int = 0


def receive_outbound_message(
    *, slug: str, headers: dict[str, str], body: bytes, remote_addr: str | None
) -> SoapReceipt:
    """Never raises for bad input: a refusal is recorded and answered with a SOAP fault."""
    headers = {k.lower(): v for k, v in headers.items()}
    system, _secrets = active_system(slug)
    delivery = {"slug": slug, "headers": headers, "body": body, "remote_addr": remote_addr}
    if system is None or system.connector != ConnectorName.SALESFORCE:
        return _refused(404, None, RejectedDelivery.Reason.UNKNOWN_SYSTEM,
                        "no Salesforce system of this name", delivery, keep_body=False)  # fmt: skip
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    if len(body) > limit:
        return _refused(413, system, RejectedDelivery.Reason.TOO_LARGE,
                        f"{len(body)} bytes > {limit}", delivery, keep_body=False)  # fmt: skip
    try:
        message = om.parse(body)
    except om.MessageRefused as exc:
        reason = (
            RejectedDelivery.Reason.HOSTILE_XML
            if exc.reason == "hostile_xml"
            else RejectedDelivery.Reason.MALFORMED
        )
        return _refused(400, system, reason, exc.detail, delivery)
    expected = str(((system.settings or {}).get("salesforce") or {}).get("organization_id") or "")
    if not expected or message.organization_id[:15] != expected[:15]:
        detail = (
            f"organization {message.organization_id[:40]!r} is not this system's"
            if expected
            else "this system has no organization_id in its settings: nothing can be checked"
        )
        return _refused(403, system, RejectedDelivery.Reason.WRONG_ORGANIZATION, detail, delivery)
    stored = store_notifications(system, message)
    logger.info("salesforce.outbound_message", extra={"system": slug, **stored.__dict__})
    return SoapReceipt(200, om.ACK, {"Content-Type": XML})


def _refused(
    status: int,
    system: ExternalSystem | None,
    reason: str,
    detail: str,
    delivery: dict,
    *,
    keep_body: bool = True,
) -> SoapReceipt:
    retry_after = refuse(system=system, reason=reason, detail=detail, keep_body=keep_body,
                         **delivery)  # fmt: skip
    if retry_after is not None:
        return SoapReceipt(
            429,
            om.fault("too many refused deliveries from this address"),
            {"Content-Type": XML, "Retry-After": str(retry_after)},
        )
    return SoapReceipt(status, om.fault(detail), {"Content-Type": XML})


def mapping_for(system: ExternalSystem) -> mapping.Mapping:
    return mapping.with_rows(FieldMapping.objects.filter(system=system))


def _translate(rules: mapping.Mapping, notification: om.Notification) -> mapping.Translation:
    record_kind = mapping.RECORD_OF_SOBJECT.get(notification.sobject)
    if record_kind is None:
        return mapping.Translation(
            skipped=f"Throughline does not read {notification.sobject or 'this object'} records"
        )
    if set(notification.fields) <= {"Id"}:
        return mapping.Translation(
            skipped="only the record's Id came: it was deleted before Salesforce sent it"
        )
    return mapping.translate(rules, record_kind, notification.fields)


def retranslated(event: InboundEvent) -> tuple[dict | None, str]:
    """What a stored Outbound Message notification means under the mapping as it is now:
    (the canonical body, "") or (None, why not: not a notification, no evidence, or it means
    no event). The body keeps the event's own timestamp when the record carries none."""
    raw = event.raw_bytes
    if not event.webhook_id.startswith("om:") or not raw:
        return None, "not a Salesforce Outbound Message notification with its evidence"
    try:
        notification = om.parse_notification(raw)
    except om.MessageRefused as exc:
        return None, exc.detail
    translation = _translate(mapping_for(event.system), notification)
    if translation.skipped:
        return None, translation.skipped
    stamp = translation.occurred_at or (event.payload or {}).get("timestamp") or ""
    return {"type": translation.event_type, "timestamp": stamp, "data": translation.data}, ""


def store_notifications(system: ExternalSystem, message: om.OutboundMessage) -> Stored:
    """Each notification once: the canonical event it means (checked against the contract's
    schema like any delivery: one that does not match is stored rejected, with its reasons,
    to replay with the mapping as it is now once that is fixed), or, when it means none (an
    opportunity not won, a record deleted before it was sent, an object we do not read), kept
    as unhandled."""
    rules = mapping_for(system)
    counts = {"accepted": 0, "duplicates": 0, "rejected": 0, "skipped": 0}
    for notification in message.notifications:
        translation = _translate(rules, notification)
        if translation.skipped:
            counts[
                "skipped" if _keep_skipped(system, notification, translation) else "duplicates"
            ] += 1
            continue
        receipt = record_pulled_event(
            system=system,
            key=notification.id,
            event_type=translation.event_type,
            data=translation.data,
            occurred_at=translation.occurred_at or timezone.now().isoformat(),
            prefix="om",
            evidence=notification.xml.encode(),
        )
        outcome = {202: "accepted", 200: "duplicates"}.get(receipt.status_code, "rejected")
        counts[outcome] += 1
    return Stored(**counts)


def _keep_skipped(
    system: ExternalSystem, notification: om.Notification, translation: mapping.Translation
) -> bool:
    """A notification that means no event, kept as received (unhandled, with why): nothing a
    sender sends is dropped unseen. False when it was kept before (a repeated message)."""
    event = InboundEvent(
        system=system,
        webhook_id=f"om:{notification.id}",
        event_type=f"salesforce.{notification.sobject.lower()[:60] or 'unknown'}",
        payload={
            "notification_id": notification.id,
            "sobject": notification.sobject,
            "fields": json.loads(json.dumps(notification.fields, default=str)),
        },  # fmt: skip
        raw_base64=base64_of(notification.xml.encode()),
        status=InboundEvent.Status.UNHANDLED,
        error=storable(translation.skipped[:500]),
        trace_id=new_trace_id(),
        processed_at=timezone.now(),
    )
    return insert_if_new(event)
