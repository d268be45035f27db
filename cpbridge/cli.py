"""The ``cpbridge`` command line (typer + rich).

``cpbridge serve`` runs the reference directory and the adapter together on
localhost with SQLite under ./data — the embedded default. Plugins add their
own commands through the ``register_commands`` hook.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from .settings import Settings, load_settings

app = typer.Typer(help="cpbridge: integration adapter and reference directory.", no_args_is_help=True)
directory_app = typer.Typer(help="The reference directory service.", no_args_is_help=True)
adapter_app = typer.Typer(help="The integration adapter.", no_args_is_help=True)
outbox_app = typer.Typer(help="Inspect and work the adapter's outbox.", no_args_is_help=True)
mappings_app = typer.Typer(help="Mapping files.", no_args_is_help=True)
app.add_typer(directory_app, name="directory")
app.add_typer(adapter_app, name="adapter")
app.add_typer(outbox_app, name="outbox")
app.add_typer(mappings_app, name="mappings")

console = Console()
err = Console(stderr=True)


def _settings() -> Settings:
    from .logging import configure_logging

    settings = load_settings()
    configure_logging(settings.log_level)
    return settings


def _fail(message: str) -> None:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(1)


# --- serving ---------------------------------------------------------------------------


def _server(asgi_app, host: str, port: int):
    import uvicorn

    config = uvicorn.Config(asgi_app, host=host, port=port, log_level="warning", access_log=False)
    return uvicorn.Server(config)


def _directory_app(settings: Settings):
    from .directory.app import create_app

    return create_app(settings)


def _adapter_app(settings: Settings):
    from .adapter.app import create_app
    from .adapter.runtime import AdapterRuntime

    return create_app(AdapterRuntime(settings))


@app.command()
def serve() -> None:
    """Run the directory and the adapter together (SQLite under ./data unless configured)."""
    settings = _settings()
    d, a = settings.directory, settings.adapter
    servers = [_server(_directory_app(settings), d.host, d.port), _server(_adapter_app(settings), a.host, a.port)]
    console.print(f"directory: http://{d.host}:{d.port}/directory/soap?wsdl")
    console.print(f"adapter:   http://{a.host}:{a.port}/systems/<system>/soap  (systems: see `cpbridge plugins`)")

    async def run_all():
        await asyncio.gather(*(s.serve() for s in servers))

    asyncio.run(run_all())


@directory_app.command("serve")
def directory_serve() -> None:
    """Run the reference directory alone."""
    settings = _settings()
    console.print(f"directory: http://{settings.directory.host}:{settings.directory.port}/directory/soap?wsdl")
    asyncio.run(_server(_directory_app(settings), settings.directory.host, settings.directory.port).serve())


@adapter_app.command("serve")
def adapter_serve() -> None:
    """Run the adapter alone (delivering to ``adapter.directory_url``)."""
    settings = _settings()
    console.print(f"adapter: http://{settings.adapter.host}:{settings.adapter.port}/systems/<system>/soap")
    asyncio.run(_server(_adapter_app(settings), settings.adapter.host, settings.adapter.port).serve())


# --- plugins and mappings ------------------------------------------------------------------


@app.command()
def plugins() -> None:
    """List the loaded plugins, their hooks, and the local systems they serve."""
    from .adapter.host import Host
    from .plugins import describe, plugin_manager

    pm = plugin_manager()
    table = Table("plugin", "module", "package", "hooks")
    for p in describe(pm):
        table.add_row(p["name"], p["module"], f"{p['package']} {p['version']}".strip(), ", ".join(p["hooks"]))
    console.print(table)
    host = Host(_settings(), pm)
    systems = Table("system", "type", "product", "mapping")
    for s in host.systems.values():
        systems.add_row(s.id, s.type, s.product, str(s.mapping.path if s.mapping else "-"))
    console.print(systems)


@mappings_app.command("check")
def mappings_check(directory: Optional[Path] = typer.Option(None, help="Mappings folder (default: settings)")) -> None:
    """Load every mapping and run it against every sample of its system."""
    from .mapping import MappingError, check_all

    settings = load_settings()
    try:
        reports = check_all(directory or settings.adapter.mappings_dir)
    except MappingError as exc:
        _fail(str(exc))
    table = Table("mapping", "sample", "result", "events")
    failed = 0
    for r in reports:
        ok = r.ok
        failed += not ok
        table.add_row(str(r.file), str(r.sample.name if r.sample else "-"), "[green]ok[/green]" if ok else f"[red]{r.error}[/red]", str(r.events))
    console.print(table)
    console.print(f"{len(reports) - failed} passed, {failed} failed")
    if failed:
        raise typer.Exit(1)


# --- sending and looking up ---------------------------------------------------------------


@app.command()
def send(
    file: Path = typer.Argument(..., exists=True, readable=True, help="A message file (bare XML or a SOAP envelope)"),
    system: str = typer.Option(..., "--system", "-s", help="Local system id, e.g. ics"),
    url: Optional[str] = typer.Option(None, help="Adapter base URL (default from settings)"),
    soap: bool = typer.Option(True, help="Send as SOAP (wrapping bare XML) or as plain XML"),
) -> None:
    """Send a local system's message to the adapter and print its answer."""
    import requests
    from lxml import etree

    from .soap import CONTENT_TYPE, SOAP_NS
    from .soap import envelope as wrap

    settings = load_settings()
    base = url or f"http://{settings.adapter.host}:{settings.adapter.port}"
    data = file.read_bytes()
    if soap:
        root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
        if etree.QName(root).namespace != SOAP_NS:
            data = wrap(root)
        resp = requests.post(f"{base}/systems/{system}/soap", data=data, headers={"Content-Type": CONTENT_TYPE}, timeout=30)
    else:
        resp = requests.post(f"{base}/systems/{system}/messages", data=data, headers={"Content-Type": "application/xml"}, timeout=30)
    print(resp.text)
    if resp.status_code >= 400:
        raise typer.Exit(1)


@app.command()
def lookup(
    user: str = typer.Option(..., help="Practitioner user id the lookup is made for"),
    organisation: str = typer.Option(..., help="Practitioner's organisation"),
    reason: str = typer.Option("direct_work", help="Reason code"),
    nhs_number: Optional[str] = typer.Option(None),
    upn: Optional[str] = typer.Option(None),
    directory_id: Optional[str] = typer.Option(None),
    given_names: Optional[str] = typer.Option(None),
    family_name: Optional[str] = typer.Option(None),
    dob: Optional[str] = typer.Option(None, help="Date of birth, YYYY-MM-DD"),
    postcode: Optional[str] = typer.Option(None),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Ask the directory who is working with a child (as a practitioner, audited)."""
    from pydantic import ValidationError

    from .adapter.directory_client import DeliveryError, DirectoryClient
    from .model import Actor, LookupRequest

    settings = load_settings()
    idents = [
        {"scheme": s, "value": v}
        for s, v in (("nhs_number", nhs_number), ("upn", upn), ("directory_id", directory_id))
        if v
    ]
    criteria = None
    if family_name or given_names or dob or postcode:
        criteria = {"givenNames": given_names, "familyName": family_name, "dateOfBirth": dob, "postcode": postcode}
        criteria = {k: v for k, v in criteria.items() if v}
    try:
        request = LookupRequest(
            actor=Actor(user_id=user, organisation=organisation), reason=reason, identifiers=idents, criteria=criteria
        )
    except ValidationError as exc:
        _fail(str(exc))
    a = settings.adapter
    account = settings.directory.accounts.get(a.directory_username)
    client = DirectoryClient(a.directory_url, a.directory_username, a.directory_secret, organisation=account.organisation if account else "cpbridge")
    try:
        result = client.search(request)
    except DeliveryError as exc:
        _fail(str(exc))
    if as_json:
        console.print_json(json.dumps(result.wire()))
        return
    if not result.matches:
        console.print("No matching child.")
    for m in result.matches:
        r = m.record
        console.print(f"[bold]{r.given_names} {r.family_name}[/bold]  born {r.date_of_birth}  {r.directory_id}  score {m.score:.2f}")
        if r.shielded:
            console.print("  [yellow]Shielded record: only basic details are shown.[/yellow]")
        t = Table("service", "organisation", "practitioner", "contact", "lead", "CAF")
        for inv in r.involvements:
            p = inv.practitioner
            t.add_row(
                inv.service.value,
                inv.organisation,
                p.name if p else "",
                " ".join(x for x in (p.phone, p.email) if x) if p else "",
                "yes" if inv.lead_professional else "",
                str(inv.caf_completed_on or ""),
            )
        console.print(t)


# --- outbox -----------------------------------------------------------------------------


def _outbox():
    from .adapter.outbox import Outbox

    return Outbox(load_settings().outbox_db_url())


@outbox_app.command("list")
def outbox_list(
    status: Optional[str] = typer.Argument(None, help="pending | delivered | dead | discarded"),
    limit: int = typer.Option(50),
    system: Optional[str] = typer.Option(None),
    code: Optional[str] = typer.Option(None, help="Only rows whose last error has this fault code"),
) -> None:
    """List outbox rows (ids, codes and reasons; no personal data is shown)."""
    ob = _outbox()
    counts = ob.counts()
    console.print("  ".join(f"{k}: {v}" for k, v in counts.items()))
    table = Table("id", "tracking id", "system", "event", "status", "attempts", "created", "error")
    for r in ob.rows(status, limit=limit, system_id=system, code=code):
        table.add_row(
            str(r.id), r.tracking_id, r.system_id, r.event_type, r.status, str(r.attempts),
            f"{r.created_at:%Y-%m-%d %H:%M:%S}", f"{r.error_code or ''} {r.last_error or ''}".strip(),
        )
    console.print(table)


@outbox_app.command("dead")
def outbox_dead() -> None:
    """Dead letters grouped by system and reason, with an example id to `show`."""
    groups = _outbox().dead_letters()
    if not groups:
        console.print("No dead letters.")
        return
    table = Table("system", "code", "count", "oldest", "example id")
    for g in groups:
        table.add_row(g.system_id, g.error_code or "-", str(g.count), f"{g.oldest:%Y-%m-%d %H:%M:%S}", str(g.example_id))
    console.print(table)
    console.print("Inspect: cpbridge outbox show ID   Replay: cpbridge outbox replay ID... | --code CODE | --all")


@outbox_app.command("show")
def outbox_show(row_id: int) -> None:
    """Show one outbox row with its canonical payload (for working a dead letter)."""
    r = _outbox().row(row_id)
    if r is None:
        _fail(f"no outbox row {row_id}")
    console.print(
        {
            "id": r.id,
            "trackingId": r.tracking_id,
            "eventId": r.event_id,
            "system": r.system_id,
            "event": r.event_type,
            "operation": r.operation,
            "status": r.status,
            "attempts": r.attempts,
            "created": r.created_at.isoformat(),
            "occurred": r.occurred_at.isoformat() if r.occurred_at else None,
            "nextAttempt": r.next_attempt_at.isoformat() if r.status == "pending" else None,
            "errorCode": r.error_code,
            "reason": r.last_error,
        }
    )
    console.print_json(r.payload)


@outbox_app.command("status")
def outbox_status(tracking_id: str) -> None:
    """The outcome of a message, by the tracking id the local system was given."""
    st = _outbox().status(tracking_id)
    if st is None:
        _fail(f"no message with tracking id {tracking_id}")
    console.print_json(json.dumps(st))


@outbox_app.command("replay")
def outbox_replay(
    row_ids: Optional[list[int]] = typer.Argument(None, help="Dead-letter ids (see `outbox dead` / `outbox list dead`)"),
    code: Optional[str] = typer.Option(None, help="Every dead letter with this fault code"),
    system: Optional[str] = typer.Option(None, help="Only dead letters of this local system"),
    all_: bool = typer.Option(False, "--all", help="Every dead letter"),
) -> None:
    """Put dead letters back in the queue (after fixing their cause); they keep their order per child."""
    if not row_ids and not all_ and not code:
        _fail("name dead-letter ids, or pass --code CODE or --all")
    n = _outbox().replay(row_ids or None, code=code, system_id=system)
    console.print(f"{n} dead letter(s) put back in the queue")


@outbox_app.command("retry", hidden=True)
def outbox_retry(row_ids: Optional[list[int]] = typer.Argument(None), all_: bool = typer.Option(False, "--all")) -> None:
    """Old name of `outbox replay`."""
    outbox_replay(row_ids, None, None, all_)


@outbox_app.command("discard")
def outbox_discard(row_ids: list[int]) -> None:
    """Discard dead letters that must never be delivered (their payload is erased; the row stays as a record)."""
    n = _outbox().discard(row_ids)
    console.print(f"{n} dead letter(s) discarded")
    if n < len(row_ids):
        _fail(f"{len(row_ids) - n} id(s) are not dead letters and were left alone")


@outbox_app.command("prune")
def outbox_prune(days: Optional[int] = typer.Option(None, help="Default: adapter.retain_delivered_days")) -> None:
    """Delete delivered rows older than the retention period."""
    settings = load_settings()
    n = _outbox().prune(timedelta(days=days if days is not None else settings.adapter.retain_delivered_days))
    console.print(f"{n} row(s) pruned")


@outbox_app.command("flush")
def outbox_flush(timeout: float = typer.Option(60.0)) -> None:
    """Deliver everything due now (the server's worker normally does this)."""
    from .adapter.runtime import AdapterRuntime

    rt = AdapterRuntime(_settings())
    emptied = rt.worker.drain(timeout)
    console.print(rt.outbox.counts())
    if not emptied:
        raise typer.Exit(1)


#: Directory feature modules that add commands (each has ``register(app)``).
COMMAND_MODULES = (
    "cpbridge.directory.commands_rules",
    "cpbridge.directory.commands_audit",
    "cpbridge.directory.commands_matching",
    "cpbridge.directory.commands_web",
)


def register_commands(root: typer.Typer = app) -> typer.Typer:
    """Add every feature module's commands to ``root`` (idempotent)."""
    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(name).register(root)
    return root


def _load_plugin_commands() -> None:
    try:
        from .plugins import plugin_manager

        plugin_manager().hook.register_commands(cli=app)
    except Exception as exc:  # a broken plugin must not take the CLI down with it
        err.print(f"[yellow]warning:[/yellow] plugin commands not loaded: {exc}")


def main() -> None:
    register_commands()
    _load_plugin_commands()
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
