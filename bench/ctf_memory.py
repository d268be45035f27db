"""Memory and time of reading a large Common Transfer File, pupil by pupil.

Generates a CTF of N pupils (each with contacts, attendance, KS2 results and SEN
history, like a real one) in a temporary folder, then splits it with the school
plugin's streaming splitter and maps every pupil with ``mappings/school/ctf.yaml``.
Prints the file size, the time, and the peak memory: the process's peak resident
set (``ru_maxrss``, which includes libxml2's own allocations) above what it was
before the run, and the Python-level peak (tracemalloc). Each size runs in a fresh
process so the peaks do not mix.

    .venv/bin/python -m bench.ctf_memory --pupils 2000 --pupils 20000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ("383", "4012", "Bankside Primary School")
DEST = ("383", "4013")
SCHOOLS = {"3834013": "Harehills Primary School"}

_HEADER = f"""<?xml version="1.0" encoding="UTF-8"?>
<CTfile>
  <Header>
    <DocumentName>Common Transfer File</DocumentName>
    <CTFversion>22.0</CTFversion>
    <DateTime>2024-07-19T14:03:22</DateTime>
    <DocumentQualifier>full</DocumentQualifier>
    <SupplierID>BENCH</SupplierID>
    <SourceSchool><LEA>{SOURCE[0]}</LEA><Estab>{SOURCE[1]}</Estab><SchoolName>{SOURCE[2]}</SchoolName><AcademicYear>2023</AcademicYear></SourceSchool>
    <DestSchool><LEA>{DEST[0]}</LEA><Estab>{DEST[1]}</Estab></DestSchool>
  </Header>
  <CTFpupilData>
"""
_SURNAMES = ["Okafor", "Nowak", "Hussain", "Walker", "Brennan", "O'Neill", "Patel", "Smith-Jones"]
_FORENAMES = ["Chidi", "Zofia", "Amir", "Maisie", "Kyle", "Aoife", "Priya", "Sam"]


def pupil_xml(i: int) -> str:
    """One realistic pupil; its UPN (``<check letter>3834012<serial>``) is valid."""
    from cpbridge.identifiers import upn_check_letter

    body = f"3834012{i % 100000:05d}"
    upn = upn_check_letter(body) + body
    sur, fore = _SURNAMES[i % len(_SURNAMES)], _FORENAMES[i % len(_FORENAMES)]
    marks = "/" * 200
    return f"""    <Pupil>
      <UPN>{upn}</UPN>
      <Surname>{sur}</Surname>
      <Forename>{fore}</Forename>
      <DOB>2013-{i % 12 + 1:02d}-{i % 28 + 1:02d}</DOB>
      <Sex>{"MF"[i % 2]}</Sex>
      <BasicDetails><MiddleNames>Lee</MiddleNames><NCyearActual>6</NCyearActual><Ethnicity>WBRI</Ethnicity><MedicalFlag>false</MedicalFlag><EnrolStatus>C</EnrolStatus></BasicDetails>
      <SENhistory><SEN><StartDate>2021-09-06</StartDate><SENprovision>K</SENprovision></SEN><SENneeds><SENneed><SENtypeRank>1</SENtypeRank><SENtype>SLCN</SENtype></SENneed></SENneeds></SENhistory>
      <Address><BS7666Address><PAON>{i % 300 + 1}</PAON><Street>Ashley Road</Street><Locality>Harehills</Locality><Town>Leeds</Town></BS7666Address><PostCode>LS9 7AJ</PostCode></Address>
      <Contacts>
        <Contact><Order>1</Order><Title>Ms</Title><Surname>{sur}</Surname><Forename>Alex</Forename><Relationship>PAR</Relationship><Responsibility>true</Responsibility><Phones><Phone><TelephoneType>M</TelephoneType><PhoneNo>07700 900{i % 1000:03d}</PhoneNo></Phone></Phones><Email>parent{i}@example.org.uk</Email></Contact>
        <Contact><Order>2</Order><Surname>Hartley</Surname><Forename>Denise</Forename><Relationship>CHM</Relationship><Responsibility>false</Responsibility></Contact>
      </Contacts>
      <Attendance><YearData><Year>2023</Year><SessionsPossible>372</SessionsPossible><SessionsAuthorised>19</SessionsAuthorised><SessionsUnauthorised>27</SessionsUnauthorised><AttendanceMarks>{marks}</AttendanceMarks></YearData></Attendance>
      <StageAssessments><KeyStage><Stage>KS2</Stage>
        <StageAssessment><Locale>ENG</Locale><Year>2024</Year><Subject>MAT</Subject><Method>TT</Method><Component>SCALED SCORE</Component><ResultStatus>R</ResultStatus><ResultQualifier>SS</ResultQualifier><Result>{90 + i % 30:03d}</Result></StageAssessment>
        <StageAssessment><Locale>ENG</Locale><Year>2024</Year><Subject>ENG</Subject><Method>TA</Method><Component>WRITING</Component><ResultStatus>R</ResultStatus><ResultQualifier>WA</ResultQualifier><Result>EXS</Result></StageAssessment>
      </KeyStage></StageAssessments>
      <SchoolHistory><School><LEA>383</LEA><Estab>4012</Estab><SchoolName>Bankside Primary School</SchoolName><EntryDate>2017-09-05</EntryDate><LeavingDate>2024-07-16</LeavingDate></School></SchoolHistory>
    </Pupil>
"""


def write_ctf(path: Path, pupils: int) -> Path:
    """Write a CTF of ``pupils`` pupils from Bankside (383/4012) to Harehills (383/4013), streaming."""
    with Path(path).open("w", encoding="utf-8") as out:
        out.write(_HEADER)
        for i in range(pupils):
            out.write(pupil_xml(i))
        out.write("  </CTFpupilData>\n</CTfile>\n")
    return Path(path)


def measure(pupils: int, *, map_events: bool = True) -> dict:
    """Generate, split (and map) one file in this process; the figures as a dict."""
    from cpbridge.mapping import load_mapping
    from cpbridge.sources import file_digest
    from cpbridge_school import CTFSplitter

    mapping = load_mapping(ROOT / "mappings" / "school" / "ctf.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        path = write_ctf(Path(tmp) / "bench.xml", pupils)
        size = path.stat().st_size
        digest = file_digest(path)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        tracemalloc.start()
        started = time.perf_counter()
        count = events = 0
        for message_id, root in CTFSplitter(SCHOOLS)(path, digest):
            count += 1
            if map_events:
                events += len(mapping.events(root, message_id))
        elapsed = time.perf_counter() - started
        _, py_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "pupils": count,
        "events": events,
        "file_mb": round(size / 1e6, 1),
        "seconds": round(elapsed, 2),
        "pupils_per_second": round(count / elapsed) if elapsed else None,
        "rss_growth_mb": round((rss_after - rss_before) / 1024, 1),  # ru_maxrss is KiB on Linux
        "python_peak_mb": round(py_peak / 1e6, 2),
    }


def measure_in_subprocess(pupils: int, *, map_events: bool = True) -> dict:
    """:func:`measure` in a fresh interpreter, so peak memory is this run's alone."""
    code = (
        "import json, sys; from bench.ctf_memory import measure; "
        f"print(json.dumps(measure({int(pupils)}, map_events={bool(map_events)})))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pupils", type=int, action="append", help="file size in pupils (repeat for several)")
    parser.add_argument("--split-only", action="store_true", help="measure the splitter without the mapping")
    args = parser.parse_args(argv)
    for n in args.pupils or [2000, 20000]:
        r = measure_in_subprocess(n, map_events=not args.split_only)
        print(
            f"{r['pupils']:>7} pupils  {r['file_mb']:>6} MB file  {r['seconds']:>7} s  {r['pupils_per_second']:>6} pupils/s  "
            f"{r['events']:>7} events  peak RSS growth {r['rss_growth_mb']:>5} MB  Python peak {r['python_peak_mb']:>5} MB"
        )


if __name__ == "__main__":
    main()
