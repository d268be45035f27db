"""The school plugin and the CTF mapping: samples, data minimisation, the watched folder, streaming."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from lxml import etree

from cpbridge.mapping import check_all, load_mapping
from cpbridge.plugins import make_plugin_manager
from cpbridge.sources import FolderSource, file_digest
from cpbridge.systems import LocalSystem
from cpbridge.xmlsafe import parse_xml
from cpbridge_school import CTFSplitter, dfe_number, served_schools

from .product_helpers import declared_types

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the repository's bench package is not installed with cpbridge
    sys.path.insert(0, str(ROOT))
from bench.ctf_memory import measure_in_subprocess, write_ctf  # noqa: E402
MAPPING = ROOT / "mappings" / "school" / "ctf.yaml"
SAMPLES = ROOT / "samples" / "school" / "ctf"
CTF = SAMPLES / "files" / "ctf_3834012_to_3834013.xml"
HAREHILLS = {"3834013": "Harehills Primary School"}
BANKSIDE = {"3834012": "Bankside Primary School"}
UPNS = ["Y383401217014", "H383401217022", "G383401217031"]
DROPPED = [v for v in (SAMPLES / "CASE_NOTES.txt").read_text(encoding="utf-8").splitlines() if v.strip()]


@pytest.fixture(scope="module")
def mapping():
    return load_mapping(MAPPING)


def _system(tmp_path: Path, schools=HAREHILLS, **options) -> LocalSystem:
    opts = {"watch_folder": str(tmp_path / "in"), "schools": schools, **options}
    return LocalSystem(id="school", type="school", product="DfE Common Transfer File", options=opts)


def _events_json(mapping, schools=HAREHILLS, path=CTF) -> list[list[dict]]:
    out = []
    for message_id, root in CTFSplitter(schools)(path, file_digest(path)):
        out.append([e.wire() for e in mapping.events(root, message_id)])
    return out


def test_plugin_declares_school_type_and_only_sources_for_school_systems(tmp_path):
    pm = make_plugin_manager()
    types = declared_types("school")
    assert len(types) == 1 and types[0].plugin == "school"
    [sources] = [s for s in pm.hook.register_intake_sources(system=_system(tmp_path)) if s]
    assert len(sources) == 1 and isinstance(sources[0], FolderSource)
    assert sources[0].folder == tmp_path / "in" and (tmp_path / "in" / "done").is_dir()
    other = LocalSystem(id="ics", type="ics", product="x", options={"watch_folder": str(tmp_path)})
    assert not any(pm.hook.register_intake_sources(system=other))
    no_folder = LocalSystem(id="school", type="school", product="x", options={})
    assert not any(pm.hook.register_intake_sources(system=no_folder))


def test_schools_option_is_checked_with_a_clear_message(tmp_path):
    pm = make_plugin_manager()
    with pytest.raises(ValueError, match="system 'school': school system option 'schools' is required"):
        pm.hook.register_intake_sources(system=_system(tmp_path, schools=None))
    with pytest.raises(ValueError, match="'38340' is not a DfE number"):
        served_schools({"schools": {"38340": "X"}})
    assert served_schools({"schools": {"383/4013": " Harehills Primary School "}}) == HAREHILLS
    assert dfe_number("383/4013") == dfe_number(3834013) == "3834013"


def test_mapping_header(mapping):
    assert (mapping.id, mapping.system) == ("school", "school")
    assert mapping.samples_dir == SAMPLES.resolve() and mapping.wsdl_path is None


def test_every_sample_checks_clean(mapping):
    reports = mapping.check_samples()
    assert {r.sample.name for r in reports} == {
        "pupil_joining.xml", "pupil_leaving.xml", "pupil_moving_within_authority.xml", "pupil_bad_upn.xml",
    }
    assert all(r.ok and r.compared for r in reports), [r.describe() for r in reports if not r.ok]
    assert all(r.ok for r in check_all(ROOT / "mappings") if "school" in str(r.file))


@pytest.mark.parametrize(
    "sample, schools, upn",
    [
        ("pupil_joining.xml", HAREHILLS, UPNS[0]),
        ("pupil_leaving.xml", BANKSIDE, UPNS[1]),
        ("pupil_moving_within_authority.xml", {**HAREHILLS, **BANKSIDE}, UPNS[0]),
    ],
)
def test_wrapper_samples_are_what_the_splitter_hands_the_mapping(sample, schools, upn):
    wrapped = {mid.rsplit(":", 1)[1]: root for mid, root in CTFSplitter(schools)(CTF, file_digest(CTF))}
    expected = parse_xml((SAMPLES / sample).read_bytes())
    c14n = lambda el: etree.tostring(el, method="c14n", with_comments=False)  # noqa: E731
    etree.indent(wrapped[upn], space="  ")
    assert c14n(wrapped[upn]) == c14n(expected)


def test_joining_pupils_get_the_school_and_their_carers(mapping):
    pupils = _events_json(mapping, HAREHILLS)
    assert [[e["type"] for e in p] for p in pupils] == [["setting_changed", "demographics_changed"]] * 3
    chidi = pupils[0]
    assert chidi[0]["setting"] == {"kind": "school", "code": "3834013", "name": "Harehills Primary School"}
    assert chidi[0]["child"]["identifier"] == [{"scheme": "upn", "value": UPNS[0]}]
    assert chidi[0]["child"]["address"] == {"line": ["27 Ashley Road", "Harehills", "Leeds"], "postcode": "LS9 7AJ"}
    carers = chidi[1]["carer"]
    # the childminder (CHM) and the doctor (DOC) are contacts, not carers: dropped
    assert [(c["givenNames"], c["relationship"], c.get("parentalResponsibility")) for c in carers] == [
        ("Ngozi", "parent", True), ("Obinna", "parent", True),
    ]
    assert "address" not in carers[0]  # AddressAsPupil
    assert carers[1]["address"] == {"line": ["Flat 3", "12 Roundhay Road", "Leeds"], "postcode": "LS8 5AN"}
    zofia = pupils[1][1]
    assert zofia["child"]["alias"] == [{"givenNames": "Zofia", "familyName": "Kowalczyk"}]
    assert zofia["carer"] == [{"givenNames": "Maureen", "familyName": "Brennan", "relationship": "foster_carer",
                               "phone": "0113 496 0912", "email": "maureen.brennan@example.org.uk",
                               "parentalResponsibility": False}]
    amir = pupils[2][0]["child"]
    assert amir["address"]["line"] == ["Flat 9", "Shepherds Court Harehills Lane", "Leeds"]


def test_leaving_pupils_end_the_source_school(mapping):
    pupils = _events_json(mapping, BANKSIDE)
    assert [[e["type"] for e in p] for p in pupils] == [["setting_changed"]] * 3
    ends = [p[0]["setting"]["endDate"] for p in pupils]
    assert ends == ["2024-07-16", "2024-07-19", "2024-07-19"]  # SchoolHistory LeavingDate, else the CTF's date
    assert {p[0]["setting"]["code"] for p in pupils} == {"3834012"}


def test_educational_content_goes_nowhere(mapping):
    assert len(DROPPED) >= 20
    text = CTF.read_text(encoding="utf-8")
    out = json.dumps(_events_json(mapping, {**HAREHILLS, **BANKSIDE}))
    for value in DROPPED:
        assert value in text, f"{value!r} is not in the sample, so the test proves nothing"
        assert json.dumps(value) not in out, value
    for tag in ("Attendance", "StageAssessments", "SENhistory", "FSMhistory", "LookedAfter", "Ethnicity"):
        assert tag not in out


def _folder(tmp_path: Path, *files: Path) -> FolderSource:
    pm = make_plugin_manager()
    inbox = tmp_path / "in"
    inbox.mkdir(exist_ok=True)
    for f in files:
        shutil.copy(f, inbox / f.name)
    [[source]] = [s for s in pm.hook.register_intake_sources(system=_system(tmp_path)) if s]
    return source


def test_folder_source_yields_one_item_per_pupil_and_moves_the_file_when_done(tmp_path, mapping):
    source = _folder(tmp_path, CTF)
    digest = file_digest(CTF)
    items = list(source.poll())
    assert [i.message_id for i in items] == [f"ctf:{digest}:{u}" for u in UPNS]
    for item in items:
        assert mapping.message_type(item.root) == "CTFPupil"
        assert item.root.get("id") == item.message_id
    assert not list((tmp_path / "in").glob("*.xml"))
    assert (tmp_path / "in" / "done" / CTF.name).is_file()


def test_malformed_file_is_rejected_with_an_error_note(tmp_path):
    broken = tmp_path / "broken.xml"
    broken.write_text(CTF.read_text(encoding="utf-8")[:3000])
    source = _folder(tmp_path, broken)
    list(source.poll())
    assert (tmp_path / "in" / "rejected" / "broken.xml").is_file()
    note = (tmp_path / "in" / "rejected" / "broken.xml.error").read_text()
    assert "XMLSyntaxError" in note


@pytest.mark.parametrize(
    "edit, expected",
    [
        (lambda t: t.replace("<Estab>4013</Estab>", "<Estab>4999</Estab>"), "neither is a school this folder serves"),
        (lambda t: t.replace("Common Transfer File</DocumentName>", "Admissions Transfer File</DocumentName>"), "not 'Common Transfer File'"),
        (lambda t: t.replace("<CTfile>", "<ATfile>").replace("</CTfile>", "</ATfile>"), "not a CTF's <CTfile>"),
        (lambda t: t.replace("<?xml version=\"1.0\" encoding=\"UTF-8\"?>", "<!DOCTYPE CTfile [<!ENTITY x \"y\">]>"), "DOCTYPE"),
    ],
)
def test_files_that_are_not_for_us_are_rejected_before_any_pupil(tmp_path, edit, expected):
    bad = tmp_path / "bad.xml"
    bad.write_text(edit(CTF.read_text(encoding="utf-8")))
    source = _folder(tmp_path, bad)
    assert list(source.poll()) == []
    assert expected in (tmp_path / "in" / "rejected" / "bad.xml.error").read_text()


def test_repolling_after_a_crash_yields_the_same_message_ids(tmp_path):
    source = _folder(tmp_path, CTF)
    polling = source.poll()
    first = next(polling).message_id  # the adapter "crashes" here: the file stays in the folder
    polling.close()
    assert (tmp_path / "in" / CTF.name).is_file()
    again = [i.message_id for i in source.poll()]
    assert again[0] == first and len(again) == 3 and len(set(again)) == 3


class _CountingPath(type(Path())):
    """A path whose opened file counts the bytes read from it."""

    read_so_far = 0

    def open(self, *args, **kwargs):
        fh = super().open(*args, **kwargs)
        outer = self

        class Counting:
            def read(self, n=-1):
                data = fh.read(n)
                type(outer).read_so_far += len(data)
                return data

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                fh.close()

        return Counting()


def test_a_5000_pupil_file_is_streamed_not_built(tmp_path):
    path = write_ctf(tmp_path / "big.xml", 5000)
    size = path.stat().st_size
    counting = _CountingPath(path)
    splitter = CTFSplitter(HAREHILLS)
    reading = splitter(counting, file_digest(path))
    next(reading)
    assert _CountingPath.read_so_far < size * 0.05, "the first pupil came only after most of the file was read"
    mid_way = sum(1 for _ in zip(range(2499), reading))
    assert mid_way == 2499 and _CountingPath.read_so_far < size * 0.6
    assert sum(1 for _ in reading) == 2500


def test_memory_stays_flat_whatever_the_size_of_the_file():
    small = measure_in_subprocess(500, map_events=False)
    large = measure_in_subprocess(5000, map_events=False)
    assert (small["pupils"], large["pupils"]) == (500, 5000)
    # a parsed tree of the 12 MB file would take several times its size; streaming adds next to nothing
    assert large["rss_growth_mb"] < 8, large
    assert large["python_peak_mb"] < small["python_peak_mb"] + 1, (small, large)
