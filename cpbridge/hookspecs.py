"""The plugin contract: every hook a cpbridge plugin may implement.

A plugin is a module (or object) with functions decorated by
``cpbridge.hookimpl`` whose names are hooks below, registered under the
``cpbridge`` entry-point group. The adapter's own mapping engine is a plugin
too (``cpbridge.builtins.mapping``): it implements the message hooks for every
local system from its mapping file, marked ``trylast`` so a system's own plugin
can take over any message it needs code for.

Hooks marked *first result* stop at the first implementation that returns
something other than ``None``; an implementation must return ``None`` for a
system it does not handle (check ``system.type``).

docs/hooks.md documents each hook; a test fails if one is missing there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:  # imported for annotations only; plugins import from cpbridge directly
    from lxml.etree import _Element

    from .model import EventBase, LookupRequest, LookupResult
    from .systems import IntakeSource, LocalSystem, SystemType

hookspec = pluggy.HookspecMarker("cpbridge")
hookimpl = pluggy.HookimplMarker("cpbridge")


@hookspec
def register_system_types() -> list[SystemType]:
    """Declare the kinds of local system this plugin understands.

    Return a list of :class:`cpbridge.systems.SystemType`, e.g. ``ics`` for
    social care case systems. Every mapping file names one of these types in its
    ``system:`` key; a mapping for a type no plugin declares fails at start-up.
    """


@hookspec(firstresult=True)
def prepare_document(system: LocalSystem, root: _Element) -> _Element | None:
    """Return the element the mapping should read, or ``None`` to leave ``root`` as is.

    Called once per inbound message after hardened parsing and SOAP unwrapping,
    before the message type is recognised. Use it to unwrap a transport envelope
    (e.g. the NHS ITK distribution envelope around a FHIR Bundle).
    """


@hookspec(firstresult=True)
def message_to_events(system: LocalSystem, root: _Element, message_id: str) -> list[EventBase] | None:
    """Turn one inbound message into canonical events.

    ``message_id`` is the local system's own id for the message (or a digest
    of its content); derive event ids from it with
    :func:`cpbridge.model.event_id_for` so a resent message yields the same ids.
    Raise :class:`cpbridge.faults.Fault` to reject the message. The built-in
    mapping plugin implements this from the system's mapping file.
    """


@hookspec(firstresult=True)
def lookup_request(system: LocalSystem, root: _Element) -> LookupRequest | None:
    """Turn a local system's lookup message into a :class:`~cpbridge.model.LookupRequest`.

    Return ``None`` if ``root`` is not a lookup of this system (it is then
    treated as an inbound message). Built in: the mapping's ``lookup.request``.
    """


@hookspec(firstresult=True)
def render_lookup(system: LocalSystem, request: LookupRequest, result: LookupResult) -> _Element | None:
    """Render a lookup result in the local system's own response XML.

    Built in: the mapping's ``lookup.response`` template.
    """


@hookspec
def register_intake_sources(system: LocalSystem) -> list[IntakeSource] | None:
    """Other ways this system's messages arrive, e.g. a watched folder of batch files.

    Return :class:`cpbridge.systems.IntakeSource` objects; the adapter runs
    each one's ``poll`` on a schedule and feeds what it yields through intake.
    """


@hookspec
def register_commands(cli) -> None:
    """Add commands to the ``cpbridge`` command line.

    ``cli`` is the root :class:`typer.Typer`; add a sub-app or commands to it.
    """


@hookspec
def startup(host) -> None:
    """Called once when the adapter host has loaded every plugin and mapping."""
