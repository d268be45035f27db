"""The adapter's client for the directory's SOAP contract (zeep, WS-Security UsernameToken).

The WSDL is read from the package (the adapter starts even while the directory
is down) and the endpoint address comes from settings. Every failure is a
:class:`DeliveryError` that says whether retrying can help.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import requests
import zeep
import zeep.exceptions
import zeep.helpers
from zeep.transports import Transport
from zeep.wsse.username import UsernameToken

from ..codes import ActorRole, ReasonCode
from ..contract import ACTOR_HEADER, DIRECTORY_NS, DIRECTORY_WSDL
from ..faults import Fault
from ..model import (
    Actor,
    ChildRecord,
    Identifier,
    LookupRequest,
    LookupResult,
    WriteResult,
)
from ..soap import fault_from_detail


@dataclass
class DeliveryError(Exception):
    """A call to the directory failed. ``retryable`` is False when only a human can fix it."""

    code: str
    message: str
    retryable: bool

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


#: Faults the directory gives that a later retry may get past.
RETRYABLE_FAULTS = frozenset({"Unavailable", "InternalError", "RateLimited", "NotAuthenticated", "Replay"})


def _clean(value):
    """Zeep objects to plain dicts, dropping Nones so pydantic sees absent fields."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if v is not None and v != []}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


class DirectoryClient:
    """Calls the directory as the adapter's system account, on behalf of an actor."""

    def __init__(self, url: str, username: str, secret: str, *, organisation: str, timeout: float = 10.0):
        self.url = url
        self.username = username
        self.secret = secret
        self.timeout = timeout
        self.system_actor = Actor(user_id=username, organisation=organisation, role=ActorRole.system)
        self._local = threading.local()

    def _service(self):
        svc = getattr(self._local, "service", None)
        if svc is None:
            session = requests.Session()
            transport = Transport(session=session, timeout=self.timeout, operation_timeout=self.timeout)
            client = zeep.Client(
                str(DIRECTORY_WSDL),
                transport=transport,
                wsse=UsernameToken(self.username, self.secret, use_digest=True),
            )
            binding = next(iter(client.wsdl.bindings))
            svc = client.create_service(binding, self.url)
            self._local.client = client
            self._local.service = svc
        return self._local.client, svc

    def _header(self, client, actor: Actor, reason: ReasonCode):
        element = client.get_element(f"{{{DIRECTORY_NS}}}{ACTOR_HEADER}")
        data = actor.wire()
        data["reason"] = reason.value
        return element(**data)

    def call(self, operation: str, body: dict, *, actor: Actor | None = None, reason: ReasonCode = ReasonCode.record_update):
        """Invoke ``operation`` with ``body`` (contract dict); return the response as a plain dict."""
        client, svc = self._service()
        header = self._header(client, actor or self.system_actor, reason)
        try:
            result = getattr(svc, operation)(**body, _soapheaders=[header])
        except zeep.exceptions.Fault as exc:
            fault = fault_from_detail(exc.detail, exc.message or "")
            raise DeliveryError(fault.code, fault.message, fault.code in RETRYABLE_FAULTS) from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise DeliveryError("Unavailable", f"directory unreachable: {type(exc).__name__}", True) from None
        except zeep.exceptions.TransportError as exc:
            raise DeliveryError("Unavailable", f"directory answered HTTP {exc.status_code}", True) from None
        except (zeep.exceptions.ValidationError, TypeError) as exc:
            raise DeliveryError("InvalidRequest", f"request does not fit the contract: {exc}", False) from None
        except zeep.exceptions.Error as exc:
            raise DeliveryError("Unavailable", f"unusable answer from the directory: {exc}", True) from None
        return _clean(zeep.helpers.serialize_object(result, target_cls=dict))

    def ping(self, timeout: float = 2.0) -> bool:
        """True if the directory's endpoint answers HTTP at all (any status below 500)."""
        try:
            resp = requests.get(self.url, params={"wsdl": ""}, timeout=timeout)
        except requests.RequestException:
            return False
        return resp.status_code < 500

    # --- typed calls ----------------------------------------------------------------

    def apply(self, operation: str, payload: dict) -> WriteResult:
        """Apply one outbox event (its wire payload) with the given operation."""
        body = {k: v for k, v in payload.items() if k != "type"}
        return WriteResult.model_validate(self.call(operation, body))

    def search(self, request: LookupRequest) -> LookupResult:
        body: dict = {}
        if request.identifiers:
            body["identifier"] = [i.wire() for i in request.identifiers]
        if request.criteria is not None:
            body["criteria"] = request.criteria.wire()
        data = self.call("SearchChildren", body, actor=request.actor, reason=request.reason)
        # zeep unwraps a response whose only child is the repeated <match> into a bare list
        if isinstance(data, list) or data is None:
            data = {"match": data or []}
        return LookupResult.model_validate(data)

    def read(self, actor: Actor, reason: ReasonCode, *, directory_id: str | None = None, identifier: Identifier | None = None) -> ChildRecord:
        body = {"directoryId": directory_id} if directory_id else {"identifier": identifier.wire() if identifier else None}
        data = self.call("ReadChild", body, actor=actor, reason=reason)
        return ChildRecord.model_validate(data)


def as_fault(err: DeliveryError) -> Fault:
    """A directory failure as the fault the local system receives."""
    try:
        return Fault(err.code, err.message)
    except ValueError:
        return Fault("Unavailable", err.message)
