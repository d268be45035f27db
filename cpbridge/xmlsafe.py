"""Hardened XML parsing for everything that arrives from outside.

No DTDs (so no entities, internal or external, and no billion laughs), no
network access, no XInclude, a byte limit checked before parsing and a depth
limit checked after. Every refusal is an :class:`XMLRejected` with a fault code
from :mod:`cpbridge.faults` and a message that names the problem.
"""

from __future__ import annotations

from lxml import etree

from .faults import Fault

DEFAULT_MAX_BYTES = 5 * 1024 * 1024
DEFAULT_MAX_DEPTH = 64


class XMLRejected(Fault):
    """An inbound document was refused before any plugin saw it."""


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )


def check_depth(root: etree._Element, max_depth: int = DEFAULT_MAX_DEPTH) -> None:
    """Refuse a tree nested deeper than ``max_depth`` elements."""
    stack = [(root, 1)]
    while stack:
        el, depth = stack.pop()
        if depth > max_depth:
            raise XMLRejected("TooDeep", f"XML is nested more than {max_depth} elements deep")
        stack.extend((child, depth + 1) for child in el)


def parse_xml(
    data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, max_depth: int = DEFAULT_MAX_DEPTH
) -> etree._Element:
    """Parse untrusted bytes into an element, or raise :class:`XMLRejected`."""
    if not isinstance(data, (bytes, bytearray)):
        raise TypeError("parse_xml takes bytes so the document's own encoding declaration is honoured")
    if len(data) > max_bytes:
        raise XMLRejected("MessageTooLarge", f"message is {len(data)} bytes; the limit is {max_bytes}")
    if not data.strip():
        raise XMLRejected("MalformedXml", "message is empty")
    head = bytes(data[:4096]).lstrip(b"\xef\xbb\xbf").lower()
    if b"<!doctype" in head or b"<!entity" in head:
        raise XMLRejected("DtdForbidden", "DOCTYPE and entity declarations are not accepted")
    try:
        root = etree.fromstring(bytes(data), _parser())
    except etree.XMLSyntaxError as exc:
        raise XMLRejected("MalformedXml", f"XML is not well formed: {exc.msg} (line {exc.lineno})") from None
    except (ValueError, LookupError) as exc:  # unknown or inconsistent encoding
        raise XMLRejected("MalformedXml", f"XML cannot be decoded: {exc}") from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise XMLRejected("DtdForbidden", "DOCTYPE and entity declarations are not accepted")
    check_depth(root, max_depth)
    return root


def iterparse_safe(source, tag=None, events=("end",)):
    """Streaming parse (for large batch files) with the same protections."""
    return etree.iterparse(
        source,
        events=events,
        tag=tag,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
