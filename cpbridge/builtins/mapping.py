"""Built-in plugin: drive every local system's messages through its mapping file.

Registered ``trylast``, so a system's own plugin may handle any message itself
first; each hook returns ``None`` for a system that has no mapping.
"""

from __future__ import annotations

from cpbridge import hookimpl


@hookimpl(trylast=True)
def message_to_events(system, root, message_id):
    if system.mapping is None:
        return None
    return system.mapping.events(root, message_id)


@hookimpl(trylast=True)
def lookup_request(system, root):
    if system.mapping is None or not system.mapping.is_lookup(root):
        return None
    return system.mapping.lookup_request(root)


@hookimpl(trylast=True)
def render_lookup(system, request, result):
    if system.mapping is None or system.mapping.lookup is None:
        return None
    return system.mapping.render_lookup(request, result)
