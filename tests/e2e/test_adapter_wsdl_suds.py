"""The adapter's ICS WSDL works with an independent SOAP client (suds-community), not only zeep."""

from __future__ import annotations

from suds.client import Client as SudsClient

from cpbridge.settings import PROJECT_ROOT

SAMPLES = PROJECT_ROOT / "samples" / "ics" / "caseview"


def test_suds_loads_the_ics_wsdl_and_calls_it(stack_factory):
    stack = stack_factory()
    client = SudsClient(f"{stack.adapter.url}/systems/ics/soap?wsdl", cache=None)
    ops = {m.name for m in client.wsdl.services[0].ports[0].methods.values()}
    assert {"ReferralAccepted", "CaseClosed", "WhoElseInvolved", "GetStatus"} <= ops

    # an inbound message, sent raw as a local system's own stack would produce it
    body = (SAMPLES / "referral_accepted.xml").read_bytes().split(b"?>", 1)[1]
    envelope = (
        b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        + body
        + b"</soap:Body></soap:Envelope>"
    )
    ack = client.service.ReferralAccepted(__inject={"msg": envelope})
    assert ack.status == "accepted" and ack.events == 2
    stack.wait_delivered()

    # a call marshalled by suds itself from its reading of the WSDL
    status = client.service.GetStatus(trackingId=ack.trackingId)
    assert status.status == "delivered"
    assert {e.type for e in status.event} == {"involvement_opened", "demographics_changed"}
