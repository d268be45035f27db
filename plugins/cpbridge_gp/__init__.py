"""GP practice plugin: registrations, deregistrations and changes of practice in FHIR R4.

Declares the ``gp`` system type. Messages are FHIR R4 message Bundles in XML
carrying a UK Core Patient; the built-in mapping plugin applies
``mappings/gp/<product>.yaml`` (``fhir.yaml``) to them. A practice system may
post the Bundle as plain XML to ``/systems/<id>/messages`` or send it over SOAP
inside an NHS ITK distribution envelope: :func:`prepare_document` unwraps the
envelope (see :mod:`.itk`) and hands the mapping the Bundle, still attached to
the envelope so the mapping can take the ITK ``trackingid`` as the message id.
docs/plugins/gp.md lists what is read and what is dropped.
"""

from __future__ import annotations

from cpbridge import SystemType, hookimpl

from .itk import ITK_NS, unwrap_distribution_envelope

__all__ = ["ITK_NS", "SYSTEM_TYPE", "unwrap_distribution_envelope"]

SYSTEM_TYPE = SystemType(name="gp", title="GP practice system (FHIR R4, NHS ITK)", plugin="gp")


@hookimpl
def register_system_types():
    return [SYSTEM_TYPE]


@hookimpl
def prepare_document(system, root):
    if system.type != SYSTEM_TYPE.name:
        return None
    return unwrap_distribution_envelope(root)
