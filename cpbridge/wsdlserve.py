"""Serving contract files: a WSDL at ``?wsdl`` and the schemas it imports at ``?xsd=NAME``.

Contract files in the repository refer to each other by relative paths (so
they also load from disk). When served, every relative ``location`` or
``schemaLocation`` becomes ``<endpoint>?xsd=<file name>`` and the SOAP address
becomes the URL the client used, so any SOAP client can follow them.
"""

from __future__ import annotations

from pathlib import Path

from lxml import etree

WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
WSDL_SOAP_NS = "http://schemas.xmlsoap.org/wsdl/soap/"
XSD_NS = "http://www.w3.org/2001/XMLSchema"


def _rewrite_locations(root: etree._Element, endpoint: str) -> None:
    for el in root.iter(f"{{{XSD_NS}}}import", f"{{{XSD_NS}}}include", f"{{{WSDL_NS}}}import"):
        for attr in ("schemaLocation", "location"):
            value = el.get(attr)
            if value and "://" not in value:
                name = value.split("?xsd=", 1)[1] if value.startswith("?xsd=") else Path(value).name
                el.set(attr, f"{endpoint}?xsd={name}")


def render_wsdl(path: Path, endpoint: str) -> bytes:
    """The WSDL at ``path`` with its address and schema locations pointing at ``endpoint``."""
    root = etree.parse(str(path)).getroot()
    for addr in root.iter(f"{{{WSDL_SOAP_NS}}}address"):
        addr.set("location", endpoint)
    _rewrite_locations(root, endpoint)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def find_schema(name: str, search: list[Path]) -> Path | None:
    """The schema called ``name`` in the first folder of ``search`` that has it (no path traversal)."""
    if Path(name).name != name or not name.endswith(".xsd"):
        return None
    for folder in search:
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


def render_schema(path: Path, endpoint: str) -> bytes:
    root = etree.parse(str(path)).getroot()
    _rewrite_locations(root, endpoint)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")
