"""The adapter's HTTP endpoints (FastAPI).

* ``POST /systems/<id>/soap``        SOAP 1.1: a message or a lookup in, an acknowledgement or the rendered lookup out
* ``GET  /systems/<id>/soap?wsdl``   that system's WSDL (``?xsd=NAME`` for its schemas)
* ``POST /systems/<id>/messages``    the same as plain XML
* ``GET  /systems/<id>/messages/<tracking id>``  the outcome of an accepted message
* ``GET  /healthz`` ``/readyz`` ``/metrics``
"""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from lxml import etree
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from ..contract import ADAPTER_XSD
from ..faults import FAULT_NS, Fault
from ..soap import CONTENT_TYPE, envelope, fault_envelope, parse_request
from ..wsdlserve import find_schema, render_schema, render_wsdl
from ..xmlsafe import parse_xml
from .runtime import AdapterRuntime
from .intake import status_element

XML = "application/xml"


def error_document(fault: Fault) -> bytes:
    """The plain-XML counterpart of a SOAP Fault."""
    el = etree.Element(f"{{{FAULT_NS}}}error", nsmap={None: FAULT_NS})
    etree.SubElement(el, f"{{{FAULT_NS}}}code").text = fault.code
    etree.SubElement(el, f"{{{FAULT_NS}}}message").text = fault.message
    if fault.field:
        etree.SubElement(el, f"{{{FAULT_NS}}}field").text = fault.field
    return etree.tostring(el, xml_declaration=True, encoding="utf-8")


async def read_limited(request: Request, limit: int) -> bytes:
    """The request body, refusing (before reading it all) anything over ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise Fault("MessageTooLarge", f"message is {declared} bytes; the limit is {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Fault("MessageTooLarge", f"message is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


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

    @app.post("/systems/{system_id}/soap")
    async def soap_endpoint(system_id: str, request: Request):
        try:
            system = runtime.host.system(system_id)
            data = await read_limited(request, limit)
            parsed = parse_request(data, max_bytes=limit)
            runtime.authenticate(system, parsed)
            answer = await run_in_threadpool(runtime.intake.handle, system, parsed.body)
        except Fault as fault:
            return Response(fault_envelope(fault), status_code=500, media_type=CONTENT_TYPE)
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
            system = runtime.host.system(system_id)
            data = await read_limited(request, limit)
            root = parse_xml(data, max_bytes=limit)
            runtime.authenticate_basic(system, request.headers.get("authorization"))
            answer = await run_in_threadpool(runtime.intake.handle, system, root)
        except Fault as fault:
            return Response(error_document(fault), status_code=fault.http_status, media_type=XML)
        return Response(etree.tostring(answer, xml_declaration=True, encoding="utf-8"), media_type=XML)

    @app.get("/systems/{system_id}/messages/{tracking_id}")
    async def message_status(system_id: str, tracking_id: str):
        status = await run_in_threadpool(runtime.outbox.status, tracking_id)
        if status is None:
            fault = Fault("InvalidRequest", f"no message has tracking id {tracking_id!r}", field="trackingId")
            return Response(error_document(fault), status_code=404, media_type=XML)
        return Response(etree.tostring(status_element(status), xml_declaration=True, encoding="utf-8"), media_type=XML)

    @app.get("/healthz")
    async def healthz():
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz():
        def check():
            with runtime.outbox.engine.connect() as conn:
                conn.execute(text("SELECT 1"))

        try:
            await run_in_threadpool(check)
        except Exception:
            return Response('{"status":"outbox unavailable"}', status_code=503, media_type="application/json")
        return {"status": "ready", "systems": sorted(runtime.host.systems)}

    @app.get("/metrics")
    async def metrics():
        await run_in_threadpool(runtime.metrics.refresh)
        return Response(generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
