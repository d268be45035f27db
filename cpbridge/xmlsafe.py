"""Hardened XML parsing for everything that arrives from outside.

No DTDs (so no entities, internal or external, and no billion laughs), no
network access, no XInclude, a byte limit checked before parsing and a depth
limit checked after. Every refusal is an :class:`XMLRejected` with a fault code
from :mod:`cpbridge.faults` and a message that names the problem.
"""

from __future__ import annotations

import re

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


_SPACE = re.compile(rb"[ \t\r\n]*")


def _one_byte_view(data: bytes) -> bytes:
    """The document with its code units narrowed to one byte each (enough to read ASCII markup)."""
    for bom, start, step in (
        (b"\x00\x00\xfe\xff", 7, 4),
        (b"\xff\xfe\x00\x00", 4, 4),
        (b"\xfe\xff", 3, 2),
        (b"\xff\xfe", 2, 2),
        (b"\x00\x00\x00<", 3, 4),
        (b"<\x00\x00\x00", 0, 4),
        (b"\x00<", 1, 2),
        (b"<\x00", 0, 2),
    ):
        if data.startswith(bom):
            return data[start::step]
    return data[3:] if data.startswith(b"\xef\xbb\xbf") else data


def has_doctype(data: bytes) -> bool:
    """True if the document declares a DOCTYPE in its prolog, however far down and in UTF-8, -16 or -32.

    Walks the prolog (XML declaration, whitespace, comments, processing
    instructions) in linear time; a DOCTYPE can appear nowhere else.
    """
    view = _one_byte_view(data)
    i = 0
    while True:
        i = _SPACE.match(view, i).end()
        if view.startswith(b"<!--", i):
            end = view.find(b"-->", i + 4)
            skip = 3
        elif view.startswith(b"<?", i):
            end = view.find(b"?>", i + 2)
            skip = 2
        else:
            return view.startswith(b"<!DOCTYPE", i)
        if end < 0:
            return False  # unterminated: the parser will refuse it
        i = end + skip


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
    if has_doctype(bytes(data)):
        raise XMLRejected("DtdForbidden", "DOCTYPE and entity declarations are not accepted")
    try:
        root = etree.fromstring(bytes(data), _parser())
    except etree.XMLSyntaxError as exc:
        if "depth" in (exc.msg or "").lower():  # libxml2's own nesting limit (256) came first
            raise XMLRejected("TooDeep", f"XML is nested more than {max_depth} elements deep") from None
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
