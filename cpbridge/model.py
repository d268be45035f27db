"""The canonical model: the only shape data takes between plugins and the directory.

Everything here is basic identifying or contact data. There is deliberately no
free-text field: every string is short and restricted to the characters of a
name, an address, a phone number or a code, so case notes, assessments and
observations have nowhere to go. Unknown fields are refused (``extra='forbid'``).

Field names are snake_case in Python and camelCase on the wire (the directory's
XSD uses the aliases), e.g. ``given_names`` <-> ``givenNames``.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta, timezone
from typing import Annotated, Literal, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from . import identifiers as ids
from .codes import (
    SENSITIVE_SERVICES,
    ActorRole,
    ConsentGiver,
    Gender,
    IdentifierScheme,
    MatchOutcome,
    OverrideReason,
    ReasonCode,
    Relationship,
    Role,
    Service,
    SettingKind,
    WriteOutcome,
)

# --- constrained strings -----------------------------------------------------------

#: A single personal name part (given names may hold several words).
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=35, pattern=r"^[\p{L}][\p{L}\p{M}' .\-]*$"),
]
#: A person's full name, e.g. a practitioner's.
FullName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=70, pattern=r"^[\p{L}][\p{L}\p{M}' .\-]*$"),
]
#: An organisation, team or setting name.
OrgName = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=100, pattern=r"^[\p{L}\p{N}][\p{L}\p{M}\p{N}' .,&()/\-]*$"
    ),
]
AddressLine = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=60, pattern=r"^[\p{L}\p{N}][\p{L}\p{M}\p{N}' .,/\-]*$"
    ),
]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9][0-9 ()\-]{5,19}$")]
Email = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^[^@\s<>\"]+@[^@\s<>\"]+\.[A-Za-z]{2,}$")
]
#: A reference assigned by a system: a case number, an order number, an ODS code.
Reference = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9/_.:\-]*$")]
#: The id of a configured local system (``ics``, ``ecaf``, ``ics-kinship`` ...).
SystemId = Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9_\-]*$")]
#: A local authority's ONS/GSS code, e.g. ``E08000035`` (Leeds).
LaCode = Annotated[str, StringConstraints(pattern=r"^[ENSW][0-9]{8}$")]
Postcode = Annotated[str, AfterValidator(ids.normalise_postcode)]
DirectoryId = Annotated[str, AfterValidator(ids.normalise_directory_id)]


class Model(BaseModel):
    """Base for canonical types: strict about unknown fields, camelCase on the wire."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=False,
        use_enum_values=False,
    )

    def wire(self) -> dict:
        """The JSON-able camelCase dict the contract and the outbox carry."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


# --- identity ----------------------------------------------------------------------


class Identifier(Model):
    """An identifier for a child. ``system`` names the issuer of a ``local`` one."""

    scheme: IdentifierScheme
    value: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9 /_.:\-]*$")
    ]
    system: SystemId | None = None

    @model_validator(mode="after")
    def _check(self) -> "Identifier":
        if self.scheme is IdentifierScheme.nhs_number:
            self.value = ids.normalise_nhs_number(self.value)
        elif self.scheme is IdentifierScheme.upn:
            self.value = ids.normalise_upn(self.value)
        elif self.scheme is IdentifierScheme.directory_id:
            self.value = ids.normalise_directory_id(self.value)
        if self.scheme is IdentifierScheme.local and not self.system:
            raise ValueError("a local identifier needs the system that issued it")
        if self.scheme is not IdentifierScheme.local:
            self.system = None
        return self

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.scheme.value, self.system or "", self.value)


class Address(Model):
    lines: list[AddressLine] = Field(min_length=1, max_length=5, alias="line")
    postcode: Postcode | None = None


class PersonName(Model):
    given_names: Name
    family_name: Name


class ChildIdentity(Model):
    """Who the child is, as one source knows them. The directory matches on it."""

    given_names: Name
    family_name: Name
    aliases: list[PersonName] = Field(default_factory=list, max_length=10, alias="alias")
    date_of_birth: date
    gender: Gender = Gender.unknown
    address: Address | None = None
    identifiers: list[Identifier] = Field(default_factory=list, max_length=10, alias="identifier")
    date_of_death: date | None = None

    def identifier(self, scheme: IdentifierScheme, system: str | None = None) -> Identifier | None:
        for ident in self.identifiers:
            if ident.scheme is scheme and (system is None or ident.system == system):
                return ident
        return None


class Carer(Model):
    """A parent or carer: name and contact details only."""

    given_names: Name
    family_name: Name
    relationship: Relationship = Relationship.carer
    phone: Phone | None = None
    email: Email | None = None
    address: Address | None = None
    parental_responsibility: bool | None = None


class Setting(Model):
    """A school, early-years setting or GP practice (``code``: URN/DfE number or ODS code)."""

    kind: SettingKind
    code: Reference
    name: OrgName
    phone: Phone | None = None
    address: Address | None = None
    start_date: date | None = None
    end_date: date | None = None


class Practitioner(Model):
    """A practitioner's name and how to reach them."""

    name: FullName
    role: Role = Role.practitioner
    team: OrgName | None = None
    phone: Phone | None = None
    email: Email | None = None


class Consent(Model):
    """Explicit consent to record a sensitive service."""

    given_by: ConsentGiver
    recorded_on: date


class Involvement(Model):
    """That a service is involved with the child, and who to contact. Nothing more."""

    local_reference: Reference
    service: Service
    organisation: OrgName
    practitioner: Practitioner | None = None
    start_date: date
    end_date: date | None = None
    lead_professional: bool = False
    caf_completed_on: date | None = None
    consent: Consent | None = None

    @model_validator(mode="after")
    def _check(self) -> "Involvement":
        if self.service is Service.unspecified:
            raise ValueError("'unspecified' is a display value, not a service a source may record")
        if self.end_date and self.end_date < self.start_date:
            raise ValueError("an involvement cannot end before it starts")
        return self

    @property
    def sensitive(self) -> bool:
        return self.service in SENSITIVE_SERVICES


# --- events ------------------------------------------------------------------------


class EventBase(Model):
    """What every event carries: who sent it, when it happened, and which child."""

    event_id: Reference
    source_system: SystemId
    occurred_at: datetime
    child: ChildIdentity

    @field_validator("occurred_at")
    @classmethod
    def _plausible_time(cls, value: datetime) -> datetime:
        """Refuse times before 1900 or more than a day ahead: a far-future time would make every
        later update look stale, and extreme ones cannot be converted to UTC."""
        aware = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        try:
            utc_value = aware.astimezone(timezone.utc)
        except OverflowError:
            raise ValueError("occurredAt is outside the range of dates that can be recorded") from None
        if utc_value.year < 1900 or utc_value > datetime.now(timezone.utc) + timedelta(days=1):
            raise ValueError("occurredAt must be after 1900 and not more than a day in the future")
        return value

    @property
    def child_key(self) -> str:
        """The source's own key for the child: the ordering key in the outbox."""
        local = self.child.identifier(IdentifierScheme.local, self.source_system)
        if local:
            return f"{self.source_system}:{local.value}"
        for ident in self.child.identifiers:
            return f"{ident.scheme.value}:{ident.value}"
        c = self.child
        return f"{self.source_system}:{c.family_name.upper()}|{c.given_names.upper()}|{c.date_of_birth}"


class InvolvementOpened(EventBase):
    type: Literal["involvement_opened"] = "involvement_opened"
    involvement: Involvement


class InvolvementChanged(EventBase):
    type: Literal["involvement_changed"] = "involvement_changed"
    involvement: Involvement


class InvolvementClosed(EventBase):
    type: Literal["involvement_closed"] = "involvement_closed"
    local_reference: Reference
    end_date: date


class LeadProfessionalSet(EventBase):
    """The practitioner of the involvement ``local_reference`` is now lead professional."""

    type: Literal["lead_professional_set"] = "lead_professional_set"
    local_reference: Reference
    practitioner: Practitioner | None = None


class LeadProfessionalRemoved(EventBase):
    type: Literal["lead_professional_removed"] = "lead_professional_removed"
    local_reference: Reference


class AssessmentCompleted(EventBase):
    """A common assessment (CAF) was completed: the flag and the assessor's contact only."""

    type: Literal["assessment_completed"] = "assessment_completed"
    local_reference: Reference
    completed_on: date
    organisation: OrgName
    assessor: Practitioner


class DemographicsChanged(EventBase):
    """The source's view of the child's demographics (and, if given, carers) changed."""

    type: Literal["demographics_changed"] = "demographics_changed"
    carers: list[Carer] | None = Field(default=None, alias="carer")


class SettingChanged(EventBase):
    """The child joined (no ``end_date``) or left a school, early-years setting or GP practice."""

    type: Literal["setting_changed"] = "setting_changed"
    setting: Setting


Event = Annotated[
    Union[
        InvolvementOpened,
        InvolvementChanged,
        InvolvementClosed,
        LeadProfessionalSet,
        LeadProfessionalRemoved,
        AssessmentCompleted,
        DemographicsChanged,
        SettingChanged,
    ],
    Field(discriminator="type"),
]
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)
EVENT_TYPES: dict[str, type[EventBase]] = {
    cls.model_fields["type"].default: cls
    for cls in (
        InvolvementOpened,
        InvolvementChanged,
        InvolvementClosed,
        LeadProfessionalSet,
        LeadProfessionalRemoved,
        AssessmentCompleted,
        DemographicsChanged,
        SettingChanged,
    )
}


def parse_event(data: dict) -> EventBase:
    """Validate a wire dict (camelCase or snake_case) into its event class."""
    return EVENT_ADAPTER.validate_python(data)


def event_id_for(source_system: str, message_id: str, index: int) -> str:
    """A deterministic event id: the same message yields the same ids (idempotency)."""
    digest = hashlib.sha256(f"{source_system}\x1f{message_id}\x1f{index}".encode()).hexdigest()
    return f"ev-{digest[:32]}"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


# --- lookups -----------------------------------------------------------------------


class Actor(Model):
    """The practitioner a request is made for (the directory checks their rights)."""

    user_id: Reference
    name: FullName | None = None
    organisation: OrgName
    organisation_code: Reference | None = None
    role: ActorRole = ActorRole.practitioner


class SearchCriteria(Model):
    """Demographic search fields. The directory enforces the minimum combinations."""

    given_names: Name | None = None
    family_name: Name | None = None
    date_of_birth: date | None = None
    gender: Gender | None = None
    postcode: Postcode | None = None
    school_code: Reference | None = None
    gp_practice_code: Reference | None = None
    carer_family_name: Name | None = None
    fuzzy: bool = False


class LookupRequest(Model):
    """Who else is working with this child? By identifier, or by demographics."""

    actor: Actor
    reason: ReasonCode
    identifiers: list[Identifier] = Field(default_factory=list, max_length=5, alias="identifier")
    criteria: SearchCriteria | None = None

    @model_validator(mode="after")
    def _check(self) -> "LookupRequest":
        if not self.identifiers and self.criteria is None:
            raise ValueError("a lookup needs an identifier or search criteria")
        return self


class InvolvementView(Model):
    """An involvement as a given user may see it (sensitive services masked)."""

    service: Service
    organisation: OrgName
    practitioner: Practitioner | None = None
    start_date: date
    end_date: date | None = None
    lead_professional: bool = False
    caf_completed_on: date | None = None
    source_system: SystemId | None = None
    #: The area whose service it is (shown after a move; nothing is hidden by area).
    local_authority: LaCode | None = None


class ChildRecord(Model):
    """A child's directory record as the requesting user may see it.

    For a shielded record seen without override only ``directory_id``, names,
    date of birth and gender are filled and ``shielded`` is true.
    """

    directory_id: DirectoryId
    given_names: Name
    family_name: Name
    date_of_birth: date
    gender: Gender
    shielded: bool = False
    address: Address | None = None
    carers: list[Carer] = Field(default_factory=list, alias="carer")
    settings: list[Setting] = Field(default_factory=list, alias="setting")
    involvements: list[InvolvementView] = Field(default_factory=list, alias="involvement")
    #: Set only when a shield was overridden for this one viewing: the stated reason,
    #: and the warning that the authority's management team is alerted for a check.
    override_reason: OverrideReason | None = None
    override_warning: Annotated[str, StringConstraints(max_length=200)] | None = None


class SearchMatch(Model):
    score: float = Field(ge=0, le=1)
    record: ChildRecord


class LookupResult(Model):
    """The answer to a lookup: zero or more scored records."""

    matches: list[SearchMatch] = Field(default_factory=list, alias="match")

    @property
    def records(self) -> list[ChildRecord]:
        return [m.record for m in self.matches]


class WriteResult(Model):
    """The directory's answer to one write, passed back to the local system."""

    event_id: Reference
    outcome: WriteOutcome
    match_outcome: MatchOutcome
    reason_code: Annotated[str, StringConstraints(max_length=40)] | None = None
    directory_id: DirectoryId | None = None
