"""The hook contract: documented, enforced, and used by the built-in plugins."""

from __future__ import annotations

import re
import types
from pathlib import Path

import pytest

from cpbridge import hookimpl, hookspecs
from cpbridge.plugins import PluginError, make_plugin_manager

DOCS = Path(__file__).resolve().parents[2] / "docs" / "hooks.md"


def hook_names():
    return sorted(
        name for name, fn in vars(hookspecs).items() if callable(fn) and hasattr(fn, "cpbridge_spec")
    )


def test_there_are_hooks():
    assert "message_to_events" in hook_names()


@pytest.mark.parametrize("name", hook_names())
def test_every_hook_is_documented(name):
    headings = re.findall(r"^## (\w+)\(", DOCS.read_text(), flags=re.M)
    assert name in headings, f"hook {name} has no section in docs/hooks.md"
    assert getattr(hookspecs, name).__doc__, f"hook {name} has no docstring"


def test_a_plugin_with_an_unknown_hook_fails_at_startup():
    bad = types.ModuleType("badplugin")

    @hookimpl
    def message_to_event(system, root, message_id):  # misspelt hook name
        return None

    bad.message_to_event = message_to_event
    with pytest.raises(PluginError, match="message_to_event"):
        make_plugin_manager((bad,), load_entry_points=False)


def test_builtin_plugins_load_through_the_entry_point_group():
    pm = make_plugin_manager()
    names = {name for name, _ in pm.list_name_plugin()}
    assert {"mapping", "ics"} <= names


PUBLIC_API = {
    "cpbridge",
    "cpbridge.model",
    "cpbridge.codes",
    "cpbridge.identifiers",
    "cpbridge.xmlsafe",
    "cpbridge.sources",
    "cpbridge.mapping",
}


def test_plugins_import_only_the_public_api():
    import ast

    plugins = Path(__file__).resolve().parents[2] / "plugins"
    offending = []
    for path in plugins.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            offending += [f"{path.relative_to(plugins)}: {n}" for n in names if (n == "cpbridge" or n.startswith("cpbridge.")) and n not in PUBLIC_API]
    assert not offending, "plugins reach into cpbridge internals (see docs/hooks.md):\n" + "\n".join(offending)
