"""The directory's HTTP face: the SOAP 1.1 endpoint, its WSDL, and health checks.

* ``POST /directory/soap`` — one operation per request (document/literal);
* ``GET /directory/soap?wsdl`` — the WSDL, its soap:address set to the URL it was
  fetched from; ``GET /directory/soap?xsd=directory.xsd`` — the schema it includes;
* ``GET /directory/healthz`` (the process is up) and ``/directory/readyz`` (the DB answers).

A request is handled in this order: size limit and hardened parse, WS-Security
authentication, the operation, the ``onBehalfOf`` header, XSD validation of header
and body, the canonical model, then the service inside one transaction. Every
rejection is a SOAP Fault (HTTP 500, as SOAP 1.1 requires) carrying a code from
:mod:`cpbridge.faults`; an unexpected error is logged without its message (which
may hold personal data) and answered as InternalError.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from lxml import etree
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from cpbridge import soap
from cpbridge.contract import ACTOR_HEADER, DIRECTORY_NS, DIRECTORY_WSDL, DIRECTORY_XSD
from cpbridge.bodies import read_limited
from cpbridge.faults import Fault
from cpbridge.model import (
    AssessmentCompleted,
    DemographicsChanged,
    InvolvementClosed,
    InvolvementOpened,
    LeadProfessionalRemoved,
    LeadProfessionalSet,
    LookupRequest,
    SettingChanged,
)
from cpbridge.settings import DirectorySettings, Settings
from cpbridge.wsdlserve import render_schema, render_wsdl
from cpbridge.xmlmodel import from_xml, to_xml

from . import access, audit, search, service
from .auth import Authenticator, Caller, caller_for, read_on_behalf_of
from .db import make_engine, migrate, session_factory

log = logging.getLogger("cpbridge.directory")

SOAP_PATH = "/directory/soap"


@dataclass(frozen=True)
class Operation:
    """How one SOAP operation's body is read and which service function answers it."""

    model: type[BaseModel]
    handler: Callable[[Session, Caller, BaseModel], BaseModel]
    #: extra fields the body model takes from the caller (SearchChildren's actor and reason)
    from_caller: bool = False


OPERATIONS: dict[str, Operation] = {
    "RegisterInvolvement": Operation(InvolvementOpened, service.register_involvement),
    "EndInvolvement": Operation(InvolvementClosed, service.end_involvement),
    "SetLeadProfessional": Operation(LeadProfessionalSet, service.set_lead_professional),
    "RemoveLeadProfessional": Operation(LeadProfessionalRemoved, service.remove_lead_professional),
    "RecordAssessment": Operation(AssessmentCompleted, service.record_assessment),
    "UpdateDemographics": Operation(DemographicsChanged, service.update_demographics),
    "UpdateSetting": Operation(SettingChanged, service.update_setting),
    "SearchChildren": Operation(LookupRequest, service.search_children, from_caller=True),
    "ReadChild": Operation(service.ReadChildRequest, service.read_child),
}


@lru_cache(maxsize=1)
def contract_schema() -> etree.XMLSchema:
    """The directory's XSD, compiled once."""
    return etree.XMLSchema(etree.parse(str(DIRECTORY_XSD)))


#: where libxml2 quotes the offending value: "'v' is not a valid value ...", "The value 'v' is not ..."
_LEADING_VALUE = re.compile(r"^'.*' (is not a valid value)")
_QUOTED_VALUE = re.compile(r"The value '.*' (is not)")
_ELEMENT_PREFIX = re.compile(r"^Element '[^']*'(?: \[[^\]]*\])?: ")


def validate(el: etree._Element, what: str, *, keep_root: bool = False) -> None:
    """Validate ``el`` against the XSD; Fault InvalidRequest naming the field and line.

    Values are left out of the message: it is logged by callers, and may hold personal data.
    """
    schema = contract_schema()
    if schema.validate(el):
        return
    err = schema.error_log[0]
    field = _field_path(err.path, what, keep_root)
    reason = _ELEMENT_PREFIX.sub("", err.message.strip())
    reason = _QUOTED_VALUE.sub(r"The value \1", _LEADING_VALUE.sub(r"the value \1", reason))
    reason = reason.replace(f"{{{DIRECTORY_NS}}}", "")
    raise Fault("InvalidRequest", f"{field} (line {err.line}): {reason}", field=field)


def _field_path(xpath: str | None, what: str, keep_root: bool) -> str:
    """``/d:RegisterInvolvement/d:child/d:identifier[2]/d:value`` -> ``child.identifier[2].value``
    (the root step is kept for header blocks: ``onBehalfOf.reason``)."""
    if not xpath:
        return what
    steps = [s.split(":", 1)[-1] for s in xpath.strip("/").split("/")]
    return ".".join(steps if keep_root else steps[1:]) or what


class SoapEndpoint:
    """Handles one POSTed SOAP request from bytes to (HTTP status, response bytes)."""

    def __init__(self, settings: DirectorySettings, sessions: sessionmaker[Session]):
        self.settings = settings
        self.sessions = sessions
        self.auth = Authenticator(settings)

    def handle(self, data: bytes, client_subject: str | None = None, source_address: str | None = None) -> tuple[int, bytes]:
        """``client_subject``: the client certificate subject a TLS-terminating proxy passed
        (``directory.client_cert_header``), checked by :func:`access.admit`."""
        operation = "unknown"
        caller, model = None, None  # audited when a refusal comes after authentication
        try:
            request = soap.parse_request(data, max_bytes=self.settings.max_message_bytes)
            username, account = self.auth.authenticate(request)
            operation = self._operation_name(request)
            op = OPERATIONS[operation]
            header = read_on_behalf_of(request)
            validate(header, ACTOR_HEADER, keep_root=True)
            caller = dataclasses.replace(caller_for(username, account, header), source_address=source_address)
            access.admit(username, account, caller, self.settings, client_subject=client_subject)
            validate(request.body, operation)
            extra = {"actor": caller.actor, "reason": caller.reason} if op.from_caller else {}
            model = from_xml(request.body, op.model, **extra)
            result = self._run(op, caller, model)
            body = to_xml(result, f"{operation}Response", DIRECTORY_NS, nsmap={"d": DIRECTORY_NS})
            return 200, soap.envelope(body)
        except Fault as fault:
            log.info("directory %s refused: %s (field %s)", operation, fault.code, fault.field)
            if caller is not None:
                audit.record_refusal(self.sessions, caller, operation, fault, model)
            return 500, soap.fault_envelope(fault)
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            # The exception's message may quote personal data (SQL parameters, values): log
            # only its type and where it happened.
            frames = "".join(traceback.format_tb(exc.__traceback__))
            log.error("directory %s failed with %s at\n%s", operation, type(exc).__name__, frames)
            return 500, soap.fault_envelope(Fault("InternalError", "an unexpected error; it has been logged"))

    @staticmethod
    def _operation_name(request: soap.Request) -> str:
        qn = etree.QName(request.body)
        if qn.namespace != DIRECTORY_NS or qn.localname not in OPERATIONS:
            raise Fault("UnknownOperation", f"{qn.localname} in {qn.namespace!r} is not an operation of the directory")
        return qn.localname

    def _run(self, op: Operation, caller: Caller, model: BaseModel) -> BaseModel:
        """Run the handler in one transaction; a lost race on a unique key is retried once."""
        for attempt in (1, 2):
            try:
                with self.sessions.begin() as session:
                    return op.handler(session, caller, model)
            except IntegrityError:
                if attempt == 2:
                    raise
            except OperationalError:
                raise Fault("Unavailable", "the directory's database is not answering; retry later") from None
        raise AssertionError("unreachable")  # pragma: no cover


def create_app(settings: Settings) -> FastAPI:
    """The directory application; migrates its database first."""
    engine = make_engine(settings.directory_db_url())
    migrate(engine)
    endpoint = SoapEndpoint(settings.directory, session_factory(engine))
    search.configure(settings.directory.search_rate_per_minute, settings.directory.search_rate_per_account_per_minute)
    cert_header = settings.directory.client_cert_header
    app = FastAPI(title="cpbridge reference directory", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.engine = engine
    app.state.endpoint = endpoint
    _mount_web(app, settings, endpoint.sessions)

    @app.post(SOAP_PATH)
    async def soap_post(request: Request) -> Response:
        try:
            data = await read_limited(request, settings.directory.max_message_bytes)
        except Fault as fault:
            return Response(soap.fault_envelope(fault), status_code=500, media_type=soap.CONTENT_TYPE)
        subject = request.headers.get(cert_header) if cert_header else None
        client = request.client.host if request.client else None
        status, body = await run_in_threadpool(endpoint.handle, data, subject, client)
        return Response(body, status_code=status, media_type=soap.CONTENT_TYPE)

    @app.get(SOAP_PATH)
    def soap_get(request: Request) -> Response:
        address = str(request.url.replace(query=None, fragment=None))
        params = request.query_params
        if "wsdl" in params or "WSDL" in params:
            return Response(render_wsdl(DIRECTORY_WSDL, address), media_type=soap.CONTENT_TYPE)
        if params.get("xsd") == DIRECTORY_XSD.name:
            return Response(render_schema(DIRECTORY_XSD, address), media_type=soap.CONTENT_TYPE)
        return PlainTextResponse(f"POST SOAP 1.1 requests here; GET {address}?wsdl for the WSDL.", status_code=400)

    @app.get("/directory/healthz")
    def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @app.get("/directory/readyz")
    def readyz() -> JSONResponse:
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - any failure means not ready
            log.warning("directory database not ready: %s", type(exc).__name__)
            return JSONResponse({"status": "unavailable", "database": "down"}, status_code=503)
        return JSONResponse({"status": "ok", "database": "up"})

    return app


def _mount_web(app: FastAPI, settings: Settings, sessions: sessionmaker[Session]) -> None:
    """The secure web link at /web and the embeddable panel at /embed (cpbridge.web)."""
    from cpbridge.web import create_embed_app, create_web_app

    app.mount("/web", create_web_app(settings, sessions))
    app.mount("/embed", create_embed_app(settings, sessions))
