"""What a record page shows, worked out once from a ChildRecord (already filtered by the directory's rules)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from cpbridge.codes import SettingKind
from cpbridge.model import ChildRecord, InvolvementView, Setting


@dataclass(frozen=True)
class RecordView:
    current: list[InvolvementView]
    ended: list[InvolvementView]
    lead: InvolvementView | None
    caf: list[InvolvementView]
    schools: list[Setting]
    gp_practices: list[Setting]
    #: shielded and shown with its four visible fields only
    restricted: bool
    #: shielded, but shown in full (an override, or the shield's own management team)
    behind_shield: bool


def record_view(record: ChildRecord, today: date | None = None) -> RecordView:
    today = today or date.today()
    current = [i for i in record.involvements if i.end_date is None or i.end_date >= today]
    ended = [i for i in record.involvements if i.end_date is not None and i.end_date < today]
    current.sort(key=lambda i: (not i.lead_professional, i.start_date))
    full = bool(record.override_reason or record.address or record.involvements or record.carers or record.settings)
    open_settings = [s for s in record.settings if s.end_date is None or s.end_date >= today]
    return RecordView(
        current=current,
        ended=sorted(ended, key=lambda i: i.end_date or today, reverse=True),
        lead=next((i for i in current if i.lead_professional), None),
        caf=[i for i in record.involvements if i.caf_completed_on is not None],
        schools=[s for s in open_settings if s.kind in (SettingKind.school, SettingKind.early_years)],
        gp_practices=[s for s in open_settings if s.kind is SettingKind.gp_practice],
        restricted=record.shielded and not full,
        behind_shield=record.shielded and full,
    )
