"""Youth offending team (YOT) plugin.

Declares the ``yot`` system type. Keystone YJ registers a youth offending team's
involvement (order or intervention started, case manager changed, order ended)
in two ways, both read by the mapping ``mappings/yot/<product>.yaml``:

* one SOAP message at a time, handled by the built-in mapping plugin;
* a nightly ``NightlyReturn`` file of the same messages dropped in a folder:
  set ``adapter.systems.<id>.options.watch_folder`` and this plugin registers a
  :class:`cpbridge.sources.FolderSource` whose splitter
  (:func:`cpbridge_yot.batch.split_nightly_return`) streams the file one record
  at a time.

docs/plugins/yot.md lists what each message contributes and what is dropped.
"""

from __future__ import annotations

from pathlib import Path

from cpbridge import SystemType, hookimpl
from cpbridge.sources import FolderSource

from .batch import split_nightly_return

SYSTEM_TYPE = SystemType(name="yot", title="Youth offending team case management", plugin="yot")


@hookimpl
def register_system_types():
    return [SYSTEM_TYPE]


@hookimpl
def register_intake_sources(system):
    """A watched folder for the nightly return, when the system's options name one.

    Options: ``watch_folder`` (required to enable it) and ``watch_pattern``
    (default ``*.xml``). Files move to ``done/`` or ``rejected/`` beside them.
    """
    if system.type != SYSTEM_TYPE.name:
        return None
    folder = system.options.get("watch_folder")
    if not folder:
        return None
    pattern = str(system.options.get("watch_pattern", "*.xml"))
    return [FolderSource(Path(folder), pattern=pattern, split=split_nightly_return, name=f"{system.id}:nightly-return")]
