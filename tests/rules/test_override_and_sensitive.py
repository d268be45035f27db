"""Shield override, management-team view and sensitive services, through SOAP as an adapter calls them."""

from __future__ import annotations

from datetime import date

import pytest
import zeep.exceptions
from rules_helpers import LEEDS, BRADFORD, ORG, caller, header, identity, opened

from sqlalchemy import select

from lxml import etree

from cpbridge.codes import ReasonCode
from cpbridge.contract import DIRECTORY_NS
from cpbridge.directory import accounts, alerts, audit, service, shields
from cpbridge.directory.account_tables import PractitionerAccount
from cpbridge.directory.auth import caller_for
from cpbridge.faults import Fault
from cpbridge.settings import SystemAccount
from cpbridge.directory.audit_tables import AuditRow
from cpbridge.faults import FAULT_NS
from cpbridge.model import Consent


def fault_of(call, *args, **kwargs) -> tuple[str, str | None]:
    with pytest.raises(zeep.exceptions.Fault) as info:
        call(*args, **kwargs)
    detail = info.value.detail
    return detail.findtext(f".//{{{FAULT_NS}}}code"), detail.findtext(f".//{{{FAULT_NS}}}field")


@pytest.fixture
def shielded_child(send, store):
    ident = identity()
    directory_id = send(opened(ident)).directoryId
    with store.begin() as s:
        shields.place(s, caller("management_team"), directory_id, "adoption")
    return directory_id


def _open_overrides(store, directory_id):
    with store() as s:
        return [a for a in alerts.open_alerts(s, LEEDS) if a.directory_id == directory_id]


def test_override_shows_the_full_record_once_with_a_warning_and_alerts_at_once(shielded_child, client, store):
    c = client("leeds")
    h = header("shield_override", user="cp-lead")
    full = c.service.ReadChild(directoryId=shielded_child, overrideReason="child_protection_enquiry", _soapheaders=h)
    assert full.shielded is True and full.address.postcode == "LS8 3PQ" and full.involvement[0].practitioner.name == "Jo Bloggs"
    assert full.overrideReason == "child_protection_enquiry"
    assert "immediate check" in full.overrideWarning
    [alert] = _open_overrides(store, shielded_child)
    assert (alert.kind, alert.user_id, alert.role, alert.reason) == ("shield_override", "cp-lead", "shield_override", "child_protection_enquiry")
    with store() as s:
        audited = s.scalars(
            select(AuditRow).where(AuditRow.directory_id == shielded_child, AuditRow.operation == audit.SHIELD_OVERRIDE)
        ).all()
    assert [(a.user_id, a.outcome) for a in audited] == [("cp-lead", "override")]

    again = c.service.ReadChild(directoryId=shielded_child, _soapheaders=h)
    assert again.shielded is True and again.address is None and again.involvement == [] and again.overrideWarning is None
    assert len(_open_overrides(store, shielded_child)) == 1  # no override, no alert

    with store.begin() as s:
        alerts.acknowledge(s, caller("management_team"), alert.id)
    assert _open_overrides(store, shielded_child) == []


@pytest.mark.parametrize("role", ["practitioner", "management_team", "system"])
def test_only_the_override_role_may_give_an_override_reason(role, shielded_child, client, store):
    code, field = fault_of(
        client("leeds").service.ReadChild, directoryId=shielded_child, overrideReason="immediate_risk_of_harm", _soapheaders=header(role)
    )
    assert (code, field) == ("NotAuthorised", "onBehalfOf.role")
    # refused before the child is looked up: an unknown directory ID gets the same fault
    assert fault_of(
        client("leeds").service.ReadChild, directoryId="CP0000000018", overrideReason="immediate_risk_of_harm", _soapheaders=header(role)
    ) == (code, field)
    assert _open_overrides(store, shielded_child) == []


def test_an_override_reason_on_an_unshielded_record_overrides_nothing(send, client, store):
    directory_id = send(opened(identity())).directoryId
    record = client("leeds").service.ReadChild(
        directoryId=directory_id, overrideReason="police_emergency", _soapheaders=header("shield_override")
    )
    assert record.shielded is False and record.overrideWarning is None and record.address is not None
    assert _open_overrides(store, directory_id) == []


def test_the_shielding_authoritys_management_team_sees_hidden_fields_others_do_not(shielded_child, client):
    own = client("leeds").service.ReadChild(directoryId=shielded_child, _soapheaders=header("management_team", reason="brokering_contact"))
    assert own.shielded is True and own.address.postcode == "LS8 3PQ" and own.overrideWarning is None
    other = client("bradford").service.ReadChild(
        directoryId=shielded_child, _soapheaders=header("management_team", organisation="Bradford MDC", reason="brokering_contact")
    )
    assert other.shielded is True and other.address is None


def test_a_lifted_shield_shows_the_record_again(shielded_child, client, store):
    with store.begin() as s:
        shields.lift(s, caller("management_team"), shielded_child, "no_longer_needed")
    record = client("leeds").service.ReadChild(directoryId=shielded_child, _soapheaders=header())
    assert record.shielded is False and record.address.postcode == "LS8 3PQ"


# --- sensitive services -----------------------------------------------------------------------


def test_a_sensitive_service_needs_recorded_consent(send):
    with pytest.raises(zeep.exceptions.Fault) as info:
        send(opened(identity(), service="mental_health", organisation="Leeds CAMHS"))
    assert info.value.detail.findtext(f".//{{{FAULT_NS}}}code") == "ConsentRequired"


def test_a_sensitive_service_is_unspecified_except_to_its_own_organisation_and_the_management_team(send, client):
    consent = Consent(given_by="child", recorded_on=date(2024, 4, 1))
    directory_id = send(opened(identity(), service="sexual_health", organisation="Leeds Sexual Health", consent=consent)).directoryId
    c = client("leeds")

    def seen(role: str, organisation: str) -> tuple[str, str]:
        inv = c.service.ReadChild(directoryId=directory_id, _soapheaders=header(role, organisation=organisation)).involvement[0]
        return inv.service, inv.practitioner.name

    assert seen("practitioner", "Leeds City Council") == ("unspecified", "Jo Bloggs")  # the contact stays
    assert seen("shield_override", "Leeds City Council") == ("unspecified", "Jo Bloggs")
    assert seen("system", "Leeds City Council") == ("unspecified", "Jo Bloggs")
    # an account with no organisations list cannot vouch for the organisation its user asserts
    assert seen("practitioner", "leeds  sexual HEALTH") == ("unspecified", "Jo Bloggs")
    assert seen("management_team", "Leeds City Council") == ("sexual_health", "Jo Bloggs")
    found = c.service.SearchChildren(identifier=[{"scheme": "directory_id", "value": directory_id}], _soapheaders=header())
    assert found[0].record.involvement[0].service == "unspecified"


def _on_behalf_of(organisation: str, role: str = "practitioner"):
    return etree.fromstring(
        f'<d:onBehalfOf xmlns:d="{DIRECTORY_NS}"><d:userId>u1</d:userId><d:organisation>{organisation}</d:organisation>'
        f"<d:role>{role}</d:role><d:reason>direct_work</d:reason></d:onBehalfOf>".encode()
    )


def test_only_a_verified_organisation_sees_its_own_sensitive_service(send, store):
    consent = Consent(given_by="child", recorded_on=date(2024, 4, 1))
    directory_id = send(opened(identity(), service="sexual_health", organisation="Leeds Sexual Health", consent=consent)).directoryId
    open_account = SystemAccount(secret="s", organisation=ORG)  # organisations: any, unverified
    listed = SystemAccount(secret="s", organisation=ORG, organisations=[ORG, "Leeds Sexual Health"])

    def seen(account: SystemAccount, organisation: str) -> str:
        who = caller_for("acct", account, _on_behalf_of(organisation))
        with store.begin() as s:
            record = service.read_child(s, who, service.ReadChildRequest(directory_id=directory_id))
        return record.involvements[0].service.value

    assert seen(open_account, "Leeds Sexual Health") == "unspecified"  # asserted, not verified (h10)
    assert seen(listed, "Leeds Sexual Health") == "sexual_health"
    assert seen(listed, ORG) == "unspecified"
    with pytest.raises(Fault) as info:
        caller_for("acct", listed, _on_behalf_of("Bradford MDC"))
    assert (info.value.code, info.value.field) == ("NotAuthorised", "onBehalfOf.organisation")


def test_a_web_link_practitioner_sees_their_own_organisations_sensitive_service(send, store):
    consent = Consent(given_by="child", recorded_on=date(2024, 4, 1))
    directory_id = send(opened(identity(), service="mental_health", organisation="Leeds CAMHS", consent=consent)).directoryId

    def seen(organisation: str) -> str:
        account = PractitionerAccount(user_id="web1", name="Ann Other", organisation=organisation, local_authority=LEEDS, roles=["practitioner"])
        who = accounts.caller_for_account(account, ReasonCode.direct_work)
        with store.begin() as s:
            record = service.read_child(s, who, service.ReadChildRequest(directory_id=directory_id))
        return record.involvements[0].service.value

    assert seen("Leeds CAMHS") == "mental_health"
    assert seen("Leeds City Council") == "unspecified"
