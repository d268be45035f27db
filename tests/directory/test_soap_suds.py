"""The directory from a second, independent SOAP stack: suds-community (PasswordText token)."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
import suds
from directory_helpers import SECRET, fresh_family_name, fresh_id, fresh_nhs_number
from suds.client import Client
from suds.wsse import Security, UsernameToken


@pytest.fixture(scope="module")
def suds_client(directory_server):
    return Client(f"{directory_server}/directory/soap?wsdl", cache=None)


def authenticate(client: Client, username: str = "adapter", secret: str = SECRET) -> None:
    """Give the next call a fresh UsernameToken (suds reuses a token's nonce otherwise)."""
    token = UsernameToken(username, secret)
    token.setnonce()
    token.setcreated()
    security = Security()
    security.tokens.append(token)
    client.set_options(wsse=security)


def act_for(client: Client) -> None:
    header = client.factory.create("OnBehalfOf")
    header.userId = "jbloggs"
    header.organisation = "Leeds City Council"
    header.reason = "direct_work"
    client.set_options(soapheaders={"onBehalfOf": header})


def fault_code(info) -> str:
    return info.value.fault.detail.fault.code


def test_register_search_read_and_a_fault(suds_client):
    client = suds_client
    act_for(client)
    family, nhs = fresh_family_name(), fresh_nhs_number()
    child = client.factory.create("ChildIdentity")
    child.givenNames, child.familyName, child.dateOfBirth, child.gender = "Tom", family, date(2014, 1, 1), "male"
    ident = client.factory.create("Identifier")
    ident.scheme, ident.value = "nhs_number", nhs
    child.identifier = [ident]
    involvement = client.factory.create("Involvement")
    involvement.localReference = fresh_id("YOT")
    involvement.service = "youth_offending"
    involvement.organisation = "Leeds Youth Justice Service"
    involvement.startDate = date(2024, 1, 1)
    practitioner = client.factory.create("Practitioner")
    practitioner.name, practitioner.role, practitioner.phone = "Kim Lee", "case_manager", "0113 378 0000"
    involvement.practitioner = practitioner

    authenticate(client)
    result = client.service.RegisterInvolvement(
        eventId=fresh_id(), sourceSystem="yot", occurredAt=datetime(2024, 1, 2, 9, tzinfo=timezone.utc),
        child=child, involvement=involvement,
    )
    assert (result.outcome, result.matchOutcome) == ("applied", "new")

    authenticate(client)
    criteria = client.factory.create("SearchCriteria")
    criteria.familyName, criteria.dateOfBirth = family, date(2014, 1, 1)
    found = client.service.SearchChildren(criteria=criteria)
    assert [(m.score, m.record.directoryId) for m in found]  # suds unwraps the single repeated element == [(1.0, result.directoryId)]

    authenticate(client)
    record = client.service.ReadChild(identifier=ident)
    assert record.directoryId == result.directoryId
    assert record.involvement[0].practitioner.name == "Kim Lee"
    assert record.involvement[0].service == "youth_offending"

    authenticate(client)
    with pytest.raises(suds.WebFault) as info:
        client.service.ReadChild(directoryId="CP0000000018")
    assert fault_code(info) == "NoSuchChild"


def test_wrong_credentials_fault(suds_client):
    act_for(suds_client)
    authenticate(suds_client, secret="not-the-secret")
    with pytest.raises(suds.WebFault) as info:
        suds_client.service.ReadChild(directoryId="CP0000000018")
    assert fault_code(info) == "NotAuthenticated"
