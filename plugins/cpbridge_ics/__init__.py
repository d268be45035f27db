"""ICS (Integrated Children's System) social care plugin.

Declares the ``ics`` system type. Messages are handled by the built-in mapping
plugin from ``mappings/ics/<product>.yaml`` (CaseView ICS: ``caseview.yaml``);
docs/plugins/ics.md lists what each message contributes and what is dropped.
"""

from __future__ import annotations

from cpbridge import SystemType, hookimpl

SYSTEM_TYPE = SystemType(name="ics", title="Integrated Children's System (children's social care)", plugin="ics")


@hookimpl
def register_system_types():
    return [SYSTEM_TYPE]
