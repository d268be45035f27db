"""Malformed and hostile XML at the adapter's SOAP and XML endpoints, and oversize requests.

The adapter is a real ``cpbridge adapter serve`` process, so its memory can be
read from /proc. Every request must get a clear SOAP Fault (or XML error)
with the right code, never the contents of a local file, and the process's
peak memory must stay bounded while it refuses a 50 MB stream and parses a
message with a multi-megabyte text node. Nothing hostile reaches the outbox.
"""

from __future__ import annotations

import select
import socket
import time

import pytest
import requests
from lxml import etree

from bench.delivery_messages import CV_NS, referral, soap
from cpbridge.adapter.outbox import Outbox
from cpbridge.faults import FAULT_CODES, FAULT_NS
from cpbridge.soap import SOAP_NS
from cpbridge.testing import free_port

from .conftest import AdapterProcess, adapter_settings

pytestmark = pytest.mark.fault

LIMIT = 5 * 1024 * 1024
PASSWD_MARKERS = (b"root:x:0:0", b"/bin/bash", b"/usr/sbin/nologin", b"daemon:")
CV = f'xmlns:cv="{CV_NS}"'


def msg(inner: str = "", prolog: str = "") -> bytes:
    """A ReferralAccepted-shaped body with ``inner`` inside, after an optional prolog."""
    return f'<?xml version="1.0" encoding="UTF-8"?>{prolog}<cv:ReferralAccepted {CV}>{inner}</cv:ReferralAccepted>'.encode()


def in_soap(prolog: str, inner: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>{prolog}<soap:Envelope xmlns:soap="{SOAP_NS}"><soap:Body>'
        f"<cv:ReferralAccepted {CV}>{inner}</cv:ReferralAccepted></soap:Body></soap:Envelope>"
    ).encode()


LAUGHS = (
    '<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol%s;" % ("" if i == 1 else i - 1)) * 10}">' for i in range(1, 10))
    + "]>"
)
XXE = '<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
PARAM = '<!DOCTYPE x [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>'
EXTERNAL_DTD = '<!DOCTYPE x SYSTEM "http://127.0.0.1:9/evil.dtd">'
PAD = "<!--" + "x" * 5000 + "-->"  # pushes a DOCTYPE past the parser's quick first-4-KiB check


def deep(levels: int) -> str:
    return "<cv:Client>" * levels + "</cv:Client>" * levels


# name -> (SOAP body, plain-XML body, expected fault code)
CASES: dict[str, tuple[bytes, bytes, str]] = {
    "xxe_file": (in_soap(XXE, "<cv:Header>&xxe;</cv:Header>"), msg("&xxe;", XXE), "DtdForbidden"),
    "xxe_after_4k_of_comment": (in_soap(PAD + XXE, "&xxe;"), msg("&xxe;", PAD + XXE), "DtdForbidden"),
    "parameter_entity": (in_soap(PARAM, ""), msg("", PARAM), "DtdForbidden"),
    "billion_laughs": (in_soap(LAUGHS, "&lol9;"), msg("&lol9;", LAUGHS), "DtdForbidden"),
    "billion_laughs_past_4k": (in_soap(PAD + LAUGHS, "&lol9;"), msg("&lol9;", PAD + LAUGHS), "DtdForbidden"),
    "billion_laughs_utf16": (
        in_soap(LAUGHS, "&lol9;").decode().replace("UTF-8", "UTF-16").encode("utf-16"),
        msg("&lol9;", LAUGHS).decode().replace("UTF-8", "UTF-16").encode("utf-16"),
        "DtdForbidden",
    ),
    "external_dtd": (in_soap(EXTERNAL_DTD, ""), msg("", EXTERNAL_DTD), "DtdForbidden"),
    "xinclude_is_not_processed": (
        in_soap("", '<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="file:///etc/passwd" parse="text"/>'),
        msg('<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="file:///etc/passwd" parse="text"/>'),
        "InvalidRequest",
    ),
    "nested_100_deep": (in_soap("", deep(100)), msg(deep(100)), "TooDeep"),
    "nested_100000_deep": (in_soap("", deep(100_000)), msg(deep(100_000)), "TooDeep"),
    "truncated": (in_soap("", "<cv:Header><cv:MessageId>CV-1")[:-40], msg("<cv:Header>")[:-30], "MalformedXml"),
    "empty": (b"", b"", "MalformedXml"),
    "not_xml": (b"name=Amelia&dob=2015-03-02", b"name=Amelia&dob=2015-03-02", "MalformedXml"),
    "declared_utf16_but_utf8": (
        in_soap("", "").replace(b"UTF-8", b"UTF-16"), msg().replace(b"UTF-8", b"UTF-16"), "MalformedXml"
    ),
    "unknown_encoding": (in_soap("", "").replace(b"UTF-8", b"x-klingon"), msg().replace(b"UTF-8", b"x-klingon"), "MalformedXml"),
    "invalid_utf8_bytes": (
        in_soap("", "<cv:Header>LATIN1</cv:Header>").replace(b"LATIN1", "Zoë".encode("latin-1")),
        msg("<cv:Header>LATIN1</cv:Header>").replace(b"LATIN1", "Zoë".encode("latin-1")),
        "MalformedXml",
    ),
    "soap12_envelope": (
        in_soap("", "").replace(SOAP_NS.encode(), b"http://www.w3.org/2003/05/soap-envelope"),
        None,
        "VersionMismatch",
    ),
    "not_an_envelope": (msg(), None, "NotSoap"),
    "two_body_elements": (
        in_soap("", "").replace(b"</soap:Body>", b"<x/></soap:Body>"),
        None,
        "NotSoap",
    ),
    "wrong_message_namespace": (
        in_soap("", "").replace(CV_NS.encode(), b"urn:someone-else:1"),
        msg().replace(CV_NS.encode(), b"urn:someone-else:1"),
        "UnknownMessageType",
    ),
}


@pytest.fixture(scope="module")
def adapter(tmp_path_factory):
    import shutil

    from .conftest import ROOT

    base = tmp_path_factory.mktemp("hostile")
    project = base / "project"
    shutil.copytree(ROOT / "mappings" / "ics", project / "mappings" / "ics")
    (project / "samples").mkdir()
    (project / "samples" / "ics").symlink_to(ROOT / "samples" / "ics")
    settings = adapter_settings(project, base / "data", free_port(), max_message_bytes=LIMIT)
    proc = AdapterProcess(settings, base).start()
    yield proc
    proc.stop()


def fault_code(resp_body: bytes) -> tuple[str, str]:
    root = etree.fromstring(resp_body)
    fault = root.find(f".//{{{SOAP_NS}}}Fault")
    assert fault is not None, resp_body[:300]
    return fault.findtext("faultcode"), fault.findtext(f"detail/{{{FAULT_NS}}}fault/{{{FAULT_NS}}}code")


def assert_no_leak(body: bytes) -> None:
    for marker in PASSWD_MARKERS:
        assert marker not in body, "a local file's contents were sent back"


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_soap_gets_a_clear_fault(adapter, case):
    body, _, code = CASES[case]
    resp = requests.post(f"{adapter.url}/systems/ics/soap", data=body, headers={"Content-Type": "text/xml"}, timeout=30)
    assert_no_leak(resp.content)
    assert resp.status_code == 500
    faultcode, got = fault_code(resp.content)
    assert got == code, resp.text[:500]
    assert faultcode == f"soap:{FAULT_CODES[code][0]}"
    assert len(resp.content) < 4096


@pytest.mark.parametrize("case", sorted(c for c in CASES if CASES[c][1] is not None))
def test_hostile_xml_gets_a_clear_error(adapter, case):
    _, body, code = CASES[case]
    resp = requests.post(f"{adapter.url}/systems/ics/messages", data=body, headers={"Content-Type": "application/xml"}, timeout=30)
    assert_no_leak(resp.content)
    assert resp.status_code == FAULT_CODES[code][1]
    root = etree.fromstring(resp.content)
    assert root.tag == f"{{{FAULT_NS}}}error" and root.findtext(f"{{{FAULT_NS}}}code") == code, resp.text[:500]


def test_unknown_system_is_a_fault(adapter):
    resp = requests.post(f"{adapter.url}/systems/nobody/soap", data=soap(referral(1, 1)), timeout=10)
    assert resp.status_code == 500 and fault_code(resp.content)[1] == "UnknownSystem"


def raw_post(port: int, path: str, headers: dict[str, str], chunks, *, chunked: bool) -> bytes:
    """POST over a bare socket, stopping the upload as soon as the server answers; return the answer."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    if chunked:
        head += "Transfer-Encoding: chunked\r\n"
    sock.sendall(head.encode() + b"\r\n")
    try:
        for chunk in chunks:
            if select.select([sock], [], [], 0)[0]:
                break  # the server has answered: stop sending
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
        else:
            if chunked:
                sock.sendall(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    answer = b""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            break
        if not data:
            break
        answer += data
    sock.close()
    return answer


def test_oversize_and_huge_requests_keep_memory_bounded(adapter, fault_summary):
    adapter.reset_peak()
    before = adapter.rss_kib("VmRSS")
    answers = {}

    # 50 MB streamed with no Content-Length: refused once 5 MB have been read
    chunk = b"<cv:Line>" + b"A" * 65_000 + b"</cv:Line>"
    stream = (chunk for _ in range(800))
    answers["stream_50MB"] = raw_post(adapter.port, "/systems/ics/soap", {"Content-Type": "text/xml"}, stream, chunked=True)

    # a Content-Length of 50 MB is refused before anything is read
    answers["declared_50MB"] = raw_post(
        adapter.port, "/systems/ics/soap", {"Content-Type": "text/xml", "Content-Length": str(50 * 1024 * 1024)}, iter([b"<x/>"]), chunked=False
    )
    for name, answer in answers.items():
        assert b" 500 " in answer.split(b"\r\n", 1)[0], (name, answer[:200])
        assert b"MessageTooLarge" in answer, (name, answer[-500:])

    # just under the limit: a well-formed message whose case-note text node is 4.5 MB
    big = soap(referral(42, 42, padding=int(4.5 * 1024 * 1024)))
    assert len(big) < LIMIT
    resp = requests.post(f"{adapter.url}/systems/ics/soap", data=big, headers={"Content-Type": "text/xml"}, timeout=60)
    assert resp.status_code == 200, resp.text[:300]  # case notes are never read, so it is accepted
    # and a 4.5 MB text node where the mapping does read: refused by the model, not by memory
    huge_name = soap(referral(43, 43)).replace(b"<cv:Forename>", b"<cv:Forename>" + b"B" * int(4.5 * 1024 * 1024))
    resp = requests.post(f"{adapter.url}/systems/ics/soap", data=huge_name, headers={"Content-Type": "text/xml"}, timeout=60)
    assert resp.status_code == 500 and fault_code(resp.content)[1] == "InvalidRequest"
    assert b"BBBBBBBBBB" not in resp.content, "the fault echoes the huge value back"

    growth_mib = (adapter.rss_kib() - before) / 1024
    fault_summary.update(
        {"RSS before MiB": round(before / 1024, 1), "peak RSS growth MiB (50 MB stream, 4.5 MB text nodes)": round(growth_mib, 1)}
    )
    assert growth_mib < 64, f"peak memory grew by {growth_mib:.0f} MiB"
    assert requests.get(f"{adapter.url}/healthz", timeout=5).status_code == 200


def test_nothing_hostile_reached_the_outbox(adapter):
    """Run last in this module: only the one good oversize-but-legal message was stored."""
    outbox = Outbox(adapter.settings.outbox_db_url(), run_migrations=False)
    try:
        rows = outbox.rows(limit=100)
    finally:
        outbox.close()
    assert len(rows) <= 1
    assert all(r.event_type == "involvement_opened" and "CV0000042" in r.child_key for r in rows)
