"""The adapter host: loads plugins and mapping files and knows every configured local system."""

from __future__ import annotations

import pluggy

from ..faults import Fault
from ..mapping import load_mappings
from ..plugins import plugin_manager
from ..settings import Settings
from ..systems import LocalSystem, SystemType


class HostError(RuntimeError):
    """The adapter cannot start: a mapping, plugin or setting is wrong (the message says which)."""


class Host:
    """Plugins + mappings -> the configured :class:`LocalSystem` of each endpoint."""

    def __init__(self, settings: Settings, pm: pluggy.PluginManager | None = None):
        self.settings = settings
        self.pm = pm or plugin_manager()
        self.system_types: dict[str, SystemType] = {}
        for types in self.pm.hook.register_system_types():
            for t in types or []:
                if t.name in self.system_types:
                    raise HostError(f"system type {t.name!r} is declared by two plugins")
                self.system_types[t.name] = t
        self.systems: dict[str, LocalSystem] = {}
        for mapping in load_mappings(settings.adapter.mappings_dir):
            if mapping.system not in self.system_types:
                known = ", ".join(sorted(self.system_types)) or "none"
                raise HostError(
                    f"{mapping.path}: system type {mapping.system!r} is not declared by any installed plugin (known: {known})"
                )
            cfg = settings.adapter.systems.get(mapping.id)
            if cfg is not None and not cfg.enabled:
                continue
            self.systems[mapping.id] = LocalSystem(
                id=mapping.id,
                type=mapping.system,
                product=mapping.product,
                mapping=mapping,
                wsdl_path=mapping.wsdl_path,
                options=dict(cfg.options) if cfg else {},
            )
        unknown = set(settings.adapter.systems) - {m for m in self.systems} - {
            k for k, v in settings.adapter.systems.items() if not v.enabled
        }
        if unknown:
            raise HostError(f"settings configure systems with no mapping file: {', '.join(sorted(unknown))}")
        self.pm.hook.startup(host=self)

    def system(self, system_id: str) -> LocalSystem:
        try:
            return self.systems[system_id]
        except KeyError:
            raise Fault("UnknownSystem", f"no local system is configured as {system_id!r}") from None
