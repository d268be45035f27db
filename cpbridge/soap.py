"""SOAP 1.1 envelopes, faults and WS-Security UsernameTokens, shared by both services.

Both services dispatch by the body's first element, validate it against their
XSD with lxml, and answer with :func:`envelope` or :func:`fault_envelope`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from lxml import etree

from .faults import FAULT_NS, Fault
from .xmlsafe import parse_xml

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope"
WSSE_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
PASSWORD_DIGEST = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
)
PASSWORD_TEXT = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText"
CONTENT_TYPE = "text/xml; charset=utf-8"


@dataclass
class Request:
    """A parsed SOAP request: header blocks and the single body element."""

    header: etree._Element | None
    body: etree._Element

    @property
    def operation(self) -> str:
        return etree.QName(self.body).localname

    def header_block(self, ns: str, name: str) -> etree._Element | None:
        if self.header is None:
            return None
        return self.header.find(f"{{{ns}}}{name}")


def parse_request(data: bytes, *, max_bytes: int) -> Request:
    """Parse untrusted bytes as a SOAP 1.1 envelope, or raise a :class:`Fault`."""
    root = parse_xml(data, max_bytes=max_bytes)
    qn = etree.QName(root)
    if qn.localname != "Envelope":
        raise Fault("NotSoap", f"root element is {qn.localname}, not a SOAP Envelope")
    if qn.namespace != SOAP_NS:
        raise Fault("VersionMismatch", f"envelope namespace {qn.namespace!r} is not SOAP 1.1")
    header = root.find(f"{{{SOAP_NS}}}Header")
    body = root.find(f"{{{SOAP_NS}}}Body")
    if body is None:
        raise Fault("NotSoap", "the envelope has no Body")
    children = [c for c in body if isinstance(c.tag, str)]
    if len(children) != 1:
        raise Fault("NotSoap", f"the Body must hold exactly one element, not {len(children)}")
    return Request(header=header, body=children[0])


def envelope(body: etree._Element, headers: tuple[etree._Element, ...] = ()) -> bytes:
    """Serialise a SOAP 1.1 envelope around ``body``."""
    env = etree.Element(f"{{{SOAP_NS}}}Envelope", nsmap={"soap": SOAP_NS})
    if headers:
        h = etree.SubElement(env, f"{{{SOAP_NS}}}Header")
        for block in headers:
            h.append(block)
    etree.SubElement(env, f"{{{SOAP_NS}}}Body").append(body)
    return etree.tostring(env, xml_declaration=True, encoding="utf-8")


def fault_envelope(fault: Fault) -> bytes:
    """A SOAP 1.1 Fault: faultcode soap:Client/Server, faultstring, and f:code in detail."""
    env = etree.Element(f"{{{SOAP_NS}}}Envelope", nsmap={"soap": SOAP_NS, "f": FAULT_NS})
    body = etree.SubElement(env, f"{{{SOAP_NS}}}Body")
    f = etree.SubElement(body, f"{{{SOAP_NS}}}Fault")
    etree.SubElement(f, "faultcode").text = f"soap:{fault.side}"
    etree.SubElement(f, "faultstring").text = fault.message
    detail = etree.SubElement(etree.SubElement(f, "detail"), f"{{{FAULT_NS}}}fault")
    etree.SubElement(detail, f"{{{FAULT_NS}}}code").text = fault.code
    if fault.field:
        etree.SubElement(detail, f"{{{FAULT_NS}}}field").text = fault.field
    return etree.tostring(env, xml_declaration=True, encoding="utf-8")


def fault_from_detail(detail: etree._Element | None, faultstring: str) -> Fault:
    """Rebuild a :class:`Fault` from a received SOAP Fault's detail element."""
    code, field = "InternalError", None
    if detail is not None:
        c = detail.find(f".//{{{FAULT_NS}}}code")
        if c is not None and c.text:
            code = c.text.strip()
        fe = detail.find(f".//{{{FAULT_NS}}}field")
        field = fe.text if fe is not None else None
    try:
        return Fault(code, faultstring, field=field)
    except ValueError:
        return Fault("InternalError", f"{code}: {faultstring}")


# --- WS-Security UsernameToken ---------------------------------------------------------


@dataclass
class UsernameToken:
    username: str
    password: str
    digest: bool
    nonce: bytes | None
    created: str | None


def read_username_token(request: Request) -> UsernameToken:
    """Extract the UsernameToken from a request's wsse:Security header."""
    sec = request.header_block(WSSE_NS, "Security")
    tok = sec.find(f"{{{WSSE_NS}}}UsernameToken") if sec is not None else None
    if tok is None:
        raise Fault("NotAuthenticated", "a WS-Security UsernameToken is required")
    user = tok.findtext(f"{{{WSSE_NS}}}Username")
    pw_el = tok.find(f"{{{WSSE_NS}}}Password")
    if not user or pw_el is None or pw_el.text is None:
        raise Fault("NotAuthenticated", "the UsernameToken needs a Username and a Password")
    nonce_text = tok.findtext(f"{{{WSSE_NS}}}Nonce")
    try:
        nonce = base64.b64decode(nonce_text.strip(), validate=True) if nonce_text else None
    except ValueError:
        raise Fault("NotAuthenticated", "the UsernameToken's Nonce is not base64") from None
    created = tok.findtext(f"{{{WSU_NS}}}Created")
    if created is None and sec is not None:
        created = sec.findtext(f"{{{WSU_NS}}}Timestamp/{{{WSU_NS}}}Created")
    digest = pw_el.get("Type", PASSWORD_TEXT) == PASSWORD_DIGEST
    return UsernameToken(user.strip(), pw_el.text.strip(), digest, nonce, created.strip() if created else None)


def password_digest(nonce: bytes, created: str, secret: str) -> str:
    """Base64(SHA-1(nonce + created + password)), the UsernameToken profile digest."""
    return base64.b64encode(hashlib.sha1(nonce + created.encode() + secret.encode()).digest()).decode()


class NonceCache:
    """Remembers nonces for the freshness window so a captured token cannot be replayed."""

    def __init__(self, window_seconds: int = 300):
        self.window = window_seconds
        self._seen: dict[tuple[str, bytes], float] = {}
        self._lock = threading.Lock()

    def check_and_add(self, username: str, nonce: bytes) -> bool:
        now = time.monotonic()
        with self._lock:
            if len(self._seen) > 10000:
                self._seen = {k: t for k, t in self._seen.items() if now - t < self.window}
            key = (username, nonce)
            if key in self._seen and now - self._seen[key] < self.window:
                return False
            self._seen[key] = now
            return True


def verify_username_token(
    token: UsernameToken,
    secret: str,
    nonces: NonceCache,
    *,
    require_digest: bool = False,
    max_age: timedelta = timedelta(minutes=5),
) -> None:
    """Check a token against the account's secret; raise :class:`Fault` if it fails."""
    if token.digest:
        if not token.nonce or not token.created:
            raise Fault("NotAuthenticated", "a password digest needs a Nonce and a Created time")
        expected = password_digest(token.nonce, token.created, secret)
        if not hmac.compare_digest(expected.encode(), token.password.encode()):
            raise Fault("NotAuthenticated", "wrong user name or password")
    else:
        if require_digest:
            raise Fault("NotAuthenticated", "this service requires PasswordDigest")
        if not hmac.compare_digest(token.password.encode(), secret.encode()):
            raise Fault("NotAuthenticated", "wrong user name or password")
    if token.created:
        try:
            created = datetime.fromisoformat(token.created.replace("Z", "+00:00"))
        except ValueError:
            raise Fault("NotAuthenticated", "the token's Created time is not an ISO 8601 timestamp") from None
        if created.tzinfo is None:
            created = created.replace(tzinfo=timezone.utc)
        now = datetime.now(timezone.utc)
        if abs(now - created) > max_age:
            raise Fault("Replay", "the token's Created time is outside the allowed window")
    if token.nonce and not nonces.check_and_add(token.username, token.nonce):
        raise Fault("Replay", "the token's nonce has been used already")
