"""What every product's tests read the same way: its samples, their events, its case notes, its system type."""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from cpbridge.mapping import Mapping
from cpbridge.plugins import make_plugin_manager
from cpbridge.systems import SystemType
from cpbridge.xmlsafe import parse_xml


def case_notes(samples: Path) -> list[str]:
    """The sentences in a product's CASE_NOTES.txt: text that must never leave the adapter."""
    return [s for s in (samples / "CASE_NOTES.txt").read_text(encoding="utf-8").splitlines() if s.strip()]


def sample_root(samples: Path, name: str) -> etree._Element:
    """A sample parsed the way the adapter parses what it receives."""
    return parse_xml((samples / name).read_bytes())


def sample_events(mapping: Mapping, samples: Path, name: str) -> list[dict]:
    """The canonical events (wire form) a sample yields, under its own message id."""
    root = sample_root(samples, name)
    return [e.wire() for e in mapping.events(root, mapping.message_id(root))]


def declared_types(name: str) -> list[SystemType]:
    """Every system type called ``name`` that the installed plugins declare."""
    return [t for batch in make_plugin_manager().hook.register_system_types() for t in batch if t.name == name]
