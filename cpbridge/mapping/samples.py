"""Sample messages as tests of a mapping: ``cpbridge mappings check`` runs them all.

Every ``*.xml`` in a mapping's samples folder is run through it: an inbound
message must produce events, a lookup must parse into a LookupRequest and its
response template must render. A ``<name>.expected.json`` beside a sample is
compared exactly: a list of events in wire form, a LookupRequest in wire form,
or ``{"fault": "<code>"}`` for a sample that must be refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from ..faults import Fault
from ..model import LookupResult
from ..soap import SOAP_NS
from ..xmlsafe import parse_xml
from .errors import MappingError, display_path


@dataclass
class SampleReport:
    """The outcome of one sample (``sample`` is None when the mapping itself failed to load)."""

    file: Path
    sample: Path | None
    ok: bool
    error: str | None = None
    events: int = 0
    message_type: str | None = None
    kind: str = "events"  # events | lookup | mapping
    compared: bool = False  # an .expected.json was checked

    def describe(self) -> str:
        name = self.sample.name if self.sample else display_path(self.file)
        if not self.ok:
            return f"FAIL {name}: {self.error}"
        if self.kind == "mapping":
            return f"ok   {name}: loaded"
        what = f"{self.events} event(s)" if self.kind == "events" else self.kind
        return f"ok   {name}: {self.message_type} -> {what}" + (" (matches expected)" if self.compared else "")


def _body(root: etree._Element) -> etree._Element:
    """A sample may be a bare body element or a whole SOAP 1.1 envelope."""
    if root.tag == f"{{{SOAP_NS}}}Envelope":
        body = root.find(f"{{{SOAP_NS}}}Body")
        children = [c for c in body if isinstance(c.tag, str)] if body is not None else []
        if len(children) == 1:
            return children[0]
    return root


def _expected(sample: Path):
    path = sample.with_name(sample.name[: -len(".xml")] + ".expected.json")
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def check_sample(mapping, sample: Path) -> SampleReport:
    report = SampleReport(file=mapping.path, sample=sample, ok=False)
    try:
        expected = _expected(sample)
    except (OSError, ValueError) as exc:
        report.error = f"cannot read its .expected.json: {exc}"
        return report
    try:
        root = _body(parse_xml(sample.read_bytes()))
        report.message_type = mapping.message_type(root)
        if mapping.is_lookup(root):
            report.kind = "lookup"
            request = mapping.lookup_request(root)
            mapping.render_lookup(request, LookupResult())
            actual = request.wire()
        else:
            message_id = mapping.message_id(root) or sample.stem
            events = mapping.events(root, message_id)
            report.events = len(events)
            actual = [e.wire() for e in events]
            if not events and expected is None:
                report.error = "the message produced no events"
                return report
    except Fault as fault:
        if isinstance(expected, dict) and expected.get("fault") == fault.code:
            report.ok = report.compared = True
            return report
        report.error = f"{fault.code}: {fault.message}"
        return report
    if expected is not None:
        report.compared = True
        if json.loads(json.dumps(actual)) != expected:
            report.error = "differs from its .expected.json:\n" + _diff(expected, actual)
            return report
    report.ok = True
    return report


def _diff(expected, actual) -> str:
    import difflib

    a = json.dumps(expected, indent=2, sort_keys=True).splitlines()
    b = json.dumps(actual, indent=2, sort_keys=True).splitlines()
    return "\n".join(difflib.unified_diff(a, b, "expected", "actual", lineterm="", n=2))


def check_samples(mapping) -> list[SampleReport]:
    """One report per ``*.xml`` in the mapping's samples folder (none if it has no folder)."""
    if mapping.samples_dir is None:
        return []
    return [check_sample(mapping, p) for p in sorted(mapping.samples_dir.glob("*.xml"))]


def check_all(directory: Path) -> list[SampleReport]:
    """Load every mapping under ``directory`` and run its samples; load errors are reports too."""
    from .mapping import load_mapping

    reports: list[SampleReport] = []
    ids: dict[str, Path] = {}
    for path in sorted(Path(directory).glob("*/*.yaml")):
        try:
            mapping = load_mapping(path)
        except MappingError as exc:
            reports.append(SampleReport(file=path, sample=None, ok=False, error=str(exc), kind="mapping"))
            continue
        if mapping.id in ids:
            error = MappingError(path, mapping.id_line, "id", f"{mapping.id!r} is already the id of {ids[mapping.id]}")
            reports.append(SampleReport(file=path, sample=None, ok=False, error=str(error), kind="mapping"))
            continue
        ids[mapping.id] = path
        reports.append(SampleReport(file=path, sample=None, ok=True, kind="mapping"))
        reports.extend(check_samples(mapping))
    return reports
