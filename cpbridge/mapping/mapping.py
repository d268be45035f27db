"""A compiled mapping file: recognise a product's messages, turn them into canonical
events, read its lookups and render lookup results in its own XML."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lxml import etree
from pydantic import ValidationError

from ..faults import Fault
from ..model import EVENT_TYPES, ChildIdentity, EventBase, LookupRequest, LookupResult, event_id_for
from .codes import CodeList
from .errors import MappingError
from .fields import MISSING, BlockSpec, Compiler, Env, ValueSpec
from .modeltypes import FieldType
from .source import Node, load_yaml
from .template import ResponseTemplate

HEADER_KEYS = {
    "id", "system", "product", "version", "description", "namespaces", "wsdl", "samples", "timezone",
    "codes", "messages", "lookup",
}
MESSAGE_KEYS = {"name", "description", "match", "message_id", "occurred_at", "child", "events"}
EVENT_AUTO = frozenset({"event_id", "source_system", "occurred_at", "child", "type"})
_ID = re.compile(r"^[a-z][a-z0-9_\-]{0,39}$")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]*$")


class EventSpec:
    """One entry of a message's ``events``: a canonical type, a condition and its fields."""

    def __init__(self, c: Compiler, node: Node):
        if not node.is_map:
            raise node.error("an event is a mapping with 'type' and the event's fields")
        type_node = dict(node.items()).get("type")
        if type_node is None:
            raise node.error(f"'type' is required; one of: {', '.join(EVENT_TYPES)}")
        self.type = type_node.text()
        if self.type not in EVENT_TYPES:
            raise type_node.error(f"unknown event type {self.type!r}; one of: {', '.join(EVENT_TYPES)}")
        self.cls = EVENT_TYPES[self.type]
        self.block = BlockSpec(c, node, self.cls, auto=EVENT_AUTO, extra=frozenset({"type"}), in_list=True)


class MessageSpec:
    """One inbound message type."""

    def __init__(self, c: Compiler, node: Node):
        spec = node.mapping(MESSAGE_KEYS, required=("name", "match", "occurred_at", "child", "events"))
        self.name = spec["name"].text()
        if not _NAME.match(self.name):
            raise spec["name"].error("a message name is a word (letters, digits, _ or -)")
        self.match = c.xpath(spec["match"])
        self.message_id = ValueSpec(c, spec["message_id"], FieldType("str", str)) if "message_id" in spec else None
        occurred = spec["occurred_at"]
        self.occurred_at = ValueSpec(c, occurred, FieldType("datetime", datetime))
        self.occurred_at.required = True
        self.child = BlockSpec(c, spec["child"], ChildIdentity, extra=frozenset({"local_id"}))
        lid = self.child.extra_nodes.get("local_id")
        self.local_id = ValueSpec(c, lid, FieldType("str", str)) if lid is not None else None
        self.events = [EventSpec(c, n) for n in spec["events"].seq()]
        if not self.events:
            raise spec["events"].error("a message needs at least one event")


class LookupSpec:
    """``lookup.request`` (read a lookup message) and ``lookup.response`` (render the answer)."""

    def __init__(self, c: Compiler, node: Node):
        spec = node.mapping({"request", "response", "description"}, required=("request", "response"))
        req = spec["request"]
        self.block = BlockSpec(c, req, LookupRequest, extra=frozenset({"name", "match", "local_id"}))
        extra = self.block.extra_nodes
        if "match" not in extra:
            raise req.error("'match' is required")
        self.match = c.xpath(extra["match"])
        self.name = extra["name"].text() if "name" in extra else "Lookup"
        self.local_id = ValueSpec(c, extra["local_id"], FieldType("str", str)) if "local_id" in extra else None
        self.response = ResponseTemplate(c, spec["response"])


class Mapping:
    """One product's mapping file, compiled. Build with :func:`load_mapping`."""

    def __init__(self, path: Path, root: Node):
        h = root.mapping(HEADER_KEYS, required=("id", "system", "product", "version", "messages"))
        self.path = path
        self.id: str = self._word(h["id"], "id")
        self.id_line = h["id"].line
        self.system: str = self._word(h["system"], "system")
        self.product: str = h["product"].text()
        self.version: str = str(h["version"].value)
        self.description: str = h["description"].text() if "description" in h else ""
        self.namespaces: dict[str, str] = {}
        if "namespaces" in h:
            for prefix, uri in h["namespaces"].items():
                if not _NAME.match(prefix) or ":" in prefix:
                    raise uri.error(f"{prefix!r} is not a namespace prefix")
                self.namespaces[prefix] = uri.text()
        self.tz = ZoneInfo("Europe/London")
        if "timezone" in h:
            try:
                self.tz = ZoneInfo(h["timezone"].text())
            except (ZoneInfoNotFoundError, ValueError):
                raise h["timezone"].error(f"unknown time zone {h['timezone'].value!r}") from None
        self.wsdl_path: Path | None = None
        if "wsdl" in h:
            self.wsdl_path = (path.parent / h["wsdl"].text()).resolve()
            if not self.wsdl_path.is_file():
                raise h["wsdl"].error(f"no WSDL file at {self.wsdl_path}")
        project_root = path.resolve().parent.parent.parent
        if "samples" in h:
            self.samples_dir: Path | None = (project_root / h["samples"].text()).resolve()
            if not self.samples_dir.is_dir():
                raise h["samples"].error(f"no samples folder at {self.samples_dir}")
        else:
            default = project_root / "samples" / self.system / path.stem
            self.samples_dir = default if default.is_dir() else None
        self.code_lists: dict[str, CodeList] = {}
        if "codes" in h:
            for name, node in h["codes"].items():
                self.code_lists[name] = CodeList(name, node)
        c = Compiler(self.namespaces, self.code_lists)
        self.messages = [MessageSpec(c, n) for n in h["messages"].seq()]
        names = set()
        for spec, node in zip(self.messages, h["messages"].seq()):
            if spec.name in names:
                raise node.error(f"message name {spec.name!r} is used twice")
            names.add(spec.name)
        self.lookup = LookupSpec(c, h["lookup"]) if "lookup" in h else None

    @staticmethod
    def _word(node: Node, what: str) -> str:
        value = node.text()
        if not _ID.match(value):
            raise node.error(f"{what} must be lower case letters, digits, '_' or '-', starting with a letter")
        return value

    def __repr__(self) -> str:
        return f"Mapping({self.id!r}, {self.product!r} {self.version}, {self.path})"

    # --- recognising messages ---------------------------------------------------------------

    def _message(self, root: etree._Element) -> MessageSpec | None:
        for spec in self.messages:
            if spec.match.test(root):
                return spec
        return None

    def message_type(self, root: etree._Element) -> str | None:
        """The name of the message (or of the lookup) ``root`` is, or None."""
        spec = self._message(root)
        if spec is not None:
            return spec.name
        if self.is_lookup(root):
            return self.lookup.name
        return None

    def message_id(self, root: etree._Element) -> str | None:
        """The local system's own id for the message, where the mapping says where it is."""
        spec = self._message(root)
        if spec is None or spec.message_id is None:
            return None
        env = Env(spec.name, self.tz)
        value = spec.message_id.value(root, env, ("messageId",))
        return None if value is MISSING else str(value)

    def is_lookup(self, root: etree._Element) -> bool:
        return self.lookup is not None and self.lookup.match.test(root)

    # --- inbound ------------------------------------------------------------------------------

    def events(self, root: etree._Element, message_id: str) -> list[EventBase]:
        """The canonical events of one message; a :class:`Fault` if it cannot be mapped."""
        spec = self._message(root)
        if spec is None:
            tag = etree.QName(root)
            what = "a lookup, not an inbound message" if self.is_lookup(root) else "not a message this mapping knows"
            raise Fault("UnknownMessageType", f"{tag.localname} ({tag.namespace or 'no namespace'}) is {what} for {self.product}")
        env = Env(spec.name, self.tz)
        occurred_at = spec.occurred_at.value(root, env, ("occurredAt",))
        child = spec.child.build(root, env, ("child",), keep=True) or {}
        self._add_local_id(spec.child, spec.local_id, root, env, child, ("child",))
        out: list[EventBase] = []
        for espec in spec.events:
            if espec.block.for_each is not None:
                contexts = espec.block.for_each.nodes(root)
            else:
                contexts = [root]
            for ctx in contexts:
                fields = espec.block.build(ctx, env, (), keep=True)
                if fields is None:
                    continue
                data = {
                    "eventId": event_id_for(self.id, message_id, len(out)),
                    "type": espec.type,
                    "sourceSystem": self.id,
                    "occurredAt": occurred_at,
                    "child": child,
                    **fields,
                }
                out.append(self._validate(espec.cls, data, env))
        return out

    def _add_local_id(self, block: BlockSpec, spec: ValueSpec | None, root, env: Env, data: dict, path: tuple) -> None:
        """Append the system's own reference for the child as a ``local`` identifier."""
        if spec is None:
            return
        ctx = block.context_node(root)
        idents = data.setdefault("identifier", [])
        where = path + ("identifier", len(idents), "value")
        value = MISSING if ctx is None else spec.value(ctx, env, where)
        if value is MISSING:
            if spec.required:
                raise env.fault("InvalidRequest", where, "required, but the message has no value", spec.xpath.text if spec.xpath else None)
            if not idents:
                del data["identifier"]
            return
        idents.append({"scheme": "local", "system": self.id, "value": value})

    @staticmethod
    def _validate(cls, data: dict, env: Env):
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = tuple(err["loc"])
            source = env.sources.get(loc)
            if source is None:  # a model-level check: name what fed that model
                under = sorted({x for k, x in env.sources.items() if x and k[: len(loc)] == loc})
                source = ", ".join(under) or None
            raise env.fault("InvalidRequest", loc, err["msg"], source) from None

    # --- lookups ------------------------------------------------------------------------------

    def lookup_request(self, root: etree._Element) -> LookupRequest:
        """Read a lookup message into a :class:`LookupRequest` (a Fault if it is not one)."""
        if not self.is_lookup(root):
            raise Fault("UnknownMessageType", f"{etree.QName(root).localname} is not a lookup of {self.product}")
        env = Env(self.lookup.name, self.tz)
        data = self.lookup.block.build(root, env, (), keep=True) or {}
        self._add_local_id(self.lookup.block, self.lookup.local_id, root, env, data, ())
        return self._validate(LookupRequest, data, env)

    def render_lookup(self, request: LookupRequest, result: LookupResult) -> etree._Element:
        """The lookup result as the product's own response element."""
        if self.lookup is None:
            raise Fault("UnknownOperation", f"{self.product} has no lookup in {self.path.name}")
        return self.lookup.response.render(request, result)

    # --- samples ------------------------------------------------------------------------------

    def check_samples(self):
        """Run every sample in ``samples_dir``; see :func:`cpbridge.mapping.samples.check_samples`."""
        from .samples import check_samples

        return check_samples(self)


def load_mapping(path: Path) -> Mapping:
    """Load, validate and compile one mapping file; :class:`MappingError` names file, line and field."""
    path = Path(path)
    return Mapping(path, load_yaml(path))


def load_mappings(directory: Path) -> list[Mapping]:
    """Every ``<system>/<product>.yaml`` under ``directory``; two files with one ``id`` is an error."""
    directory = Path(directory)
    out: list[Mapping] = []
    seen: dict[str, Mapping] = {}
    for path in sorted(directory.glob("*/*.yaml")):
        m = load_mapping(path)
        if m.id in seen:
            raise MappingError(path, m.id_line, "id", f"{m.id!r} is already the id of {seen[m.id].path}")
        seen[m.id] = m
        out.append(m)
    return out
