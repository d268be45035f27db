"""Streaming reader for DfE Common Transfer Files (CTF): one message per pupil.

A CTF (root ``CTfile``) holds a ``Header`` naming the source and destination
schools and ``CTFpupilData`` with one ``Pupil`` per child. Files of thousands of
pupils are read with :func:`cpbridge.xmlsafe.iterparse_safe`: each ``Pupil`` is
copied into a small synthetic wrapper as soon as it is complete, then cleared
and dropped from the partial tree with its preceding siblings, so memory stays
flat whatever the size of the file.

The wrapper (namespace :data:`WRAPPER_NS`) is what the mapping
``mappings/school/ctf.yaml`` reads::

    <t:CTFPupil xmlns:t="urn:cpbridge:school:ctf:1" id="ctf:<file digest>:<UPN>">
      <t:Joining dfeNumber="3834013" name="Harehills Primary School"/>   DestSchool is served here
      <t:Leaving dfeNumber="3834012" name="Bankside Primary School"/>    SourceSchool is served here
      <Header>...copied from the file...</Header>
      <Pupil>...copied from the file...</Pupil>
    </t:CTFPupil>

Which schools are "here" is configuration (``options.schools``: DfE number ->
school name), because a CTF carries no name for its destination school.
"""

from __future__ import annotations

import re
from copy import deepcopy
from pathlib import Path
from typing import Any, Iterator, Mapping

from lxml import etree

from cpbridge import Fault
from cpbridge.xmlsafe import XMLRejected, iterparse_safe

WRAPPER_NS = "urn:cpbridge:school:ctf:1"
DOCUMENT_NAME = "Common Transfer File"
_W = f"{{{WRAPPER_NS}}}"
_DFE = re.compile(r"^\d{3}/?\d{4}$")


def dfe_number(value: Any) -> str:
    """Normalise a DfE number (LA code + establishment number) to seven digits: ``383/4013`` -> ``3834013``."""
    text = str(value).strip()
    if not _DFE.match(text):
        raise ValueError(f"{value!r} is not a DfE number (3-digit LA code and 4-digit establishment number, e.g. 383/4013)")
    return text.replace("/", "")


def served_schools(options: Mapping[str, Any]) -> dict[str, str]:
    """The ``schools`` option (DfE number -> school name) checked and normalised; a ValueError names the problem."""
    raw = options.get("schools")
    if not isinstance(raw, Mapping) or not raw:
        raise ValueError(
            "school system option 'schools' is required: a table of DfE number -> school name for the schools "
            "whose CTFs arrive in the watch folder"
        )
    out: dict[str, str] = {}
    for number, name in raw.items():
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"option 'schools': school {number!r} needs its name")
        out[dfe_number(number)] = name.strip()
    return out


def _refuse_dtd(path: Path) -> None:
    with path.open("rb") as fh:
        head = fh.read(4096).lstrip(b"\xef\xbb\xbf").lower()
    if not head.strip():
        raise XMLRejected("MalformedXml", f"{path.name} is empty")
    if b"<!doctype" in head or b"<!entity" in head:
        raise XMLRejected("DtdForbidden", f"{path.name}: DOCTYPE and entity declarations are not accepted")


def _school(header: etree._Element, which: str, path: Path) -> str:
    el = header.find(which)
    lea = (el.findtext("LEA") or "").strip() if el is not None else ""
    estab = (el.findtext("Estab") or "").strip() if el is not None else ""
    if not lea or not estab:
        raise Fault("InvalidRequest", f"{path.name}: Header/{which} needs LEA and Estab", field=f"Header.{which}")
    return f"{lea}{estab}"


def _release(el: etree._Element) -> None:
    """Free a finished element and everything before it (the iterparse flat-memory idiom)."""
    el.clear(keep_tail=False)
    parent = el.getparent()
    if parent is not None:
        while el.getprevious() is not None:
            del parent[0]


class CTFSplitter:
    """A :data:`cpbridge.sources.Splitter` for CTF files: yields ``(message_id, wrapper)`` per pupil.

    The message id is ``ctf:<file digest>:<UPN>``, so re-reading the same file
    after a crash yields the same ids and the outbox recognises what it already
    holds. A pupil listed twice in one file is therefore taken once. A file
    that is not a CTF, whose header is incomplete, or that concerns none of the
    configured schools is refused as a whole (before any pupil is yielded).
    """

    def __init__(self, schools: Mapping[str, str]):
        self.schools = dict(schools)

    def __call__(self, path: Path, digest: str) -> Iterator[tuple[str, etree._Element]]:
        path = Path(path)
        _refuse_dtd(path)
        header: etree._Element | None = None
        marks: list[etree._Element] = []
        position = 0
        with path.open("rb") as fh:
            for event, el in iterparse_safe(fh, tag=("CTfile", "Header", "Pupil"), events=("start", "end")):
                if event == "start":
                    root = el.getroottree().getroot()
                    if root.tag != "CTfile":
                        raise Fault("UnknownMessageType", f"{path.name}: root element is <{root.tag}>, not a CTF's <CTfile>")
                    continue
                parent = el.getparent()
                if el.tag == "Header" and parent is not None and parent.tag == "CTfile":
                    header = deepcopy(el)
                    marks = self._marks(header, path)
                    _release(el)
                elif el.tag == "Pupil" and parent is not None and parent.tag == "CTFpupilData":
                    if header is None:
                        raise Fault("InvalidRequest", f"{path.name}: a Pupil comes before the Header")
                    position += 1
                    upn = re.sub(r"\s+", "", el.findtext("UPN") or "").upper()
                    message_id = f"ctf:{digest}:{upn or f'pupil-{position}'}"
                    wrapper = etree.Element(f"{_W}CTFPupil", nsmap={"t": WRAPPER_NS}, id=message_id)
                    for mark in marks:
                        wrapper.append(deepcopy(mark))
                    wrapper.append(deepcopy(header))
                    wrapper.append(deepcopy(el))
                    _release(el)
                    yield message_id, wrapper
        if header is None:
            raise Fault("UnknownMessageType", f"{path.name} is not a Common Transfer File (no CTfile/Header)")

    def _marks(self, header: etree._Element, path: Path) -> list[etree._Element]:
        name = (header.findtext("DocumentName") or "").strip()
        if name != DOCUMENT_NAME:
            raise Fault("UnknownMessageType", f"{path.name}: Header/DocumentName is {name!r}, not {DOCUMENT_NAME!r}")
        source = _school(header, "SourceSchool", path)
        dest = _school(header, "DestSchool", path)
        marks = []
        if dest in self.schools:
            marks.append(etree.Element(f"{_W}Joining", dfeNumber=dest, name=self.schools[dest]))
        if source in self.schools:
            marks.append(etree.Element(f"{_W}Leaving", dfeNumber=source, name=self.schools[source]))
        if not marks:
            raise Fault(
                "InvalidRequest",
                f"{path.name}: the CTF goes from {source} to {dest}; neither is a school this folder serves "
                f"({', '.join(sorted(self.schools))})",
                field="Header.DestSchool",
            )
        return marks
