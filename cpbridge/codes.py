"""Controlled code lists shared by the adapter, the plugins and the directory.

Every coded value that crosses from a local system to the directory is one of
these. Local systems' own codes are translated to them by the ``codes`` section
of a mapping file; a local code with no translation is an error, never a guess.
"""

from __future__ import annotations

from enum import Enum


class StrEnum(str, Enum):
    """A string enum whose value is its wire form."""

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.value


class Gender(StrEnum):
    """Administrative gender, as NHS PDS and the school census record it."""

    male = "male"
    female = "female"
    other = "other"
    unknown = "unknown"


class Service(StrEnum):
    """Services a practitioner may be involved through.

    ``SENSITIVE_SERVICES`` lists the three the law singles out: recording one
    needs explicit consent and most users see it only as ``unspecified``.
    """

    social_care = "social_care"
    youth_offending = "youth_offending"
    early_help = "early_help"
    health_visiting = "health_visiting"
    school_nursing = "school_nursing"
    connexions = "connexions"
    education_welfare = "education_welfare"
    educational_psychology = "educational_psychology"
    family_support = "family_support"
    housing = "housing"
    police_public_protection = "police_public_protection"
    voluntary_sector = "voluntary_sector"
    mental_health = "mental_health"
    sexual_health = "sexual_health"
    substance_misuse = "substance_misuse"
    #: What a sensitive service is shown as to users who may not see it.
    unspecified = "unspecified"


SENSITIVE_SERVICES: frozenset[Service] = frozenset(
    {Service.mental_health, Service.sexual_health, Service.substance_misuse}
)

SERVICE_LABELS: dict[Service, str] = {
    Service.social_care: "Children's social care",
    Service.youth_offending: "Youth offending team",
    Service.early_help: "Early help (CAF)",
    Service.health_visiting: "Health visiting",
    Service.school_nursing: "School nursing",
    Service.connexions: "Connexions",
    Service.education_welfare: "Education welfare",
    Service.educational_psychology: "Educational psychology",
    Service.family_support: "Family support",
    Service.housing: "Housing",
    Service.police_public_protection: "Police public protection",
    Service.voluntary_sector: "Voluntary sector",
    Service.mental_health: "Mental health",
    Service.sexual_health: "Sexual health",
    Service.substance_misuse: "Substance misuse",
    Service.unspecified: "Unspecified service",
}


class Role(StrEnum):
    """A practitioner's role in an involvement."""

    social_worker = "social_worker"
    team_manager = "team_manager"
    case_manager = "case_manager"
    caf_assessor = "caf_assessor"
    key_worker = "key_worker"
    health_visitor = "health_visitor"
    school_nurse = "school_nurse"
    personal_adviser = "personal_adviser"
    family_support_worker = "family_support_worker"
    designated_safeguarding_lead = "designated_safeguarding_lead"
    general_practitioner = "general_practitioner"
    clinician = "clinician"
    police_officer = "police_officer"
    practitioner = "practitioner"


class Relationship(StrEnum):
    """A carer's relationship to the child."""

    mother = "mother"
    father = "father"
    parent = "parent"
    step_parent = "step_parent"
    grandparent = "grandparent"
    other_relative = "other_relative"
    foster_carer = "foster_carer"
    guardian = "guardian"
    carer = "carer"


class SettingKind(StrEnum):
    """Kinds of universal-service setting on every record."""

    school = "school"
    early_years = "early_years"
    gp_practice = "gp_practice"


class IdentifierScheme(StrEnum):
    """Identifier schemes; all but ``local`` are validated by check digit."""

    directory_id = "directory_id"
    nhs_number = "nhs_number"
    upn = "upn"
    #: A local system's own reference for the child (needs ``system``).
    local = "local"


class ReasonCode(StrEnum):
    """Why a practitioner or system touches a record (audited with every access)."""

    direct_work = "direct_work"
    referral = "referral"
    assessment = "assessment"
    safeguarding = "safeguarding"
    case_coordination = "case_coordination"
    brokering_contact = "brokering_contact"
    subject_access = "subject_access"
    record_update = "record_update"


class ActorRole(StrEnum):
    """Directory roles (deny by default: each right is granted to a role)."""

    practitioner = "practitioner"
    shield_override = "shield_override"
    management_team = "management_team"
    administrator = "administrator"
    system = "system"


class OverrideReason(StrEnum):
    """Why a user with the override right opens a shielded record (audited and alerted)."""

    child_protection_enquiry = "child_protection_enquiry"
    immediate_risk_of_harm = "immediate_risk_of_harm"
    police_emergency = "police_emergency"


class ConsentGiver(StrEnum):
    """Who consented to a sensitive service being recorded."""

    child = "child"
    parent_carer = "parent_carer"


class MatchOutcome(StrEnum):
    """Per-record outcome reported back to the local system (as NHS CP-IS does)."""

    matched = "matched"
    new = "new"
    review = "review"
    rejected = "rejected"


class WriteOutcome(StrEnum):
    """What the directory did with one write."""

    applied = "applied"
    duplicate = "duplicate"
    stale = "stale"
    queued_for_review = "queued_for_review"
