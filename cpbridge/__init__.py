"""cpbridge: the integration adapter and reference directory for a children's contact directory.

The public API for plugins is what this module exports: the hook marker, the
canonical model, faults and the system descriptions. Plugins import nothing else.
"""

from .faults import Fault
from .hookspecs import hookimpl
from .systems import IntakeItem, IntakeSource, LocalSystem, SystemType

__all__ = ["Fault", "IntakeItem", "IntakeSource", "LocalSystem", "SystemType", "hookimpl"]
__version__ = "0.1.0"
