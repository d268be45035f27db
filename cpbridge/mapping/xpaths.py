"""XPath 1.0 expressions of a mapping: compiled once, namespaces bound, checked at load.

Every expression is relative to the element it is evaluated on (the message
element, or the current ``for_each`` / ``context`` node), so a mapping reads a
bare body element and an element still inside its SOAP envelope alike. Use
``self::p:Name`` to test the message element itself.
"""

from __future__ import annotations

import re

from lxml import etree

from .source import Node

_LITERAL = re.compile(r"'[^']*'|\"[^\"]*\"")
_PREFIX = re.compile(r"(?<![\w.\-])([A-Za-z_][\w.\-]*):(?!:)(?=[A-Za-z_*])")
_PROBE = etree.Element("probe")


class XPathExpr:
    """A compiled expression with the text it came from (quoted in runtime errors)."""

    __slots__ = ("text", "_xpath")

    def __init__(self, node: Node, namespaces: dict[str, str]):
        text = node.text()
        bare = _LITERAL.sub("''", text)
        if bare.lstrip().startswith("/"):
            raise node.error(
                f"XPath {text!r} is absolute; write it relative to the message element (use self::p:Name for the element itself)"
            )
        for prefix in _PREFIX.findall(bare):
            if prefix not in namespaces:
                raise node.error(f"XPath {text!r} uses unknown namespace prefix {prefix!r}; declare it under namespaces")
        try:
            self._xpath = etree.XPath(text, namespaces=namespaces, smart_strings=False)
            self._xpath(_PROBE)  # lxml reports some syntax errors only on first evaluation
        except etree.XPathError as exc:
            raise node.error(f"bad XPath {text!r}: {exc}") from None
        self.text = text

    def __call__(self, context):
        return self._xpath(context)

    def nodes(self, context) -> list:
        """The node-set result (a scalar result is a one-item list)."""
        result = self._xpath(context)
        return result if isinstance(result, list) else [result]

    def strings(self, context) -> list[str]:
        """String values of every result item, stripped, empty ones dropped."""
        out = []
        for item in self.nodes(context):
            s = string_value(item).strip()
            if s:
                out.append(s)
        return out

    def test(self, context) -> bool:
        """XPath boolean() of the result."""
        return bool(self._xpath(context))


def string_value(item) -> str:
    """XPath string() of one result item: an element's descendant text, an attribute's value."""
    if isinstance(item, etree._Element):
        return "".join(item.itertext())
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, float):
        return str(int(item)) if item.is_integer() else str(item)
    return str(item)
