"""A small but complete mapping to mutate, and helpers to write it where the loader expects."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from cpbridge.xmlsafe import parse_xml

NS = "urn:example:test:1"

BASE = textwrap.dedent(
    """\
    id: test
    system: ics
    product: Test Product
    version: "1.0"
    namespaces:
      t: urn:example:test:1
    codes:
      gender:
        to: Gender
        map: {M: male, F: female, X: other}
        reverse: {unknown: U}
      role:
        to: Role
        map: {SW: social_worker, TM: team_manager}
        default: practitioner
      service:
        to: Service
        map: {CSC: social_care}
        reverse_default: OTH
    messages:
      - name: Opened
        match: self::t:Opened
        message_id: t:Id
        occurred_at: t:At
        child:
          context: t:Child
          local_id: t:Ref
          given_names: {xpath: "t:Given | t:Middle", join: " "}
          family_name: t:Family
          date_of_birth: {xpath: t:Dob, format: "%d/%m/%Y"}
          gender: {xpath: t:Sex, codes: gender}
          identifiers:
            - scheme: {const: nhs_number}
              value: t:Nhs
        events:
          - type: involvement_opened
            involvement:
              local_reference: t:Case
              service: {xpath: t:Service, codes: service}
              organisation: t:Org
              start_date: {xpath: t:Start, format: "%d/%m/%Y"}
              lead_professional: {xpath: t:Lead, format: Y/N, default: false}
              practitioner:
                context: t:Worker
                name: t:Name
                role: {xpath: t:Role, codes: role}
                email: t:Email
          - type: demographics_changed
            when: t:Carer[t:Current = 'Y']
            carers:
              for_each: t:Carer[t:Current = 'Y']
              given_names: t:Given
              family_name: t:Family
    lookup:
      request:
        name: Find
        match: self::t:Find
        actor:
          user_id: t:User
          organisation: t:Org
        reason: {const: direct_work}
        local_id: t:Ref
      response:
        element: t:Found
        attributes:
          count: {count: result.matches}
        children:
          - element: t:User
            value: request.actor.user_id
          - element: t:Child
            for_each: result.matches
            attributes:
              score: {path: score, format: ".2f"}
            children:
              - {element: t:Name, value: record.family_name}
              - {element: t:Sex, value: {path: record.gender, codes: gender}}
              - {element: t:Dob, value: {path: record.date_of_birth, format: "%d/%m/%Y"}}
              - element: t:Hidden
                when: record.shielded
                value: {const: "yes"}
              - element: t:Line
                for_each: record.address.lines
                value: "."
              - element: t:Service
                for_each: record.involvements
                as: inv
                attributes:
                  code: {path: inv.service, codes: service}
                  lead: {path: inv.lead_professional, format: Y/N}
                value: inv.organisation
    """
)


def opened(**over) -> bytes:
    """A message for BASE, with any element's text replaced (None drops the element)."""
    fields = {
        "Id": "MSG-1",
        "At": "2024-07-01T09:30:00",
        "Ref": "C100",
        "Given": "Amelia",
        "Middle": "Rose",
        "Family": "Thompson",
        "Dob": "02/03/2015",
        "Sex": "F",
        "Nhs": "943 476 5919",
        "Case": "CASE-1",
        "Service": "CSC",
        "Org": "Leeds City Council",
        "Start": "14/03/2024",
        "Lead": "N",
        "Name": "Priya Sharma",
        "Role": "SW",
        "Email": "priya.sharma@example.org",
    }
    fields.update(over)

    def el(name):
        return "" if fields[name] is None else f"<t:{name}>{fields[name]}</t:{name}>"

    child = "".join(el(n) for n in ("Ref", "Given", "Middle", "Family", "Dob", "Sex", "Nhs"))
    worker = "".join(el(n) for n in ("Name", "Role", "Email"))
    rest = "".join(el(n) for n in ("Case", "Service", "Org", "Start", "Lead"))
    return (
        f'<t:Opened xmlns:t="{NS}">{el("Id")}{el("At")}<t:Child>{child}</t:Child>{rest}'
        f"<t:Worker>{worker}</t:Worker>"
        "<t:Carer><t:Given>Jodie</t:Given><t:Family>Thompson</t:Family><t:Current>Y</t:Current></t:Carer>"
        "<t:Carer><t:Given>Darren</t:Given><t:Family>Kelly</t:Family><t:Current>N</t:Current></t:Carer>"
        "<t:Notes><t:Note>The child said something that must never leave the adapter.</t:Note></t:Notes>"
        "</t:Opened>"
    ).encode()


def xml(data: bytes | str):
    return parse_xml(data.encode() if isinstance(data, str) else data)


def line_of(text: str, fragment: str, nth: int = 1) -> int:
    """1-based line of the nth line containing ``fragment``."""
    hits = [i + 1 for i, line in enumerate(text.splitlines()) if fragment in line]
    assert len(hits) >= nth, f"{fragment!r} not in mapping text"
    return hits[nth - 1]


@pytest.fixture
def write_mapping(tmp_path):
    """write_mapping(text, system='test', name='product') -> path under tmp/mappings/."""

    def write(text: str, system: str = "test", name: str = "product") -> Path:
        folder = tmp_path / "mappings" / system
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    return write
