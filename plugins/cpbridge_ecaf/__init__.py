"""eCAF (electronic common assessment framework) plugin.

Declares the ``ecaf`` system type. Messages are handled by the built-in mapping
plugin from ``mappings/ecaf/<product>.yaml`` (Lantern eCAF: ``lantern.yaml``);
docs/plugins/ecaf.md lists what each notification contributes and what is
dropped. Only that an assessment exists, who did it and when it was completed
leave the adapter; the assessment itself never does.
"""

from __future__ import annotations

from cpbridge import SystemType, hookimpl

SYSTEM_TYPE = SystemType(name="ecaf", title="eCAF (common assessment and team around the child)", plugin="ecaf")


@hookimpl
def register_system_types():
    return [SYSTEM_TYPE]
