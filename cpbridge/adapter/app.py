"""The adapter's HTTP endpoints (FastAPI).

* ``POST /systems/<id>/soap``        SOAP 1.1: a message or a lookup in, an acknowledgement or the rendered lookup out
* ``GET  /systems/<id>/soap?wsdl``   that system's WSDL (``?xsd=NAME`` for its schemas)
* ``POST /systems/<id>/messages``    the same as plain XML
* ``GET  /systems/<id>/messages/<tracking id>``  the outcome of an accepted message
* ``GET  /healthz``   liveness: the process answers and its delivery worker is running
* ``GET  /readyz``    readiness: the outbox database answers (the directory's reachability and
  the queue are reported, but a directory outage does not make the adapter unready: accepting
  messages into the outbox while the directory is down is exactly its job)
* ``GET  /metrics``   Prometheus

Every refusal is a SOAP Fault (or, for plain XML, an ``<error>`` document) with a
catalogued code; an unexpected error is answered as ``InternalError`` and logged
by exception type only.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from datetime import UTC, datetime

import structlog
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from lxml import etree
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..bodies import read_limited
from ..contract import ADAPTER_XSD
from ..faults import FAULT_NS, Fault
from ..soap import CONTENT_TYPE, envelope, fault_envelope, parse_request
from ..wsdlserve import find_schema, render_schema, render_wsdl
from ..xmlsafe import parse_xml
from .intake import status_element
from .runtime import AdapterRuntime

XML = "application/xml"
log = structlog.get_logger("cpbridge.adapter")


def unexpected(exc: Exception, system_id: str) -> Fault:
    """An error no code path expected, as the fault the caller gets (logged without its message)."""
    log.error("unhandled_error", system=system_id, error=type(exc).__name__)
    return Fault("InternalError", "unexpected error in the adapter; it has been logged")


def error_document(fault: Fault) -> bytes:
    """The plain-XML counterpart of a SOAP Fault."""
    el = etree.Element(f"{{{FAULT_NS}}}error", nsmap={None: FAULT_NS})
    etree.SubElement(el, f"{{{FAULT_NS}}}code").text = fault.code
    etree.SubElement(el, f"{{{FAULT_NS}}}message").text = fault.message
    if fault.field:
        etree.SubElement(el, f"{{{FAULT_NS}}}field").text = fault.field
    return etree.tostring(el, xml_declaration=True, encoding="utf-8")


def create_app(runtime: AdapterRuntime, *, start_worker: bool = True) -> FastAPI:
    limit = runtime.settings.adapter.max_message_bytes

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if start_worker:
            runtime.start()
        try:
            yield
        finally:
            runtime.stop()

    app = FastAPI(title="cpbridge adapter", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.runtime = runtime

    def refused(system_id: str, fault: Fault) -> Fault:
        """Count a refusal made before the intake saw the message (the intake counts its own)."""
        label = system_id if system_id in runtime.host.systems else "unknown"  # URLs must not mint labels
        runtime.metrics.rejected.labels(system=label, code=fault.code).inc()
        log.info("rejected", system=label, code=fault.code)
        return fault

    @app.post("/systems/{system_id}/soap")
    async def soap_endpoint(system_id: str, request: Request):
        try:
            try:
                system = runtime.host.system(system_id)
                data = await read_limited(request, limit)
                parsed = parse_request(data, max_bytes=limit)
                runtime.authenticate(system, parsed)
            except Fault as fault:
                raise refused(system_id, fault) from None
            answer = await run_in_threadpool(runtime.intake.handle, system, parsed.body)
        except Fault as fault:
            return Response(fault_envelope(fault), status_code=500, media_type=CONTENT_TYPE)
        except Exception as exc:
            return Response(fault_envelope(unexpected(exc, system_id)), status_code=500, media_type=CONTENT_TYPE)
        return Response(envelope(answer), media_type=CONTENT_TYPE)

    @app.get("/systems/{system_id}/soap")
    async def soap_contract(system_id: str, request: Request):
        try:
            system = runtime.host.system(system_id)
        except Fault as fault:
            return Response(error_document(fault), status_code=fault.http_status, media_type=XML)
        endpoint = str(request.url.replace(query=None))
        if system.wsdl_path is None:
            return Response(error_document(Fault("UnknownOperation", f"{system_id} has no SOAP contract")), 404, media_type=XML)
        xsd = request.query_params.get("xsd")
        if xsd:
            path = find_schema(xsd, [system.wsdl_path.parent, ADAPTER_XSD.parent])
            if path is None:
                return Response(error_document(Fault("InvalidRequest", f"no schema called {xsd!r}")), 404, media_type=XML)
            return Response(render_schema(path, endpoint), media_type=XML)
        return Response(render_wsdl(system.wsdl_path, endpoint), media_type=XML)

    @app.post("/systems/{system_id}/messages")
    async def xml_endpoint(system_id: str, request: Request):
        try:
            try:
                system = runtime.host.system(system_id)
                data = await read_limited(request, limit)
                root = parse_xml(data, max_bytes=limit)
                runtime.authenticate_basic(system, request.headers.get("authorization"))
            except Fault as fault:
                raise refused(system_id, fault) from None
            answer = await run_in_threadpool(runtime.intake.handle, system, root)
        except Fault as fault:
            return Response(error_document(fault), status_code=fault.http_status, media_type=XML)
        except Exception as exc:
            fault = unexpected(exc, system_id)
            return Response(error_document(fault), status_code=fault.http_status, media_type=XML)
        return Response(etree.tostring(answer, xml_declaration=True, encoding="utf-8"), media_type=XML)

    @app.get("/systems/{system_id}/messages/{tracking_id}")
    async def message_status(system_id: str, tracking_id: str, request: Request):
        try:
            system = runtime.host.system(system_id)
            runtime.authenticate_basic(system, request.headers.get("authorization"))
            status = await run_in_threadpool(lambda: runtime.outbox.status(tracking_id, system_id=system.id))
        except Fault as fault:
            return Response(error_document(fault), status_code=fault.http_status, media_type=XML)
        except Exception as exc:
            fault = unexpected(exc, system_id)
            return Response(error_document(fault), status_code=fault.http_status, media_type=XML)
        if status is None:  # unknown, malformed, or another system's: the same answer
            fault = Fault("InvalidRequest", f"no message has tracking id {tracking_id!r}", field="trackingId")
            return Response(error_document(fault), status_code=404, media_type=XML)
        return Response(etree.tostring(status_element(status), xml_declaration=True, encoding="utf-8"), media_type=XML)

    @app.get("/healthz")
    async def healthz():
        if not all(w.alive for w in runtime.workers):
            return Response('{"status":"delivery worker stopped"}', status_code=503, media_type="application/json")
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz():
        def check() -> dict:
            counts = runtime.outbox.counts()
            oldest = runtime.outbox.oldest_pending()
            age = (datetime.now(UTC) - oldest).total_seconds() if oldest else 0.0
            return {
                "outbox": {"pending": counts["pending"], "dead": counts["dead"], "oldestPendingSeconds": round(age, 1)},
                "directory": {"reachable": runtime.probe.reachable()},
            }

        try:
            report = await run_in_threadpool(check)
        except Exception as exc:
            log.error("outbox_unavailable", error=type(exc).__name__)
            return Response('{"status":"outbox unavailable"}', status_code=503, media_type="application/json")
        return {"status": "ready", "systems": sorted(runtime.host.systems), **report}

    @app.get("/metrics")
    async def metrics():
        await run_in_threadpool(runtime.metrics.refresh)
        return Response(generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
