"""The YOT nightly return: streamed splitting, the watched folder, and deduplication on re-reads."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from cpbridge_yot.batch import MAX_MESSAGE_ID, record_message_id, split_nightly_return

from cpbridge import Fault
from cpbridge.adapter.intake import Intake
from cpbridge.adapter.outbox import Outbox
from cpbridge.adapter.polling import SourcePoller
from cpbridge.mapping import load_mapping
from cpbridge.plugins import make_plugin_manager
from cpbridge.sources import FolderSource
from cpbridge.systems import LocalSystem
from cpbridge.xmlsafe import iterparse_safe

from .product_helpers import case_notes

ROOT = Path(__file__).resolve().parents[2]
MAPPING = ROOT / "mappings" / "yot" / "keystone.yaml"
SAMPLES = ROOT / "samples" / "yot" / "keystone"
BATCH = SAMPLES / "batch" / "nightly_return_20240605.xml"
EXPECTED = json.loads(BATCH.with_name("nightly_return_20240605.expected.json").read_text(encoding="utf-8"))
CASE_NOTES = case_notes(SAMPLES)
NS = "urn:keystone:yj:exchange:4"


@pytest.fixture(scope="module")
def mapping():
    return load_mapping(MAPPING)


@pytest.fixture
def system(mapping, tmp_path):
    return LocalSystem(
        id="yot", type="yot", product="Keystone YJ", mapping=mapping, options={"watch_folder": str(tmp_path / "drop")}
    )


class NoDirectory:
    """The folder intake never looks anything up: any call is a test failure."""

    def search(self, request):  # pragma: no cover - must not happen
        raise AssertionError("a nightly return record was treated as a lookup")


@pytest.fixture
def intake(sqlite_url):
    outbox = Outbox(sqlite_url)
    yield Intake(SimpleNamespace(pm=make_plugin_manager()), outbox, NoDirectory())
    outbox.close()


def _batch(records: list[str], *, batch_id: str = "KYJ-BRD-NR-TEST", count: int | None = None) -> bytes:
    count = len(records) if count is None else count
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<ks:NightlyReturn xmlns:ks="{NS}" batchId="{batch_id}" '
        f'created="2024-06-05 23:30:00" recordCount="{count}">' + "".join(records) + "</ks:NightlyReturn>"
    ).encode()


def _record(message_id: str, episode: str) -> str:
    """A minimal OrderEnded record (the sample's young person, one episode)."""
    return (
        f"<ks:OrderEnded><ks:Header><ks:MessageId>{message_id}</ks:MessageId><ks:Created>2024-06-05 18:00:00</ks:Created>"
        '<ks:Service code="YJS-BRD">Bradford Youth Justice Service</ks:Service></ks:Header>'
        "<ks:YoungPerson><ks:KeystoneId>KYJ-055012</ks:KeystoneId><ks:FirstName>Tyler</ks:FirstName>"
        "<ks:LastName>Hartley</ks:LastName><ks:DateOfBirth>14-Feb-2008</ks:DateOfBirth><ks:Sex>MALE</ks:Sex></ks:YoungPerson>"
        f"<ks:Episode><ks:EpisodeRef>{episode}</ks:EpisodeRef><ks:Kind>ORDER</ks:Kind><ks:StartDate>05-Jan-2024</ks:StartDate>"
        "<ks:EndDate>05-Jun-2024</ks:EndDate></ks:Episode>"
        "<ks:Ending><ks:EndReason>COMPLETED</ks:EndReason></ks:Ending></ks:OrderEnded>"
    )


def test_records_are_the_soap_messages_with_batch_scoped_ids(mapping):
    out = []
    for message_id, record in split_nightly_return(BATCH, "digest"):
        assert record.getparent() is None  # a detached copy, safe to keep
        out.append(
            {"messageId": message_id, "messageType": mapping.message_type(record), "events": [e.wire() for e in mapping.events(record, message_id)]}
        )
    assert out == EXPECTED
    assert [r["messageType"] for r in out] == ["OrderStarted", "InterventionStarted", "OrderEnded"]
    assert all(r["messageId"].startswith("KYJ-BRD-NR-20240605:KYJ-BRD-") for r in out)


def test_the_batchs_case_data_goes_nowhere(mapping):
    text = BATCH.read_text(encoding="utf-8")
    carried = [s for s in CASE_NOTES if s in text]
    assert len(carried) >= 5
    events = [e for mid, rec in split_nightly_return(BATCH, "d") for e in mapping.events(rec, mid)]
    out = json.dumps([e.model_dump(mode="json") for e in events])
    for sentence in carried:
        assert sentence not in out


def test_register_intake_sources_only_for_a_yot_system_with_a_folder(system, mapping, tmp_path):
    pm = make_plugin_manager()
    sources = [s for found in pm.hook.register_intake_sources(system=system) for s in found]
    assert len(sources) == 1 and isinstance(sources[0], FolderSource)
    assert sources[0].folder == tmp_path / "drop" and sources[0].split is split_nightly_return
    assert (tmp_path / "drop" / "done").is_dir() and (tmp_path / "drop" / "rejected").is_dir()
    no_folder = LocalSystem(id="yot", type="yot", product="Keystone YJ", mapping=mapping)
    assert [s for found in pm.hook.register_intake_sources(system=no_folder) for s in found] == []
    other = LocalSystem(id="ics", type="ics", product="x", options={"watch_folder": str(tmp_path / "x")})
    assert [s for found in pm.hook.register_intake_sources(system=other) for s in found] == []


def _poller(system, intake) -> SourcePoller:
    (source,) = [s for found in make_plugin_manager().hook.register_intake_sources(system=system) for s in found]
    return SourcePoller(intake, [(system, source)])


def test_a_dropped_nightly_return_reaches_the_outbox_once(system, intake, tmp_path):
    drop = tmp_path / "drop"
    poller = _poller(system, intake)
    shutil.copy(BATCH, drop / BATCH.name)
    assert poller.poll_once() == 3
    assert not (drop / BATCH.name).exists() and (drop / "done" / BATCH.name).exists()
    rows = intake.outbox.rows(system_id="yot")
    assert sorted(r.event_id for r in rows) == sorted(e["eventId"] for r in EXPECTED for e in r["events"])
    # The same file dropped again (a resend, or a re-read after a crash): nothing new is stored.
    shutil.copy(BATCH, drop / BATCH.name)
    assert poller.poll_once() == 3  # accepted again, as duplicates
    again = intake.outbox.rows(system_id="yot")
    assert sorted(r.id for r in again) == sorted(r.id for r in rows)
    assert len({r.tracking_id for r in again}) == 3  # one message per record


def test_a_bad_record_is_noted_and_the_rest_carry_on(system, intake, tmp_path):
    drop = tmp_path / "drop"
    poller = _poller(system, intake)
    bad = _record("KYJ-BRD-9", "ORD-9").replace("<ks:Sex>MALE</ks:Sex>", "<ks:Sex>Z</ks:Sex>")
    (drop / "nr.xml").write_bytes(_batch([_record("KYJ-BRD-1", "ORD-1"), bad, _record("KYJ-BRD-2", "ORD-2")]))
    assert poller.poll_once() == 2
    note = (drop / "done" / "nr.xml.rejected.txt").read_text()
    assert note.startswith("KYJ-BRD-NR-TEST:KYJ-BRD-9: UnmappedCode:") and "child.gender" in note
    assert {json.loads(r.payload)["localReference"] for r in intake.outbox.rows(system_id="yot")} == {"ORD-1", "ORD-2"}


def test_an_incomplete_file_is_rejected_and_its_good_records_kept(system, intake, tmp_path):
    drop = tmp_path / "drop"
    poller = _poller(system, intake)
    (drop / "short.xml").write_bytes(_batch([_record("KYJ-BRD-1", "ORD-1")], count=2))
    assert poller.poll_once() == 1
    error = (drop / "rejected" / "short.xml.error").read_text()
    assert "declares 2 record(s) but holds 1" in error
    # the complete file, dropped again, adds only what was missing
    (drop / "short.xml").write_bytes(_batch([_record("KYJ-BRD-1", "ORD-1"), _record("KYJ-BRD-2", "ORD-2")]))
    assert poller.poll_once() == 2
    assert len(intake.outbox.rows(system_id="yot")) == 2


@pytest.mark.parametrize(
    "data,code",
    [
        (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "boom">]><ks:NightlyReturn xmlns:ks="' + NS.encode() + b'"/>', "DtdForbidden"),
        (b'<ks:OrderStarted xmlns:ks="' + NS.encode() + b'"/>', "UnknownMessageType"),
        (b'<ks:NightlyReturn xmlns:ks="' + NS.encode() + b'" recordCount="0" created="x"/>', "InvalidRequest"),
        (b'<ks:NightlyReturn xmlns:ks="' + NS.encode() + b'" batchId="B" recordCount="many" created="x"/>', "InvalidRequest"),
    ],
)
def test_files_that_are_not_a_safe_nightly_return_are_refused(tmp_path, data, code):
    path = tmp_path / "f.xml"
    path.write_bytes(data)
    with pytest.raises(Fault) as exc:
        list(split_nightly_return(path, "d"))
    assert exc.value.code == code and "f.xml" in exc.value.message


def test_a_refused_file_moves_to_rejected(system, intake, tmp_path):
    drop = tmp_path / "drop"
    poller = _poller(system, intake)
    (drop / "truncated.xml").write_bytes(_batch([_record("KYJ-BRD-1", "ORD-1")])[: -len("</ks:NightlyReturn>")])
    assert poller.poll_once() == 1  # the complete record before the cut is kept
    assert (drop / "rejected" / "truncated.xml").exists()
    assert "XMLSyntaxError" in (drop / "rejected" / "truncated.xml.error").read_text()


def test_large_batches_stream_record_by_record(tmp_path, monkeypatch):
    """Each record is cleared from the parse tree once handed on (memory of one record)."""
    from cpbridge_yot import batch

    parsed = {}

    def watched(source, **kwargs):
        for event, el in iterparse_safe(source, **kwargs):
            parsed.setdefault("root", el)
            yield event, el

    monkeypatch.setattr(batch, "iterparse_safe", watched)
    path = tmp_path / "big.xml"
    path.write_bytes(_batch([_record(f"KYJ-BRD-{n}", f"ORD-{n}") for n in range(3000)]))
    seen = 0
    for message_id, record in split_nightly_return(path, "d"):
        seen += 1
        assert message_id == f"KYJ-BRD-NR-TEST:KYJ-BRD-{seen - 1}"
        assert record.find(f"{{{NS}}}Episode/{{{NS}}}EpisodeRef").text == f"ORD-{seen - 1}"
        # earlier records are gone from the parse tree; the one just read is emptied; what
        # remains is only the parser's read-ahead, not the file
        root = parsed["root"]
        assert len(root[0]) == 0 and len(root) < 200
    assert seen == 3000


def test_records_without_their_own_id_use_their_position_and_long_ids_are_digested():
    assert record_message_id("B", "M1") == "B:M1"
    long_id = record_message_id("B" * 60, "M" * 40)
    assert long_id.startswith("nr:") and len(long_id) <= MAX_MESSAGE_ID
    assert long_id == record_message_id("B" * 60, "M" * 40)


def test_a_record_without_message_id_is_numbered(tmp_path):
    path = tmp_path / "n.xml"
    path.write_bytes(_batch([_record("", "ORD-1"), _record("", "ORD-2")]))
    assert [mid for mid, _ in split_nightly_return(path, "d")] == ["KYJ-BRD-NR-TEST:#1", "KYJ-BRD-NR-TEST:#2"]


def test_a_poison_file_does_not_block_the_files_after_it(system, intake, tmp_path):
    drop = tmp_path / "drop"
    poller = _poller(system, intake)
    (drop / "a_poison.xml").write_bytes(b'<ks:NightlyReturn batchId="B1" recordCount="0"/>')  # prefix never declared
    shutil.copy(BATCH, drop / "b_good.xml")
    assert poller.poll_once() == 3  # the good file behind it is taken in the same pass
    assert (drop / "rejected" / "a_poison.xml").exists() and (drop / "done" / "b_good.xml").exists()
