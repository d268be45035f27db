"""The plugin manager: loads every plugin through the ``cpbridge`` entry-point group.

Built-in features are plugins too (``cpbridge.builtins.*``), registered in
pyproject.toml exactly as a third-party package would register its own. An
implementation whose name is not a hook fails at start-up, naming the plugin.
"""

from __future__ import annotations

import importlib.metadata
from functools import lru_cache

import pluggy

from . import hookspecs

ENTRY_POINT_GROUP = "cpbridge"


class PluginError(RuntimeError):
    """A plugin could not be loaded or implements a hook that does not exist."""


def make_plugin_manager(extra_plugins: tuple = (), *, load_entry_points: bool = True) -> pluggy.PluginManager:
    """A fresh manager with every installed plugin (plus ``extra_plugins``) registered and checked."""
    pm = pluggy.PluginManager("cpbridge")
    pm.add_hookspecs(hookspecs)
    if load_entry_points:
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            if pm.get_plugin(ep.name) is not None:
                continue
            try:
                module = ep.load()
            except Exception as exc:  # pragma: no cover - depends on installed packages
                raise PluginError(f"plugin {ep.name!r} ({ep.value}) failed to import: {exc}") from exc
            pm.register(module, name=ep.name)
    for plugin in extra_plugins:
        pm.register(plugin)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"plugin {exc.plugin!r} implements a hook that is not in the contract: {exc}") from exc
    return pm


@lru_cache(maxsize=1)
def plugin_manager() -> pluggy.PluginManager:
    """The process-wide manager (tests build their own with :func:`make_plugin_manager`)."""
    return make_plugin_manager()


def describe(pm: pluggy.PluginManager) -> list[dict]:
    """What ``cpbridge plugins`` prints: each plugin, where it comes from, its hooks."""
    dists = {
        ep.name: (ep.dist.name if ep.dist else "", ep.dist.version if ep.dist else "")
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    }
    out = []
    for name, plugin in sorted(pm.list_name_plugin(), key=lambda np: np[0] or ""):
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
        dist, version = dists.get(name, ("", ""))
        out.append(
            {"name": name, "module": getattr(plugin, "__name__", repr(plugin)), "package": dist, "version": version, "hooks": hooks}
        )
    return out
