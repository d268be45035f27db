"""Reason codes: why the directory matched, queued, created or rejected one record.

Every WriteResult carries one in ``reasonCode`` (at most 40 characters), so a local
system learns each record's outcome the way NHS CP-IS acknowledges each upload.
docs/matching.md lists them with what the local system should do.
"""

from __future__ import annotations

from cpbridge.codes import StrEnum


class MatchReason(StrEnum):
    """The reason codes of identity matching."""

    # matched: the write went to an existing child
    directory_id_match = "directory_id_match"
    nhs_number_match = "nhs_number_match"
    upn_match = "upn_match"
    local_reference_linked = "local_reference_linked"
    probabilistic_match = "probabilistic_match"
    #: the event is about an involvement already on the directory: it stays with that child
    involvement = "involvement"
    #: applied after the management team linked the record to a child (review)
    review_linked = "review_linked"
    #: applied after the management team merged two records and linked it to the one kept
    review_merged = "review_merged"

    # new: a child was created
    no_candidate = "no_candidate"
    low_score = "low_score"
    #: created after the management team decided it is a child not yet on the directory
    review_created = "review_created"

    # review: queued, not applied yet
    uncertain = "uncertain"
    too_close_to_call = "too_close_to_call"
    possible_twin = "possible_twin"
    identifier_conflict = "identifier_conflict"
    demographics_contradict = "demographics_contradict"
    #: internal only: reported to the local system as ``uncertain`` (see :func:`external`)
    shielded_candidate = "shielded_candidate"

    # rejected (a Fault, nothing held)
    unknown_directory_id = "unknown_directory_id"


#: Matches made on a trusted identifier (a conflicting involvement anchor is a Fault for these).
TRUSTED_MATCHES = frozenset(
    {
        MatchReason.directory_id_match,
        MatchReason.nhs_number_match,
        MatchReason.upn_match,
        MatchReason.local_reference_linked,
    }
)


def external(reason: str | None) -> str | None:
    """The code told to the local system. A shielded candidate is reported as ``uncertain``:
    saying "shielded" would confirm to the sender that a shielded child like this exists."""
    if reason == MatchReason.shielded_candidate:
        return MatchReason.uncertain.value
    return reason
