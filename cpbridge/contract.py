"""The directory's SOAP contract, as both services see it.

The WSDL and XSD in ``cpbridge/directory/contract/`` are the source of truth;
this module names their namespace and says which operation carries each
canonical event type. Request bodies follow :mod:`cpbridge.xmlmodel`'s rule.
"""

from __future__ import annotations

from pathlib import Path

DIRECTORY_NS = "urn:cpbridge:directory:1"
ADAPTER_NS = "urn:cpbridge:adapter:1"
CONTRACT_DIR = Path(__file__).parent / "directory" / "contract"
DIRECTORY_WSDL = CONTRACT_DIR / "directory.wsdl"
DIRECTORY_XSD = CONTRACT_DIR / "directory.xsd"
ADAPTER_XSD = Path(__file__).parent / "adapter" / "contract" / "adapter.xsd"

#: event type -> directory operation that applies it
EVENT_OPERATIONS: dict[str, str] = {
    "involvement_opened": "RegisterInvolvement",
    "involvement_changed": "RegisterInvolvement",
    "involvement_closed": "EndInvolvement",
    "lead_professional_set": "SetLeadProfessional",
    "lead_professional_removed": "RemoveLeadProfessional",
    "assessment_completed": "RecordAssessment",
    "demographics_changed": "UpdateDemographics",
    "setting_changed": "UpdateSetting",
}
READ_OPERATIONS = ("SearchChildren", "ReadChild")

#: SOAP header block naming the practitioner a request acts for, and why.
ACTOR_HEADER = "onBehalfOf"
