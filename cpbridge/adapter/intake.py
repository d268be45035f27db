"""Intake: one local message in, an acknowledgement (or a rendered lookup) out.

The order is the guarantee: parse (hardened) -> plugin hooks -> canonical
events -> outbox commit -> acknowledgement. Nothing is acknowledged that is not
durably in the outbox; nothing of the local message but its canonical events
is kept.
"""

from __future__ import annotations

import copy
import hashlib

import structlog
from lxml import etree

from ..contract import ADAPTER_NS
from ..faults import Fault
from ..model import EventBase
from ..systems import LocalSystem
from .directory_client import DeliveryError, DirectoryClient, as_fault
from .host import Host
from .outbox import Accepted, Outbox

log = structlog.get_logger("cpbridge.intake")


def content_id(root: etree._Element) -> str:
    """A message id from the content itself (for systems that send none): a resend dedupes."""
    # Exclusive c14n of a detached copy: the same message digests the same whether it came bare
    # or inside a SOAP envelope, whatever namespaces that envelope happened to declare.
    return "sha256:" + hashlib.sha256(etree.tostring(copy.deepcopy(root), method="c14n", exclusive=True)).hexdigest()[:40]


def _a(tag: str) -> str:
    return f"{{{ADAPTER_NS}}}{tag}"


def acknowledgement(accepted: Accepted) -> etree._Element:
    ack = etree.Element(_a("Acknowledgement"), nsmap={"a": ADAPTER_NS})
    etree.SubElement(ack, _a("trackingId")).text = accepted.tracking_id
    etree.SubElement(ack, _a("status")).text = "accepted"
    etree.SubElement(ack, _a("messageType")).text = accepted.message_type
    etree.SubElement(ack, _a("events")).text = str(accepted.event_count)
    etree.SubElement(ack, _a("duplicate")).text = "true" if accepted.duplicate else "false"
    return ack


def status_element(status: dict) -> etree._Element:
    el = etree.Element(_a("Status"), nsmap={"a": ADAPTER_NS})
    etree.SubElement(el, _a("trackingId")).text = status["trackingId"]
    etree.SubElement(el, _a("status")).text = status["status"]
    for ev in status["events"]:
        e = etree.SubElement(el, _a("event"))
        for key in ("eventId", "type", "status", "outcome", "matchOutcome", "reasonCode", "directoryId"):
            if ev.get(key) is not None:
                etree.SubElement(e, _a(key)).text = str(ev[key])
    return el


class Intake:
    def __init__(self, host: Host, outbox: Outbox, client: DirectoryClient, metrics=None):
        self.host = host
        self.outbox = outbox
        self.client = client
        self.metrics = metrics

    def handle(self, system: LocalSystem, root: etree._Element, *, message_id: str | None = None) -> etree._Element:
        """Process one parsed message for ``system``; return the element to answer with."""
        try:
            return self._handle(system, root, message_id)
        except Fault as fault:
            if self.metrics:
                self.metrics.rejected.labels(system=system.id, code=fault.code).inc()
            log.info("rejected", system=system.id, code=fault.code, field=fault.field)
            raise

    def _handle(self, system: LocalSystem, root: etree._Element, message_id: str | None) -> etree._Element:
        hook = self.host.pm.hook
        if root.tag == _a("GetStatus"):
            tracking_id = (root.findtext(_a("trackingId")) or "").strip()
            status = self.outbox.status(tracking_id, system_id=system.id)
            if status is None:
                raise Fault("InvalidRequest", f"no message has tracking id {tracking_id!r}", field="trackingId")
            return status_element(status)
        prepared = hook.prepare_document(system=system, root=root)
        if prepared is not None:
            root = prepared
        request = hook.lookup_request(system=system, root=root)
        if request is not None:
            try:
                result = self.client.search(request)
            except DeliveryError as err:
                raise as_fault(err) from None
            rendered = hook.render_lookup(system=system, request=request, result=result)
            if rendered is None:
                raise Fault("InternalError", f"no plugin renders lookups for system {system.id!r}")
            if self.metrics:
                self.metrics.lookups.labels(system=system.id).inc()
            log.info("lookup", system=system.id, matches=len(result.matches))
            return rendered
        message_id = message_id or (system.mapping.message_id(root) if system.mapping else None) or content_id(root)
        events: list[EventBase] | None = hook.message_to_events(system=system, root=root, message_id=message_id)
        if events is None:
            raise Fault("UnknownMessageType", f"no plugin or mapping of {system.id!r} handles <{etree.QName(root).localname}>")
        message_type = (system.mapping.message_type(root) if system.mapping else None) or etree.QName(root).localname
        accepted = self.outbox.accept(system.id, message_id, message_type, events)
        if self.metrics:
            (self.metrics.duplicates if accepted.duplicate else self.metrics.received).labels(system=system.id).inc()
        log.info(
            "accepted",
            system=system.id,
            tracking_id=accepted.tracking_id,
            message_type=message_type,
            events=len(events),
            duplicate=accepted.duplicate,
        )
        return acknowledgement(accepted)
