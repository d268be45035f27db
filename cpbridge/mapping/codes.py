"""Code lists: a local system's codes translated to canonical ones, and back.

A local code with no translation is an ``UnmappedCode`` fault unless the list
declares a ``default``; the directory is never sent a guess. The reverse list
(canonical -> local, for rendering lookups) is derived from ``map`` (the first
local code for each canonical one) and may be completed with ``reverse`` and
``reverse_default``.
"""

from __future__ import annotations

from enum import Enum

from .. import codes as canonical
from .source import Node

#: The canonical enums a code list may translate to, by name.
ENUMS: dict[str, type[Enum]] = {
    name: obj
    for name, obj in vars(canonical).items()
    if isinstance(obj, type) and issubclass(obj, Enum) and obj is not canonical.StrEnum and obj.__module__ == canonical.__name__
}


class UnmappedCodeError(LookupError):
    """A local code is not in the list (the caller turns it into a Fault naming the field)."""


class CodeList:
    def __init__(self, name: str, node: Node):
        spec = node.mapping({"to", "map", "default", "reverse", "reverse_default", "description"}, required=("to",))
        self.name = name
        self.node = node
        to = spec["to"].text()
        if to not in ENUMS:
            raise spec["to"].error(f"unknown canonical code list {to!r}; one of: {', '.join(sorted(ENUMS))}")
        self.enum: type[Enum] = ENUMS[to]
        self.map: dict[str, Enum] = {}
        if "map" in spec and spec["map"].value is not None:
            entries = list(spec["map"].items())
            for raw, (local, target) in zip(list(spec["map"].value.keys()), entries):
                if not isinstance(raw, str):
                    raise target.error(f"local code {raw!r} is read as {type(raw).__name__}; quote it so it stays text")
                self.map[local.strip()] = self._canonical(target)
        self.default = self._canonical(spec["default"]) if "default" in spec else None
        self.reverse: dict[Enum, str] = {}
        for local, member in self.map.items():
            self.reverse.setdefault(member, local)
        if "reverse" in spec:
            for code, local in spec["reverse"].items():
                member = self._canonical(Node(code, local.file, local.line, local.path))
                self.reverse[member] = _local_text(local)
        self.reverse_default = _local_text(spec["reverse_default"]) if "reverse_default" in spec else None
        if not self.map and not self.reverse:
            raise node.error("a code list needs 'map' (local -> canonical) or 'reverse' (canonical -> local)")

    def _canonical(self, node: Node) -> Enum:
        value = node.value
        try:
            return self.enum(str(value))
        except ValueError:
            raise node.error(
                f"{value!r} is not a {self.enum.__name__} code; one of: {', '.join(m.value for m in self.enum)}"
            ) from None

    def translate(self, local: str) -> Enum:
        """The canonical code for ``local``; :class:`UnmappedCodeError` if there is none."""
        key = local.strip()
        if key in self.map:
            return self.map[key]
        if self.default is not None:
            return self.default
        # Quote a short code as it is; a long value is not a code (it may be free text): don't echo it.
        shown = repr(key) if len(key) <= 20 else f"of {len(key)} characters"
        raise UnmappedCodeError(f"local code {shown} is not in code list {self.name!r}")

    def missing_reverse(self) -> list[str]:
        """Canonical codes that cannot be rendered back to a local code."""
        if self.reverse_default is not None:
            return []
        return [m.value for m in self.enum if m not in self.reverse]

    def to_local(self, member: Enum) -> str:
        if member in self.reverse:
            return self.reverse[member]
        if self.reverse_default is not None:
            return self.reverse_default
        raise UnmappedCodeError(f"code {member.value!r} has no local code in list {self.name!r}")  # load check prevents


def _local_text(node: Node) -> str:
    if node.value is None or isinstance(node.value, (dict, list)):
        raise node.error("expected a local code")
    if isinstance(node.value, bool):
        raise node.error("a bare yes/true/false is read as a boolean; quote the local code")
    return str(node.value)
