"""The nightly return: a Keystone YJ batch file, streamed one record at a time.

A ``NightlyReturn`` holds the same elements Keystone sends over SOAP
(``OrderStarted``, ``InterventionStarted``, ``CaseManagerChanged``,
``OrderEnded``), one per record, so the mapping reads a record exactly as it
reads a SOAP message::

    <ks:NightlyReturn batchId="KYJ-BRD-NR-20240605" created="..." recordCount="3">
      <ks:OrderStarted><ks:Header><ks:MessageId>KYJ-BRD-0000731</ks:MessageId>...
      ...
    </ks:NightlyReturn>

Files of tens of thousands of records are read with
:func:`cpbridge.xmlsafe.iterparse_safe`: each record is copied out, handed on,
and cleared from the parse tree before the next is read, so memory stays that of
one record. A record's message id is ``<batchId>:<record's MessageId>`` (or its
position when it has none), so a file read again after a crash, or dropped
twice, is recognised record by record and nothing is stored twice.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterator
from pathlib import Path

from lxml import etree

from cpbridge import Fault
from cpbridge.xmlsafe import DEFAULT_MAX_DEPTH, XMLRejected, check_depth, iterparse_safe

NS = "urn:keystone:yj:exchange:4"
BATCH_TAG = f"{{{NS}}}NightlyReturn"
_MESSAGE_ID = f"{{{NS}}}Header/{{{NS}}}MessageId"
#: the outbox keeps message ids of up to 80 characters
MAX_MESSAGE_ID = 80


def record_message_id(batch_id: str, record_id: str) -> str:
    """``<batchId>:<recordId>``, or a digest of the two when that is too long to store."""
    message_id = f"{batch_id}:{record_id}"
    if len(message_id) <= MAX_MESSAGE_ID:
        return message_id
    return "nr:" + hashlib.sha256(message_id.encode()).hexdigest()[:40]


def _refuse_doctype(path: Path) -> None:
    with path.open("rb") as fh:
        head = fh.read(4096).lstrip(b"\xef\xbb\xbf").lower()
    if b"<!doctype" in head or b"<!entity" in head:
        raise XMLRejected("DtdForbidden", f"{path.name}: DOCTYPE and entity declarations are not accepted")


def _batch_header(path: Path, root: etree._Element) -> tuple[str, int]:
    if root.tag != BATCH_TAG:
        raise Fault(
            "UnknownMessageType",
            f"{path.name}: expected a Keystone NightlyReturn ({{{NS}}}NightlyReturn), found <{root.tag}>",
        )
    batch_id = (root.get("batchId") or "").strip()
    if not batch_id:
        raise Fault("InvalidRequest", f"{path.name}: NightlyReturn has no batchId", field="batchId")
    count = (root.get("recordCount") or "").strip()
    if not count.isdigit():
        raise Fault("InvalidRequest", f"{path.name}: NightlyReturn recordCount {count!r} is not a number", field="recordCount")
    return batch_id, int(count)


def split_nightly_return(path: Path, digest: str) -> Iterator[tuple[str, etree._Element]]:
    """Yield ``(message_id, record element)`` for every record of a nightly return.

    The splitter of the YOT watched folder (``cpbridge.sources.Splitter``). Raises
    :class:`cpbridge.Fault` when the file is not a nightly return, is refused by the
    hardened parser's rules, or holds fewer or more records than its ``recordCount``
    says (a truncated copy): the folder source then moves it to ``rejected/``.
    Records already handed on stay accepted; dropping the corrected file again
    skips them by their message ids.
    """
    _refuse_doctype(path)
    batch_id, expected = "", 0
    depth = 0
    seen = 0
    with path.open("rb") as fh:
        for event, el in iterparse_safe(fh, events=("start", "end")):
            if event == "start":
                depth += 1
                if depth == 1:
                    batch_id, expected = _batch_header(path, el)
                elif depth > DEFAULT_MAX_DEPTH:
                    raise XMLRejected("TooDeep", f"{path.name}: XML is nested more than {DEFAULT_MAX_DEPTH} elements deep")
                continue
            depth -= 1
            if depth != 1:  # only the end of a record (a child of the root) is a message
                continue
            seen += 1
            record = copy.deepcopy(el)  # detached: the intake may keep it while we read on
            el.clear()
            parent = el.getparent()
            while el.getprevious() is not None:
                del parent[0]
            check_depth(record, DEFAULT_MAX_DEPTH - 1)
            record_id = (record.findtext(_MESSAGE_ID) or "").strip() or f"#{seen}"
            yield record_message_id(batch_id, record_id), record
    if seen != expected:
        raise Fault(
            "InvalidRequest",
            f"{path.name}: batch {batch_id} declares {expected} record(s) but holds {seen}; the file may be incomplete",
            field="recordCount",
        )
