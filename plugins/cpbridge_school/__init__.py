"""School plugin: pupils joining and leaving, from DfE Common Transfer Files.

Declares the ``school`` system type. A school's MIS drops a CTF in a watched
folder when pupils join or leave; :func:`register_intake_sources` returns a
:class:`cpbridge.sources.FolderSource` whose splitter (:class:`~.ctf.CTFSplitter`)
streams the file and yields one wrapped pupil at a time. The built-in mapping
plugin applies ``mappings/school/ctf.yaml`` to each. docs/plugins/school.md
lists what is read and what is dropped (attainment, attendance, SEN, FSM, ...).

Options (``[adapter.systems.<id>.options]``):

* ``watch_folder`` -- the folder the MIS writes CTFs to (no folder, no source);
* ``schools`` -- DfE number -> name of each school served by that folder;
* ``pattern`` -- file name pattern, default ``*.xml``.
"""

from __future__ import annotations

from pathlib import Path

from cpbridge import SystemType, hookimpl
from cpbridge.sources import FolderSource

from .ctf import WRAPPER_NS, CTFSplitter, dfe_number, served_schools

__all__ = ["SYSTEM_TYPE", "WRAPPER_NS", "CTFSplitter", "ctf_source", "dfe_number", "served_schools"]

SYSTEM_TYPE = SystemType(name="school", title="School MIS (DfE Common Transfer File)", plugin="school")


@hookimpl
def register_system_types():
    return [SYSTEM_TYPE]


def ctf_source(system) -> FolderSource:
    """The watched folder of ``system`` (its ``watch_folder``, ``schools`` and ``pattern`` options)."""
    options = system.options
    try:
        schools = served_schools(options)
    except ValueError as exc:
        raise ValueError(f"system {system.id!r}: {exc}") from None
    return FolderSource(
        Path(options["watch_folder"]),
        pattern=options.get("pattern", "*.xml"),
        split=CTFSplitter(schools),
        name=f"{system.id}:ctf",
    )


@hookimpl
def register_intake_sources(system):
    if system.type != SYSTEM_TYPE.name or not system.options.get("watch_folder"):
        return None
    return [ctf_source(system)]
