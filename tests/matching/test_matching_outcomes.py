"""What the local system is told per record: through the adapter (GetStatus by tracking id), over
the directory's SOAP endpoint, and the review commands of the CLI."""

from __future__ import annotations

import json
import time
from datetime import date

import zeep
from lxml import etree
from sqlalchemy import select
from typer.testing import CliRunner
from zeep.wsse.username import UsernameToken

from cpbridge.adapter.app import create_app as adapter_app
from cpbridge.adapter.runtime import AdapterRuntime
from cpbridge.contract import EVENT_OPERATIONS
from cpbridge.directory import service
from cpbridge.directory.app import create_app as directory_app
from cpbridge.directory.db import make_engine, migrate, session_factory
from cpbridge.directory.review_tables import ReviewCase
from cpbridge.settings import (
    PROJECT_ROOT,
    AdapterSettings,
    DirectorySettings,
    Settings,
    SystemAccount,
)
from cpbridge.testing import ServerThread, free_port

from .service_helpers import identity, nhs, opened, system_caller

SAMPLES = PROJECT_ROOT / "samples" / "ics" / "caseview"


def _sessions(settings: Settings):
    url = settings.directory_db_url()
    migrate(url)
    return session_factory(make_engine(url))


def test_the_adapter_reports_queued_for_review_with_its_reason_code(tmp_path):
    dport = free_port()
    settings = Settings(
        data_dir=tmp_path,
        directory=DirectorySettings(port=dport),
        adapter=AdapterSettings(
            port=free_port(), directory_url=f"http://127.0.0.1:{dport}/directory/soap", poll_interval=0.05,
            backoff_initial=0.05, backoff_max=0.5, mappings_dir=PROJECT_ROOT / "mappings",
        ),
    )  # fmt: skip
    # The directory already holds an Amelia Rose Thompson born the same day at the same
    # address, with another NHS number than the ICS sample's: never an automatic match.
    sessions = _sessions(settings)
    sample = json.loads((SAMPLES / "referral_accepted.expected.json").read_text())
    events = sample if isinstance(sample, list) else sample["events"]
    child = events[0]["child"]
    other = identity(child["givenNames"], child["familyName"], date.fromisoformat(child["dateOfBirth"]),
                     postcode=child["address"]["postcode"], line=child["address"]["line"][0], nhs_number=nhs())  # fmt: skip
    with sessions.begin() as s:
        service.apply_event(s, system_caller(), opened(other, source="gp"))

    runtime = AdapterRuntime(settings)
    directory = ServerThread(directory_app(settings), dport).start()
    adapter = ServerThread(adapter_app(runtime), settings.adapter.port).start()
    try:
        client = zeep.Client(f"{adapter.url}/systems/ics/soap?wsdl")
        root = etree.parse(str(SAMPLES / "referral_accepted.xml")).getroot()
        value = client.get_element(root.tag).parse(root, client.wsdl.types)
        with client.settings(raw_response=True):
            resp = getattr(client.service, etree.QName(root).localname)(**value.__values__)
        assert resp.status_code == 200, resp.text
        tracking = etree.fromstring(resp.content).findtext(".//{urn:cpbridge:adapter:1}trackingId")
        deadline = time.monotonic() + 30
        while runtime.outbox.counts()["pending"] and time.monotonic() < deadline:
            time.sleep(0.05)
        status = runtime.outbox.status(tracking)
        assert status["status"] == "delivered"
        first = status["events"][0]
        assert (first["outcome"], first["matchOutcome"], first["reasonCode"], first["directoryId"]) == (
            "queued_for_review", "review", "identifier_conflict", None,
        )  # fmt: skip
        assert {e["outcome"] for e in status["events"]} == {"queued_for_review"}
    finally:
        adapter.stop()
        directory.stop()
        runtime.close()
    with sessions() as s:
        cases = s.scalars(select(ReviewCase)).all()
        assert len(cases) == 1 and len(cases[0].events) == len(status["events"])


def test_the_soap_answer_carries_the_outcome_and_reason_per_record(tmp_path):
    settings = Settings(data_dir=tmp_path, directory=DirectorySettings(accounts={"adapter": SystemAccount(secret="s3cret", organisation="Leeds City Council")}))
    directory = ServerThread(directory_app(settings), free_port()).start()
    try:
        client = zeep.Client(f"{directory.url}/directory/soap?wsdl", wsse=UsernameToken("adapter", "s3cret", use_digest=True))
        header = client.get_element("{urn:cpbridge:directory:1}onBehalfOf")(
            userId="svc-ics", organisation="Leeds City Council", role="system", reason="record_update"
        )

        def send(event):
            wire = event.model_dump(mode="json", by_alias=True, exclude_none=True)
            return getattr(client.service, EVENT_OPERATIONS[wire.pop("type")])(**wire, _soapheaders=[header])

        number = nhs()
        created = send(opened(identity("Aisha", "Begum", nhs_number=number)))
        matched = send(opened(identity("Ayesha", "Begum", nhs_number=number), source="gp"))
        twin = send(opened(identity("Amira", "Begum", nhs_number=nhs())))
        held = send(opened(identity("Aisha", "Begum", nhs_number=nhs()), source="school"))
        assert (created.outcome, created.matchOutcome, created.reasonCode) == ("applied", "new", "no_candidate")
        assert (matched.outcome, matched.matchOutcome, matched.reasonCode, matched.directoryId) == (
            "applied", "matched", "nhs_number_match", created.directoryId,
        )  # fmt: skip
        assert twin.matchOutcome == "new" and twin.directoryId != created.directoryId
        assert (held.outcome, held.matchOutcome, held.reasonCode, held.directoryId) == ("queued_for_review", "review", "identifier_conflict", None)
    finally:
        directory.stop()


def test_the_review_commands(tmp_path, monkeypatch):
    import typer

    from cpbridge.directory.commands_matching import register

    db = tmp_path / "directory.db"
    monkeypatch.setenv("CPBRIDGE_DIRECTORY__DATABASE_URL", f"sqlite:///{db}")
    from cpbridge.settings import load_settings

    url = load_settings().directory_db_url()
    assert str(db) in url, "settings do not take the directory URL from the environment"
    migrate(url)
    sessions = session_factory(make_engine(url))
    with sessions.begin() as s:
        a = service.apply_event(s, system_caller(), opened(identity("Sophie", "Turner", nhs_number=nhs())))
        service.apply_event(s, system_caller(), opened(identity("Sophie", "Turner", nhs_number=nhs(), postcode="LS8 3PR")))
    with sessions.begin() as s:
        held = service.apply_event(s, system_caller(), opened(identity("Sophie", "Turner", postcode=None), source="ecaf"))
    assert held.reason_code == "too_close_to_call"

    from cpbridge.directory import commands_matching

    monkeypatch.setattr(commands_matching.console, "width", 250)  # the table must not wrap
    app = typer.Typer()
    register(app)
    runner = CliRunner()
    listing = runner.invoke(app, ["directory", "review", "list"])
    assert listing.exit_code == 0, listing.output
    assert "too_close_to_call" in listing.output and "Sophie Turner" in listing.output
    shown = runner.invoke(app, ["directory", "review", "show", "1", "--user", "mt-jones", "-a", "E08000035"])
    assert shown.exit_code == 0, shown.output
    assert "given_names" in shown.output and a.directory_id in shown.output
    linked = runner.invoke(app, ["directory", "review", "link", "1", a.directory_id, "--user", "mt-jones", "-a", "E08000035"])
    assert linked.exit_code == 0, linked.output
    assert f"linked: events applied to {a.directory_id}" in linked.output and "review_linked" in linked.output
    again = runner.invoke(app, ["directory", "review", "create", "1", "--user", "mt-jones"])
    assert again.exit_code == 1 and "already linked" in again.output
