"""A fake directory for the delivery benchmark and the fault tests (localhost only).

:class:`FakeDirectory` answers the directory's write operations the way the
reference directory does where delivery is concerned — idempotent on
``eventId``, ``stale`` for an event older than the newest applied to the same
involvement, ``NoSuchInvolvement`` for a close or lead change before the open —
and records what it saw:

* ``received[event_id]``: how many times the adapter sent the event (at least once);
* ``applied[event_id]``: the outcome it was given the first time (exactly once);
* ``order[child]``: the occurredAt of each event first received, in arrival order;
* ``overlaps``: children that had calls for two different events in flight at
  the same moment (a call the adapter has already given up on — an injected
  delay of ``client_timeout`` or more — is left out: the adapter sends the
  child's next event only after a retry was answered, so such a call can only
  ever be answered ``duplicate``);
* ``involvements[(source, ref)]``: open/closed, the worker, how often applied.

Faults are injected with :meth:`FakeDirectory.inject`: a SOAP Fault with any
code, an HTTP 503, a slow answer, an answer lost after the change was applied,
or a garbage answer. Searches are answered with no match. :class:`CountingMiddleware` wraps the real directory's app
to count what the adapter sent it.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from lxml import etree
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from cpbridge.contract import DIRECTORY_NS
from cpbridge.faults import Fault
from cpbridge.soap import CONTENT_TYPE, SOAP_NS, envelope, fault_envelope

SOAP_PATH = "/directory/soap"
D = f"{{{DIRECTORY_NS}}}"


@dataclass
class Call:
    """What one request carried (the parts a fault rule may match on)."""

    operation: str
    event_id: str
    source: str
    child: str
    reference: str | None
    occurred_at: datetime
    attempt: int


@dataclass
class Rule:
    """Inject ``action`` into calls ``match`` accepts, ``times`` times (None: always)."""

    match: Callable[[Call], bool]
    action: str  # fault | http503 | slow | lost_answer | garbage
    code: str = "InternalError"
    delay: float = 0.0
    times: int | None = 1
    hits: int = 0
    message: str | None = None


@dataclass
class Involvement:
    child: str
    open: bool = True
    worker: str | None = None
    last: datetime | None = None
    applied: int = 0


def parse_call(body: etree._Element, received: Counter) -> Call:
    op = etree.QName(body).localname
    event_id = body.findtext(f"{D}eventId") or ""
    source = body.findtext(f"{D}sourceSystem") or ""
    local = None
    for ident in body.iterfind(f"{D}child/{D}identifier"):
        if ident.findtext(f"{D}scheme") == "local":
            local = ident.findtext(f"{D}value")
    ref = body.findtext(f"{D}involvement/{D}localReference") or body.findtext(f"{D}localReference")
    occurred = datetime.fromisoformat((body.findtext(f"{D}occurredAt") or "").replace("Z", "+00:00"))
    return Call(op, event_id, source, f"{source}:{local}", ref, occurred, received[event_id] + 1)


class FakeDirectory:
    def __init__(self, *, delay: tuple[float, float] = (0.0, 0.0), seed: int = 7, client_timeout: float = 10.0):
        self.delay = delay
        self.client_timeout = client_timeout
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.received: Counter[str] = Counter()
        self.applied: dict[str, str] = {}
        self.order: dict[str, list[datetime]] = defaultdict(list)
        self.involvements: dict[tuple[str, str], Involvement] = {}
        self.inflight: dict[str, Counter[str]] = defaultdict(Counter)
        self.overlaps: list[str] = []
        self.rules: list[Rule] = []
        self.injected: Counter[str] = Counter()
        self.lookups = 0
        self.app = Starlette(
            routes=[Route(SOAP_PATH, self._post, methods=["POST"]), Route(SOAP_PATH, self._get, methods=["GET"])]
        )

    # --- control ----------------------------------------------------------------------

    def inject(
        self,
        match: Callable[[Call], bool],
        action: str,
        *,
        code: str = "InternalError",
        delay: float = 0.0,
        times: int | None = 1,
        message: str | None = None,
    ) -> Rule:
        rule = Rule(match, action, code, delay, times, message=message)
        with self.lock:
            self.rules.append(rule)
        return rule

    def clear_faults(self) -> None:
        with self.lock:
            self.rules.clear()

    def applied_count(self) -> int:
        with self.lock:
            return len(self.applied)

    def resent(self) -> int:
        """Events the adapter sent more than once (each repeat answered ``duplicate``)."""
        with self.lock:
            return sum(1 for n in self.received.values() if n > 1)

    def out_of_order(self) -> list[str]:
        """Children whose events first arrived out of the order they occurred in."""
        with self.lock:
            return [c for c, times in self.order.items() if times != sorted(times)]

    # --- HTTP -------------------------------------------------------------------------

    async def _get(self, request: Request) -> Response:
        return PlainTextResponse("fake directory: POST SOAP 1.1 here")

    async def _post(self, request: Request) -> Response:
        data = await request.body()
        return await run_in_threadpool(self._handle, data)

    def _handle(self, data: bytes) -> Response:
        try:
            body = etree.fromstring(data).find(f"{{{SOAP_NS}}}Body")[0]
        except Exception:
            return Response(fault_envelope(Fault("MalformedXml", "unreadable request")), 500, media_type=CONTENT_TYPE)
        if etree.QName(body).localname in ("SearchChildren", "ReadChild"):
            with self.lock:
                self.lookups += 1
            if etree.QName(body).localname == "ReadChild":
                return Response(fault_envelope(Fault("NoSuchChild", "no record")), 500, media_type=CONTENT_TYPE)
            return Response(envelope(etree.Element(f"{D}SearchChildrenResponse")), media_type=CONTENT_TYPE)
        with self.lock:
            call = parse_call(body, self.received)
            rule = next((r for r in self.rules if (r.times is None or r.hits < r.times) and r.match(call)), None)
            if rule:
                rule.hits += 1
                self.injected[f"{rule.action}:{rule.code}" if rule.action == "fault" else rule.action] += 1
            self.received[call.event_id] += 1
            tracked = not (rule and rule.action in ("slow", "lost_answer") and rule.delay >= self.client_timeout)
            if tracked:
                flying = self.inflight[call.child]
                if any(n and e != call.event_id for e, n in flying.items()):
                    self.overlaps.append(call.child)
                flying[call.event_id] += 1
            pause = self.rng.uniform(*self.delay) if self.delay[1] else 0.0
        try:
            if pause:
                time.sleep(pause)
            if rule and rule.action == "fault":
                text = rule.message or f"injected {rule.code}"
                return Response(fault_envelope(Fault(rule.code, text)), 500, media_type=CONTENT_TYPE)
            if rule and rule.action == "http503":
                return PlainTextResponse("service unavailable", 503)
            if rule and rule.action == "garbage":
                return PlainTextResponse("<html>proxy error", 200)
            if rule and rule.action == "slow":
                time.sleep(rule.delay)
            try:
                with self.lock:
                    outcome = self._apply(call, body)
            except Fault as fault:
                return Response(fault_envelope(fault), 500, media_type=CONTENT_TYPE)
            if rule and rule.action == "lost_answer":
                time.sleep(rule.delay)  # applied, but the caller times out before the answer
            return Response(envelope(self._result(call, outcome)), media_type=CONTENT_TYPE)
        finally:
            if tracked:
                with self.lock:
                    self.inflight[call.child][call.event_id] -= 1

    # --- the directory's rules, as far as delivery sees them ---------------------------------

    def _apply(self, call: Call, body: etree._Element) -> str:
        if call.event_id in self.applied:
            return "duplicate"
        key = (call.source, call.reference or "")
        inv = self.involvements.get(key)
        if call.operation == "RegisterInvolvement":
            if inv is not None and inv.last and call.occurred_at < inv.last:
                return self._remember(call, "stale")
            if inv is None:
                inv = self.involvements[key] = Involvement(call.child)
            inv.open = body.find(f"{D}involvement/{D}endDate") is None
            inv.worker = body.findtext(f"{D}involvement/{D}practitioner/{D}name")
        elif call.operation in ("EndInvolvement", "SetLeadProfessional", "RemoveLeadProfessional"):
            if inv is None:
                raise Fault("NoSuchInvolvement", "no involvement with that source system and local reference")
            if inv.last and call.occurred_at < inv.last:
                return self._remember(call, "stale")
            if call.operation == "EndInvolvement":
                inv.open = False
        if inv is not None:
            inv.last = call.occurred_at
            inv.applied += 1
        return self._remember(call, "applied")

    def _remember(self, call: Call, outcome: str) -> str:
        self.applied[call.event_id] = outcome
        self.order[call.child].append(call.occurred_at)
        return outcome

    def _result(self, call: Call, outcome: str) -> etree._Element:
        el = etree.Element(f"{D}{call.operation}Response", nsmap={"d": DIRECTORY_NS})
        etree.SubElement(el, f"{D}eventId").text = call.event_id
        etree.SubElement(el, f"{D}outcome").text = outcome
        etree.SubElement(el, f"{D}matchOutcome").text = "matched"
        return el


class CountingMiddleware:
    """ASGI middleware in front of the real directory: counts each eventId the adapter sends."""

    def __init__(self, app):
        self.app = app
        self.received: Counter[str] = Counter()
        self.lock = threading.Lock()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        chunks = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        data = b"".join(chunks)
        try:
            event_id = etree.fromstring(data).findtext(f".//{D}eventId")
        except etree.XMLSyntaxError:
            event_id = None
        if event_id:
            with self.lock:
                self.received[event_id] += 1
        sent = False

        async def replay():
            nonlocal sent
            if sent:
                return await receive()  # waits for the client to go, as the server's own would
            sent = True
            return {"type": "http.request", "body": data, "more_body": False}

        await self.app(scope, replay, send)
