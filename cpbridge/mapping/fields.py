"""Inbound field specs: how a mapping reads canonical fields out of a local message.

A *value spec* fills one scalar field (an XPath string, a YAML constant, or a
mapping with ``xpath``/``const``/``codes``/``format``/``default``/``required``/
``join``/``when``). A *block* fills a canonical model: its keys are the model's
fields, plus ``when``, ``context`` and, inside lists, ``for_each``. Everything is
checked against the canonical model when the file loads; at run time a block
builds a plain dict (keyed by wire aliases, so pydantic's error locations match
the paths recorded here) that the caller validates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from pydantic import BaseModel

from ..faults import Fault
from .codes import CodeList, UnmappedCodeError
from .modeltypes import FieldType, find_field, model_fields
from .source import Node
from .xpaths import XPathExpr, string_value

MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING", "__bool__": lambda self: False})()

VALUE_KEYS = {"xpath", "const", "codes", "format", "default", "required", "join", "when"}
BLOCK_KEYS = {"when", "context"}
_FORMAT_KINDS = {"date", "datetime", "bool"}


@dataclass
class Env:
    """Per-message state: where we are (for messages) and what came from which XPath."""

    where: str
    tz: tzinfo
    sources: dict[tuple, str] = field(default_factory=dict)

    def dotted(self, path: tuple) -> str:
        return ".".join(str(p) for p in path)

    def fault(self, code: str, path: tuple, problem: str, xpath: str | None = None) -> Fault:
        dotted = self.dotted(path)
        source = f" (from {xpath})" if xpath else ""
        where = f"{self.where}: {dotted}" if dotted else self.where
        return Fault(code, f"{where}: {problem}{source}", field=dotted or None)


class Compiler:
    """What compiling a spec needs: the namespaces and the code lists of the file."""

    def __init__(self, namespaces: dict[str, str], code_lists: dict[str, CodeList]):
        self.namespaces = namespaces
        self.code_lists = code_lists

    def xpath(self, node: Node) -> XPathExpr:
        return XPathExpr(node, self.namespaces)

    def code_list(self, node: Node) -> CodeList:
        name = node.text()
        if name not in self.code_lists:
            known = ", ".join(sorted(self.code_lists)) or "none are declared"
            raise node.error(f"unknown code list {name!r} ({known})")
        return self.code_lists[name]


# --- scalar values -----------------------------------------------------------------------


class ValueSpec:
    """One scalar field (or, with ``multi``, every item of a list of scalars)."""

    def __init__(self, c: Compiler, node: Node, ftype: FieldType, *, multi: bool = False):
        self.ftype = ftype
        self.multi = multi
        self.xpath: XPathExpr | None = None
        self.for_each: XPathExpr | None = None
        self.when: XPathExpr | None = None
        self.const: Any = MISSING
        self.default: Any = MISSING
        self.codes: CodeList | None = None
        self.format: str | None = None
        self.join: str | None = None
        self.required = False
        if ftype.kind == "model":
            raise node.error(f"expected the fields of {ftype.py.__name__}, found a single value")
        if isinstance(node.value, str):
            self.xpath = c.xpath(node)
            return
        if node.is_scalar:
            if node.value is None:
                raise node.error("no value; give an XPath, a constant or a field spec")
            self.const = self._canonical(node, node.value)
            return
        if node.is_seq:
            raise node.error(f"expected a single value for {ftype.py.__name__}, found a list")
        keys = VALUE_KEYS | ({"for_each"} if multi else set())
        spec = node.mapping(keys)
        if "for_each" in spec:
            self.for_each = c.xpath(spec["for_each"])
        if "xpath" in spec:
            self.xpath = c.xpath(spec["xpath"])
        elif self.for_each is not None:
            self.xpath = c.xpath(Node(".", node.file, node.line, node.path))
        if "const" in spec:
            if self.xpath is not None:
                raise spec["const"].error("give either 'xpath' or 'const', not both")
            self.const = self._canonical(spec["const"], spec["const"].value)
        elif self.xpath is None:
            raise node.error("a field spec needs 'xpath' or 'const'")
        if "when" in spec:
            self.when = c.xpath(spec["when"])
        if "codes" in spec:
            if ftype.kind != "enum":
                raise spec["codes"].error(f"code lists translate coded fields; this field is {ftype.py.__name__}")
            self.codes = c.code_list(spec["codes"])
            if self.codes.enum is not ftype.py:
                raise spec["codes"].error(
                    f"code list {self.codes.name!r} translates to {self.codes.enum.__name__}, but this field is a {ftype.py.__name__}"
                )
        if "format" in spec:
            self.format = spec["format"].text()
            self._check_format(spec["format"])
        if "default" in spec:
            self.default = self._canonical(spec["default"], spec["default"].value)
        if "required" in spec:
            if not isinstance(spec["required"].value, bool):
                raise spec["required"].error("expected true or false")
            self.required = spec["required"].value
        if "join" in spec:
            if not isinstance(spec["join"].value, str):
                raise spec["join"].error("expected the separator string, e.g. ' '")
            self.join = spec["join"].value

    # --- load-time checks -----------------------------------------------------------------

    def _canonical(self, node: Node, value: Any) -> Any:
        """A constant or default as the field takes it (an enum member's value is checked)."""
        kind = self.ftype.kind
        if kind == "enum":
            try:
                return self.ftype.py(str(value)).value
            except ValueError:
                members = ", ".join(m.value for m in self.ftype.py)
                raise node.error(f"{value!r} is not a {self.ftype.py.__name__} code; one of: {members}") from None
        if kind == "bool" and not isinstance(value, bool):
            raise node.error(f"expected true or false, found {value!r}")
        if isinstance(value, (dict, list)):
            raise node.error("a constant must be a single value")
        return value

    def _check_format(self, node: Node) -> None:
        kind = self.ftype.kind
        if kind not in _FORMAT_KINDS:
            raise node.error(f"'format' applies to dates, datetimes and booleans; this field is {self.ftype.py.__name__}")
        if kind == "bool":
            if self.format.count("/") != 1:
                raise node.error("a boolean format is 'TRUE/FALSE' text, e.g. 'Y/N'")
        elif "%" not in self.format:
            raise node.error(f"a date format is a strptime pattern such as '%d/%m/%Y', not {self.format!r}")

    @property
    def reads_message(self) -> bool:
        return self.xpath is not None

    # --- run time -------------------------------------------------------------------------

    def value(self, ctx, env: Env, path: tuple) -> Any:
        """The field's value, or MISSING to leave it out."""
        if self.when is not None and not self.when.test(ctx):
            return MISSING
        if self.xpath is None:
            return self.const
        raw = self.xpath(ctx)
        if isinstance(raw, bool) and self.ftype.kind == "bool":
            env.sources[path] = self.xpath.text
            return raw
        if isinstance(raw, list):
            texts = [t for t in (string_value(i).strip() for i in raw) if t]
        else:
            texts = [t for t in (string_value(raw).strip(),) if t]
        text = (self.join.join(texts) if self.join is not None else texts[0]) if texts else None
        return self._finish(text, env, path)

    def values(self, ctx, env: Env, path: tuple) -> list:
        """Every item of a list of scalars, in document order."""
        if self.when is not None and not self.when.test(ctx):
            return []
        if self.xpath is None:
            return [self.const]
        out = []
        if self.for_each is not None:
            for node in self.for_each.nodes(ctx):
                texts = self.xpath.strings(node)
                text = (self.join.join(texts) if self.join is not None else texts[0]) if texts else None
                v = self._finish(text, env, path + (len(out),))
                if v is not MISSING:
                    out.append(v)
        else:
            for text in self.xpath.strings(ctx):
                out.append(self._finish(text, env, path + (len(out),)))
        return out

    def _finish(self, text: str | None, env: Env, path: tuple) -> Any:
        xp = self.xpath.text if self.xpath else None
        if text is None:
            if self.default is not MISSING:
                return self.default
            if self.required:
                raise env.fault("InvalidRequest", path, "required, but the message has no value", xp)
            return MISSING
        env.sources[path] = xp
        if self.codes is not None:
            try:
                return self.codes.translate(text).value
            except UnmappedCodeError as exc:
                raise env.fault("UnmappedCode", path, str(exc), xp) from None
        kind = self.ftype.kind
        if kind == "bool" and self.format:
            yes, no = self.format.split("/")
            if text == yes:
                return True
            if text == no:
                return False
            raise env.fault("InvalidRequest", path, f"expected {yes!r} or {no!r}", xp)
        if kind in ("date", "datetime"):
            return self._when(text, env, path, xp)
        return text

    def _when(self, text: str, env: Env, path: tuple, xp: str | None) -> Any:
        kind = self.ftype.kind
        try:
            if self.format:
                parsed = datetime.strptime(text, self.format)
            elif kind == "datetime":
                parsed = datetime.fromisoformat(text)
            else:
                return text  # ISO 8601 date: pydantic checks it
        except ValueError:
            expected = f"a date in the form {self.format}" if self.format else "an ISO 8601 date-time"
            raise env.fault("InvalidRequest", path, f"expected {expected}", xp) from None
        if kind == "date":
            return parsed.date()
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=env.tz)
        return parsed


# --- models --------------------------------------------------------------------------------


class BlockSpec:
    """The fields of one canonical model, read relative to a context node.

    ``auto`` names fields the engine fills itself (refused in the file);
    ``extra`` names keys the caller compiles itself (kept in ``extra_nodes``).
    """

    def __init__(
        self,
        c: Compiler,
        node: Node,
        cls: type[BaseModel],
        *,
        auto: frozenset[str] = frozenset(),
        extra: frozenset[str] = frozenset(),
        in_list: bool = False,
        provided: frozenset[str] = frozenset(),
    ):
        self.cls = cls
        self.when: XPathExpr | None = None
        self.context: XPathExpr | None = None
        self.for_each: XPathExpr | None = None
        self.fields: list[tuple[str, Any]] = []
        self.extra_nodes: dict[str, Node] = {}
        if not node.is_map:
            raise node.error(f"expected the fields of {cls.__name__} as a mapping, found {node.value!r}")
        seen: set[str] = set()
        for key, child in node.items():
            if key in extra:
                self.extra_nodes[key] = child
            elif key == "when":
                self.when = c.xpath(child)
            elif key == "context":
                self.context = c.xpath(child)
            elif key == "for_each":
                if not in_list:
                    raise child.error("'for_each' belongs on an item of a list field (or on an event)")
                self.for_each = c.xpath(child)
            else:
                mf = find_field(cls, key)
                if mf is None:
                    raise child.error(f"no such field on {cls.__name__}")
                if mf.name in auto:
                    raise child.error(f"{cls.__name__}.{mf.name} is filled by the engine; remove it")
                if mf.name in seen:
                    raise child.error(f"{cls.__name__}.{mf.name} is given twice")
                seen.add(mf.name)
                self.fields.append((mf.alias, _compile_field(c, child, mf.type)))
        for mf in model_fields(cls).values():
            if mf.required and mf.name not in seen and mf.name not in auto and mf.name not in provided:
                raise node.error(f"{cls.__name__}.{mf.name} is required but not mapped")

    @property
    def reads_message(self) -> bool:
        return any(getattr(spec, "reads_message", True) for _, spec in self.fields)

    def build(self, ctx, env: Env, path: tuple, *, keep: bool = False) -> dict | None:
        """The model's dict, or None when ``when`` is false, ``context`` finds nothing, or
        (unless ``keep``) no field that reads the message found a value."""
        if self.when is not None and not self.when.test(ctx):
            return None
        ctx = self.context_node(ctx)
        if ctx is None:
            return None
        return self._fill(ctx, env, path, keep)

    def context_node(self, ctx):
        """The node this block's fields are read from (None if its ``context`` finds nothing)."""
        if self.context is None:
            return ctx
        found = self.context.nodes(ctx)
        return found[0] if found else None

    def build_all(self, ctx, env: Env, path: tuple, start: int) -> list[dict]:
        """Items for a list field: one per ``for_each`` node (or one item)."""
        if self.for_each is None:
            item = self.build(ctx, env, path + (start,))
            return [] if item is None else [item]
        out = []
        for node in self.for_each.nodes(ctx):
            item = self.build(node, env, path + (start + len(out),))
            if item is not None:
                out.append(item)
        return out

    def _fill(self, ctx, env: Env, path: tuple, keep: bool) -> dict | None:
        data: dict[str, Any] = {}
        found = False
        for alias, spec in self.fields:
            sub = path + (alias,)
            if isinstance(spec, BlockSpec):
                value = spec.build(ctx, env, sub)
                value = MISSING if value is None else value
            elif isinstance(spec, BlockList):
                value = spec.build(ctx, env, sub) or MISSING
            elif isinstance(spec, ValueList):
                value = spec.build(ctx, env, sub) or MISSING
            else:
                value = spec.value(ctx, env, sub)
            if value is MISSING:
                continue
            data[alias] = value
            if getattr(spec, "reads_message", True):
                found = True
        if not found and not keep and self.reads_message:
            return None
        return data


class BlockList:
    """A list of models: a YAML list of blocks (each may ``for_each``), or one block."""

    def __init__(self, c: Compiler, node: Node, cls: type[BaseModel]):
        nodes = node.seq() if node.is_seq else [node]
        self.items = [BlockSpec(c, n, cls, in_list=True) for n in nodes]

    def build(self, ctx, env: Env, path: tuple) -> list[dict]:
        out: list[dict] = []
        for item in self.items:
            out.extend(item.build_all(ctx, env, path, len(out)))
        return out


class ValueList:
    """A list of scalars: an XPath (every node an item), a spec, or a YAML list of specs."""

    def __init__(self, c: Compiler, node: Node, ftype: FieldType):
        if node.is_seq:
            self.specs = [(ValueSpec(c, n, ftype), False) for n in node.seq()]
        else:
            self.specs = [(ValueSpec(c, node, ftype, multi=True), True)]

    @property
    def reads_message(self) -> bool:
        return any(s.reads_message for s, _ in self.specs)

    def build(self, ctx, env: Env, path: tuple) -> list:
        out: list = []
        for spec, multi in self.specs:
            if multi:
                out.extend(spec.values(ctx, env, path))
            else:
                v = spec.value(ctx, env, path + (len(out),))
                if v is not MISSING:
                    out.append(v)
        return out


def _compile_field(c: Compiler, node: Node, ftype: FieldType):
    if ftype.kind == "model":
        if ftype.is_list:
            return BlockList(c, node, ftype.py)
        return BlockSpec(c, node, ftype.py)
    if ftype.is_list:
        return ValueList(c, node, FieldType(ftype.kind, ftype.py))
    return ValueSpec(c, node, ftype)


