"""Who may do what: the rights matrix, what an account may assert, and the client-certificate check."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests
import zeep
import zeep.exceptions
from rules_helpers import SECRETS, rules_settings, SYSTEM, caller, demographics, header, identity, opened
from zeep.wsse.username import UsernameToken

from cpbridge.codes import ActorRole
from cpbridge.contract import DIRECTORY_WSDL
from cpbridge.directory import access
from cpbridge.directory.access import RIGHTS, Right
from cpbridge.directory.app import create_app
from cpbridge.faults import FAULT_NS, Fault
from cpbridge.settings import DirectorySettings, SystemAccount

DOCS = Path(__file__).resolve().parents[2] / "docs" / "security.md"


def code_of(call, *args, **kwargs) -> tuple[str, str | None]:
    with pytest.raises(zeep.exceptions.Fault) as info:
        call(*args, **kwargs)
    d = info.value.detail
    return d.findtext(f".//{{{FAULT_NS}}}code"), d.findtext(f".//{{{FAULT_NS}}}field")


def test_an_account_may_assert_only_the_roles_it_is_configured_for(client):
    adapter = client("adapter")  # default roles: practitioner and system
    for role in ("management_team", "shield_override", "administrator"):
        assert code_of(adapter.service.ReadChild, directoryId="CP0000000018", _soapheaders=header(role)) == (
            "NotAuthorised", "onBehalfOf.role"
        )
    assert code_of(adapter.service.ReadChild, directoryId="CP0000000018", _soapheaders=header("practitioner"))[0] == "NoSuchChild"


def test_an_administrator_never_reads_or_searches_children(send, client):
    ident = identity()
    directory_id = send(opened(ident)).directoryId
    c = client("leeds")
    admin = header("administrator", user="admin-1")
    assert code_of(c.service.ReadChild, directoryId=directory_id, _soapheaders=admin)[0] == "NotAuthorised"
    assert code_of(c.service.SearchChildren, identifier=[ident.identifiers[0].wire()], _soapheaders=admin)[0] == "NotAuthorised"


@pytest.mark.parametrize("role", ["practitioner", "shield_override", "management_team", "administrator"])
def test_only_a_system_writes_demographics(role, send):
    with pytest.raises(zeep.exceptions.Fault) as info:
        send(demographics(identity()), account="leeds", header=header(role))
    assert info.value.detail.findtext(f".//{{{FAULT_NS}}}code") == "NotAuthorised"


def test_practitioners_and_systems_register_involvements_management_and_admin_do_not(send):
    assert send(opened(identity()), account="leeds", header=header("practitioner")).outcome == "applied"
    assert send(opened(identity()), account="leeds", header=SYSTEM).outcome == "applied"
    for role in ("management_team", "administrator"):
        with pytest.raises(zeep.exceptions.Fault) as info:
            send(opened(identity()), account="leeds", header=header(role))
        assert info.value.detail.findtext(f".//{{{FAULT_NS}}}code") == "NotAuthorised"


def test_every_role_and_right_is_decided_and_deny_is_the_default():
    assert set(RIGHTS) == set(ActorRole)
    assert Right.read_child not in RIGHTS[ActorRole.administrator]
    assert RIGHTS[ActorRole.administrator] == {Right.manage_accounts}
    assert [r for r, rights in RIGHTS.items() if Right.override_shield in rights] == [ActorRole.shield_override]
    assert not access.has_right(None, Right.read_child)
    with pytest.raises(Fault) as info:
        access.require(caller("administrator"), Right.search_children)
    assert info.value.code == "NotAuthorised"
    assert set(access.OPERATION_RIGHTS) == {
        "RegisterInvolvement", "EndInvolvement", "SetLeadProfessional", "RemoveLeadProfessional", "RecordAssessment",
        "UpdateDemographics", "UpdateSetting", "SearchChildren", "ReadChild",
    }


def test_the_rights_table_in_docs_matches_the_code():
    text = DOCS.read_text()
    section = text.split("## Roles and rights", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    roles = [r.value for r in ActorRole]
    header_line = next(line for line in section.splitlines() if line.startswith("| Right"))
    cols = [c.strip().strip("`") for c in header_line.strip("|").split("|")][1:]
    assert cols == roles, "the table's columns must be the roles in ActorRole order"
    documented = {}
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        right = re.sub(r"`", "", cells[0])
        documented[right] = {role for role, cell in zip(roles, cells[1:]) if cell == "yes"}
    assert set(documented) == {r.value for r in Right}
    for right, holders in documented.items():
        assert holders == {role.value for role, rights in RIGHTS.items() if Right(right) in rights}, right


# --- mutual TLS through a terminating proxy ------------------------------------------------------


def test_client_certificate_subject_check():
    settings = DirectorySettings(client_cert_header="X-SSL-Client-S-DN")
    pinned = SystemAccount(secret="s", organisation="o", client_cert_subject="CN=ics-adapter,O=Leeds City Council")
    plain = SystemAccount(secret="s", organisation="o")
    access.check_client_certificate("a", pinned, settings, "CN=ics-adapter,O=Leeds City Council")
    access.check_client_certificate("a", plain, settings, None)
    for subject in (None, "CN=someone-else,O=Leeds City Council"):
        with pytest.raises(Fault) as info:
            access.check_client_certificate("a", pinned, settings, subject)
        assert info.value.code == "NotAuthenticated"
    with pytest.raises(Fault):
        access.check_client_certificate("a", plain, settings.model_copy(update={"require_client_cert": True}), None)
    # without the header setting, nothing is checked (mutual TLS not in use)
    access.check_client_certificate("a", pinned, DirectorySettings(), None)


def test_the_proxy_header_reaches_the_check(serve, tmp_path):
    settings = rules_settings(tmp_path, client_cert_header="X-SSL-Client-S-DN")
    settings.directory.accounts["adapter"].client_cert_subject = "CN=ics-adapter"
    server = serve(create_app(settings))
    wsdl = zeep.Client(str(DIRECTORY_WSDL)).wsdl

    def read(subject: str | None):
        s = requests.Session()
        if subject:
            s.headers["X-SSL-Client-S-DN"] = subject
        c = zeep.Client(wsdl=wsdl, wsse=UsernameToken("adapter", SECRETS["adapter"], use_digest=True), transport=zeep.Transport(session=s))
        svc = c.create_service(next(iter(c.wsdl.bindings)), f"{server.url}/directory/soap")
        return code_of(svc.ReadChild, directoryId="CP0000000018", _soapheaders=header())[0]

    assert read("CN=ics-adapter") == "NoSuchChild"
    assert read("CN=intruder") == "NotAuthenticated"
    assert read(None) == "NotAuthenticated"


# --- involvements belong to the account that registered them -------------------------------------


def test_another_account_cannot_take_over_an_involvement_over_soap(send, client):
    event = opened(identity())
    directory_id = send(event).directoryId
    hijack = event.model_copy(update={"event_id": f"{event.event_id}-x", "child": identity(given="Anyone")})
    wire = hijack.model_dump(mode="json", by_alias=True, exclude_none=True)
    wire.pop("type")
    bradford = client("bradford").service
    with pytest.raises(zeep.exceptions.Fault) as info:
        bradford.RegisterInvolvement(**wire, _soapheaders=header(organisation="Bradford MDC"))
    detail = info.value.detail
    assert (detail.findtext(f".//{{{FAULT_NS}}}code"), detail.findtext(f".//{{{FAULT_NS}}}field")) == ("NotAuthorised", "localReference")
    assert directory_id not in info.value.message
    # the registering account still updates it
    again = event.model_copy(update={"event_id": f"{event.event_id}-y"})
    assert send(again).outcome == "applied"
