"""The lookup response template: a declarative element tree rendered from a LookupResult.

No template language: each node names an element (``prefix:Name``), its
``attributes``, its text ``value`` (a dotted path into ``request``/``result`` or
the current ``for_each`` item, optionally translated back to a local code or
formatted) and its ``children``; ``for_each`` repeats it over a list and
``when``/``unless`` test a path. Every path is checked against the canonical
model when the file loads, so rendering cannot meet a name that does not exist.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from lxml import etree
from pydantic import BaseModel

from ..model import LookupRequest, LookupResult
from ..xmlmodel import text_value
from .codes import CodeList
from .fields import Compiler
from .modeltypes import FieldType, find_field
from .source import Node

ELEMENT_KEYS = {"element", "attributes", "value", "children", "for_each", "as", "when", "unless", "description"}
VALUE_KEYS = {"path", "const", "codes", "format", "default", "count"}
GLOBALS: dict[str, FieldType] = {
    "request": FieldType("model", LookupRequest),
    "result": FieldType("model", LookupResult),
}
_NCNAME = re.compile(r"^[A-Za-z_][\w.\-]*$")

#: A static scope: (name bound with ``as`` or None, the item's type), innermost last.
Scope = list[tuple[str | None, FieldType]]


class PathExpr:
    """A dotted path resolved at load time to a frame (or global) and a chain of fields."""

    def __init__(self, node: Node, text: str, scopes: Scope):
        self.text = text
        self.frame: int | None = None  # index into runtime frames; None for a global
        self.global_name: str | None = None
        self.names: list[str] = []
        if text == ".":  # the current for_each item itself (e.g. one address line)
            if not scopes:
                raise node.error("'.' is the current for_each item, and there is none here")
            self.frame, self.type = len(scopes) - 1, scopes[-1][1]
            return
        parts = text.split(".")
        if not all(parts):
            raise node.error(f"bad path {text!r}")
        ftype: FieldType | None = None
        rest = parts
        for i in range(len(scopes) - 1, -1, -1):
            if scopes[i][0] == parts[0]:
                self.frame, ftype, rest = i, scopes[i][1], parts[1:]
                break
        else:
            if parts[0] in GLOBALS:
                self.global_name, ftype, rest = parts[0], GLOBALS[parts[0]], parts[1:]
            else:
                for i in range(len(scopes) - 1, -1, -1):
                    t = scopes[i][1]
                    if t.kind == "model" and not t.is_list and find_field(t.py, parts[0]):
                        self.frame, ftype = i, t
                        break
                else:
                    here = " or ".join(t.py.__name__ for _, t in reversed(scopes) if t.kind == "model") or "the response root"
                    raise node.error(
                        f"path {text!r}: {parts[0]!r} is not 'request', 'result', a name bound with 'as', or a field of {here}"
                    )
        for seg in rest:
            if ftype.is_list:
                raise node.error(f"path {text!r}: {ftype.label} has no field {seg!r}; iterate it with for_each")
            if ftype.kind != "model":
                raise node.error(f"path {text!r}: {ftype.py.__name__} has no field {seg!r}")
            mf = find_field(ftype.py, seg)
            if mf is None:
                raise node.error(f"path {text!r}: no such field on {ftype.py.__name__}: {seg!r}")
            self.names.append(mf.name)
            ftype = mf.type
        self.type = ftype

    def get(self, frames: list, globals_: dict) -> Any:
        value = globals_[self.global_name] if self.global_name else frames[self.frame]
        for name in self.names:
            if value is None:
                return None
            value = getattr(value, name)
        return value


class RenderValue:
    """Text for an element or attribute: a path, a constant or a count."""

    def __init__(self, c: Compiler, node: Node, scopes: Scope):
        self.path: PathExpr | None = None
        self.const: str | None = None
        self.count = False
        self.codes: CodeList | None = None
        self.format: str | None = None
        self.default: str | None = None
        if isinstance(node.value, str):
            self.path = PathExpr(node, node.value.strip(), scopes)
            self._check_type(node)
            return
        if node.is_scalar:
            self.const = text_value(node.value)
            return
        spec = node.mapping(VALUE_KEYS)
        given = [k for k in ("path", "const", "count") if k in spec]
        if len(given) != 1:
            raise node.error("a value needs exactly one of 'path', 'const' or 'count'")
        if "const" in spec:
            self.const = text_value(spec["const"].value)
        else:
            key = given[0]
            self.path = PathExpr(spec[key], spec[key].text(), scopes)
            if key == "count":
                if not self.path.type.is_list:
                    raise spec[key].error(f"'count' needs a list; {self.path.text!r} is {self.path.type.label}")
                self.count = True
        if "default" in spec:
            self.default = text_value(spec["default"].value)
        if "codes" in spec:
            self.codes = c.code_list(spec["codes"])
            t = self.path.type if self.path and not self.count else None
            if t is None or t.kind != "enum" or t.is_list:
                raise spec["codes"].error("code lists render coded values; this value is not a code")
            if self.codes.enum is not t.py:
                raise spec["codes"].error(
                    f"code list {self.codes.name!r} translates {self.codes.enum.__name__}, but {self.path.text!r} is a {t.py.__name__}"
                )
            missing = self.codes.missing_reverse()
            if missing:
                raise spec["codes"].error(
                    f"code list {self.codes.name!r} has no local code for {', '.join(missing)}; add them under 'reverse' or set 'reverse_default'"
                )
        if "format" in spec:
            self.format = spec["format"].text()
            self._check_format(spec["format"])
        if self.path is not None and not self.count:
            self._check_type(node)

    def _check_type(self, node: Node) -> None:
        t = self.path.type
        if t.is_list or t.kind == "model":
            raise node.error(f"path {self.path.text!r} is {t.label}, not a single value; use for_each or children")

    def _check_format(self, node: Node) -> None:
        kind = "int" if self.count else (self.path.type.kind if self.path else "str")
        if kind in ("date", "datetime"):
            if "%" not in self.format:
                raise node.error(f"a date format is a strftime pattern such as '%d/%m/%Y', not {self.format!r}")
        elif kind == "bool":
            if self.format.count("/") != 1:
                raise node.error("a boolean format is 'TRUE/FALSE' text, e.g. 'Y/N'")
        elif kind in ("int", "float"):
            try:
                format(1.5 if kind == "float" else 1, self.format)
            except ValueError:
                raise node.error(f"bad number format {self.format!r} (a Python format spec such as '.2f')") from None
        else:
            raise node.error(f"'format' applies to dates, booleans and numbers; {self.path.text!r} is {self.path.type.py.__name__}")

    def text(self, frames: list, globals_: dict) -> str | None:
        if self.const is not None:
            return self.const
        value = self.path.get(frames, globals_)
        if self.count:
            value = len(value or [])
        if value is None:
            return self.default
        if self.codes is not None:
            return self.codes.to_local(value)
        if self.format:
            if isinstance(value, bool):
                yes, no = self.format.split("/")
                return yes if value else no
            if isinstance(value, (date, datetime)):
                return value.strftime(self.format)
            return format(value, self.format)
        return text_value(value)



class ElementSpec:
    """One element of the response (repeated by ``for_each``, skipped by ``when``/``unless``)."""

    def __init__(self, c: Compiler, node: Node, scopes: Scope, used: set[str]):
        spec = node.mapping(ELEMENT_KEYS, required=("element",))
        self.tag = _qname(spec["element"], c.namespaces, used)
        self.for_each: PathExpr | None = None
        if "for_each" in spec:
            self.for_each = PathExpr(spec["for_each"], spec["for_each"].text(), scopes)
            if not self.for_each.type.is_list:
                raise spec["for_each"].error(f"for_each needs a list; {self.for_each.text!r} is {self.for_each.type.label}")
            item = FieldType(self.for_each.type.kind, self.for_each.type.py)
            name = spec["as"].text() if "as" in spec else None
            if name in GLOBALS:
                raise spec["as"].error(f"{name!r} is taken; choose another name")
            scopes = scopes + [(name, item)]
        elif "as" in spec:
            raise spec["as"].error("'as' names the item of a for_each")
        self.when = PathExpr(spec["when"], spec["when"].text(), scopes) if "when" in spec else None
        self.unless = PathExpr(spec["unless"], spec["unless"].text(), scopes) if "unless" in spec else None
        self.attributes: list[tuple[str, RenderValue]] = []
        for name, attr in (spec["attributes"].items() if "attributes" in spec else []):
            qn = _qname(Node(name, attr.file, attr.line, attr.path), c.namespaces, used, attribute=True)
            self.attributes.append((qn, RenderValue(c, attr, scopes)))
        self.value = RenderValue(c, spec["value"], scopes) if "value" in spec else None
        self.children = [ElementSpec(c, n, scopes, used) for n in spec["children"].seq()] if "children" in spec else []
        if self.value is not None and self.children:
            raise node.error("an element has either a 'value' or 'children', not both")

    def render(self, parent: etree._Element | None, frames: list, globals_: dict) -> list[etree._Element]:
        if self.for_each is None:
            el = self._one(parent, frames, globals_)
            return [] if el is None else [el]
        out = []
        for item in self.for_each.get(frames, globals_) or []:
            el = self._one(parent, frames + [item], globals_)
            if el is not None:
                out.append(el)
        return out

    def _one(self, parent, frames: list, globals_: dict) -> etree._Element | None:
        if self.when is not None and not _truthy(self.when.get(frames, globals_)):
            return None
        if self.unless is not None and _truthy(self.unless.get(frames, globals_)):
            return None
        text = None
        if self.value is not None:
            text = self.value.text(frames, globals_)
            if text is None:
                return None
        el = etree.Element(self.tag) if parent is None else etree.SubElement(parent, self.tag)
        for qn, rv in self.attributes:
            v = rv.text(frames, globals_)
            if v is not None:
                el.set(qn, v)
        if text is not None:
            el.text = text
        for child in self.children:
            child.render(el, frames, globals_)
        return el


def _truthy(value: Any) -> bool:
    if isinstance(value, BaseModel):
        return True
    return bool(value)


def _qname(node: Node, namespaces: dict[str, str], used: set[str], attribute: bool = False) -> str:
    text = node.text()
    prefix, _, local = text.rpartition(":")
    if not _NCNAME.match(local) or (prefix and not _NCNAME.match(prefix)):
        raise node.error(f"{text!r} is not an XML name")
    if not prefix:
        return local
    if prefix not in namespaces:
        raise node.error(f"unknown namespace prefix {prefix!r}; declare it under namespaces")
    used.add(prefix)
    return f"{{{namespaces[prefix]}}}{local}"


class ResponseTemplate:
    """The compiled ``lookup.response``: one root element."""

    def __init__(self, c: Compiler, node: Node):
        used: set[str] = set()
        self.root = ElementSpec(c, node, [], used)
        if self.root.for_each is not None or self.root.when is not None or self.root.unless is not None:
            raise node.error("the response root is always rendered: no for_each, when or unless on it")
        self.nsmap = {p: c.namespaces[p] for p in sorted(used)}

    def render(self, request: LookupRequest, result: LookupResult) -> etree._Element:
        globals_ = {"request": request, "result": result}
        root = etree.Element(self.root.tag, nsmap=self.nsmap)
        for qn, rv in self.root.attributes:
            v = rv.text([], globals_)
            if v is not None:
                root.set(qn, v)
        if self.root.value is not None:
            root.text = self.root.value.text([], globals_)
        for child in self.root.children:
            child.render(root, [], globals_)
        return root
