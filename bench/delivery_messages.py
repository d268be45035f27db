"""Synthetic CaseView (ICS) messages for the delivery benchmark and the fault tests.

Nothing here is real data: child ``n`` has made-up syllable names, local id
``CV<n>`` and case ``CSC-<n>``. Every message carries a unique message id and a
``SentAt`` that grows with its sequence number, so a run can check at the
directory that each child's events were applied in the order they were produced.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from xml.sax.saxutils import escape

CV_NS = "urn:caseview:ics:interop:3"
EPOCH = datetime(2025, 1, 6, 8, 0, 0)
ORGANISATION = "Leeds City Council Children's Social Work Service"


def _letters(n: int) -> str:
    """0 -> 'A', 25 -> 'Z', 26 -> 'BA': a name part that differs per child."""
    out = ""
    while True:
        n, r = divmod(n, 26)
        out = chr(65 + r) + out
        if n == 0:
            return out


def child_ref(n: int) -> str:
    return f"CV{n:07d}"


def case_ref(n: int) -> str:
    return f"CSC-{n:07d}"


def sent_at(seq: int) -> str:
    return (EPOCH + timedelta(seconds=seq)).strftime("%Y-%m-%dT%H:%M:%S")


_SYLLABLES = ("ka", "lo", "mi", "ren", "do", "sa", "vel", "tu", "bri", "gan", "hol", "zu", "fen", "ra", "cor", "nia", "pel", "wyn", "tor", "esh")
_INWARD = "ABDEFGHJLNPQRSTUWXYZ"


def _word(n: int, parts: int) -> str:
    word = ""
    for _ in range(parts):
        n, r = divmod(n, len(_SYLLABLES))
        word += _SYLLABLES[r]
    return word.capitalize()


def _client(n: int) -> str:
    """Child ``n``: names, birth date and postcode far enough from every other child's not to be confused."""
    dob = date(2007, 1, 1) + timedelta(days=(n * 7919) % 6500)
    postcode = f"LS{n % 27 + 1} {n % 10}{_INWARD[n % 20]}{_INWARD[(n // 20) % 20]}"
    return (
        f"<cv:Client><cv:ClientRef>{child_ref(n)}</cv:ClientRef>"
        f"<cv:Forename>{_word(n * 13 + 5, 2)}</cv:Forename><cv:Surname>{_word(n, 3)}</cv:Surname>"
        f"<cv:DOB>{dob:%d/%m/%Y}</cv:DOB><cv:Gender>{'FM'[n % 2]}</cv:Gender>"
        f"<cv:Address><cv:Line>{n} Test Street</cv:Line><cv:PostCode>{postcode}</cv:PostCode></cv:Address></cv:Client>"
    )


def _header(message_id: str, seq: int) -> str:
    return (
        f"<cv:Header><cv:MessageId>{escape(message_id)}</cv:MessageId><cv:SentAt>{sent_at(seq)}</cv:SentAt>"
        f"<cv:SourceSite>LDS-CSWS</cv:SourceSite><cv:OrganisationName>{escape(ORGANISATION)}</cv:OrganisationName>"
        f"<cv:UserId>bench</cv:UserId></cv:Header>"
    )


def _case(n: int, status: str = "OPEN") -> str:
    return (
        f"<cv:Case><cv:CaseRef>{case_ref(n)}</cv:CaseRef><cv:ServiceArea>CSC</cv:ServiceArea>"
        f"<cv:StartDate>06/01/2025</cv:StartDate><cv:CaseStatus>{status}</cv:CaseStatus></cv:Case>"
    )


def _worker(tag: str, worker: int) -> str:
    return (
        f"<cv:{tag}><cv:Team><cv:TeamCode>T{worker % 9}</cv:TeamCode><cv:TeamName>Team {worker % 9}</cv:TeamName></cv:Team>"
        f"<cv:Worker><cv:WorkerId>W{worker}</cv:WorkerId><cv:Name>Worker {_letters(worker)}</cv:Name><cv:RoleCode>SW</cv:RoleCode>"
        f"<cv:Phone>0113 496 0{worker % 1000:03d}</cv:Phone></cv:Worker><cv:IsLeadProfessional>N</cv:IsLeadProfessional></cv:{tag}>"
    )


def referral(n: int, seq: int, *, padding: int = 0) -> bytes:
    """ReferralAccepted for child ``n`` (one involvement_opened event); ``padding`` adds case notes."""
    notes = ""
    if padding:
        notes = f"<cv:CaseNotes><cv:Note><cv:Text>{'x' * padding}</cv:Text></cv:Note></cv:CaseNotes>"
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><cv:ReferralAccepted xmlns:cv="{CV_NS}" schemaVersion="3.2">'
        f"{_header(f'REF-{n}-{seq}', seq)}{_client(n)}{_case(n)}{_worker('Allocation', n)}{notes}</cv:ReferralAccepted>"
    ).encode()


def reallocation(n: int, seq: int, worker: int) -> bytes:
    """CaseReallocated for child ``n`` to ``worker`` (one involvement_changed event)."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><cv:CaseReallocated xmlns:cv="{CV_NS}" schemaVersion="3.2">'
        f"{_header(f'REA-{n}-{seq}', seq)}{_client(n)}{_case(n)}{_worker('Reallocation', worker)}</cv:CaseReallocated>"
    ).encode()


def closure(n: int, seq: int) -> bytes:
    """CaseClosed for child ``n`` (one involvement_closed event)."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><cv:CaseClosed xmlns:cv="{CV_NS}" schemaVersion="3.2">'
        f"{_header(f'CLO-{n}-{seq}', seq)}{_client(n)}{_case(n, 'CLOSED')}"
        f"<cv:Closure><cv:ClosureDate>{(date(2025, 1, 6) + timedelta(days=30)):%d/%m/%Y}</cv:ClosureDate></cv:Closure></cv:CaseClosed>"
    ).encode()


def soap(body: bytes) -> bytes:
    """Wrap a message (without its XML declaration) in a SOAP 1.1 envelope."""
    inner = body.split(b"?>", 1)[1] if body.startswith(b"<?xml") else body
    return (
        b'<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
        b"<soap:Body>" + inner + b"</soap:Body></soap:Envelope>"
    )


def stream(children: int, *, reallocations: int = 1) -> list[tuple[int, bytes]]:
    """Per child: referral, ``reallocations`` reallocations, closure; children interleaved, ``(child, xml)``.

    The sequence (hence SentAt) grows through the list, so each child's
    messages are produced in list order.
    """
    out: list[tuple[int, bytes]] = []
    seq = 0
    steps = 2 + reallocations
    for step in range(steps):
        for n in range(children):
            seq += 1
            if step == 0:
                out.append((n, referral(n, seq)))
            elif step == steps - 1:
                out.append((n, closure(n, seq)))
            else:
                out.append((n, reallocation(n, seq, 1000 + step)))
    return out
