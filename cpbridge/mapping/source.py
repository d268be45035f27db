"""Mapping files read with ruamel.yaml, every node wrapped with its file, line and path.

Compilation walks :class:`Node` objects so any problem it finds is raised with
:meth:`Node.error`, which names the file, the line and the dotted field path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from .errors import MappingError


class Node:
    """A YAML value with where it came from."""

    __slots__ = ("value", "file", "line", "path")

    def __init__(self, value: Any, file: Path, line: int, path: str):
        self.value = value
        self.file = file
        self.line = line
        self.path = path

    # --- errors ---------------------------------------------------------------------------

    def error(self, problem: str) -> MappingError:
        return MappingError(self.file, self.line, self.path, problem)

    # --- shape ----------------------------------------------------------------------------

    @property
    def is_map(self) -> bool:
        return isinstance(self.value, dict)

    @property
    def is_seq(self) -> bool:
        return isinstance(self.value, list)

    @property
    def is_scalar(self) -> bool:
        return not (self.is_map or self.is_seq)

    def _child_path(self, key: str | int) -> str:
        if isinstance(key, int):
            return f"{self.path}[{key}]"
        return f"{self.path}.{key}" if self.path else str(key)

    def items(self) -> Iterator[tuple[str, "Node"]]:
        """(key, node) pairs of a mapping, in file order."""
        if not self.is_map:
            raise self.error(f"expected a mapping, found {_kind(self.value)}")
        for key, value in self.value.items():
            line = _key_line(self.value, key) or self.line
            yield str(key), Node(value, self.file, line, self._child_path(str(key)))

    def mapping(self, allowed: set[str] | None = None, required: tuple[str, ...] = ()) -> dict[str, "Node"]:
        """The children of a mapping, refusing keys outside ``allowed`` and missing ``required`` ones."""
        out = dict(self.items())
        if allowed is not None:
            for key, node in out.items():
                if key not in allowed:
                    raise node.error(f"unknown key; expected one of: {', '.join(sorted(allowed))}")
        for key in required:
            if key not in out or out[key].value is None:
                raise self.error(f"'{key}' is required")
        return out

    def seq(self) -> list["Node"]:
        if not self.is_seq:
            raise self.error(f"expected a list, found {_kind(self.value)}")
        out = []
        for i, value in enumerate(self.value):
            line = self.line
            if isinstance(self.value, CommentedSeq):
                pos = self.value.lc.item(i)
                line = pos[0] + 1 if pos else self.line
            out.append(Node(value, self.file, line, self._child_path(i)))
        return out

    def text(self) -> str:
        """A non-empty string scalar."""
        if not isinstance(self.value, str) or not self.value.strip():
            raise self.error(f"expected a non-empty string, found {_kind(self.value)}")
        return self.value.strip()


def _key_line(cmap: Any, key: Any) -> int | None:
    """The line of ``key`` in a mapping, following YAML merge keys (``<<: *anchor``)."""
    if not isinstance(cmap, CommentedMap):
        return None
    try:
        pos = cmap.lc.key(key)
        return pos[0] + 1 if pos else None
    except KeyError:
        for entry in getattr(cmap, "merge", None) or []:
            merged = entry[1] if isinstance(entry, tuple) else entry  # older ruamel: (index, map)
            if key in merged:
                return _key_line(merged, key)
    return None


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return f"{type(value).__name__} {value!r}"


def load_yaml(path: Path) -> Node:
    """Read a mapping file into a :class:`Node` tree (round-trip loader keeps line numbers)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MappingError(path, None, "", f"cannot read: {exc.strerror or exc}") from None
    yaml = YAML(typ="rt")
    try:
        data = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise MappingError(path, line, "", f"not valid YAML: {exc.problem or exc.context}") from None
    if not isinstance(data, dict):
        raise MappingError(path, 1, "", "a mapping file must be a YAML mapping at the top level")
    return Node(data, path, 1, "")
