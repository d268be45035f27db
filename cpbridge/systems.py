"""Descriptions of local systems: their types, configured instances and intake sources."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

if TYPE_CHECKING:
    from .mapping import Mapping


@dataclass(frozen=True)
class SystemType:
    """A kind of local system a plugin understands (``ics``, ``ecaf``, ``yot``, ``gp``, ``school``)."""

    name: str
    title: str
    plugin: str = ""


@dataclass
class LocalSystem:
    """One configured local system: an endpoint at ``/systems/<id>/`` fed by one product.

    ``id`` is also the ``source_system`` of every event it sends, so the
    directory's idempotency key is (id, local reference).
    """

    id: str
    type: str
    product: str
    mapping: "Mapping | None" = None
    wsdl_path: Path | None = None
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return f"{self.id} ({self.product})"


@dataclass
class IntakeItem:
    """One message from a non-HTTP source, as bytes or as an already parsed element.

    ``accepted`` runs once its events are committed to the outbox; ``rejected``
    with the fault when the message is refused.
    """

    message_id: str
    data: bytes | None = None
    root: Any = None
    accepted: Callable[[], None] = lambda: None
    rejected: Callable[[Exception], None] = lambda exc: None


class IntakeSource:
    """A pollable source of messages for one system (e.g. a watched folder)."""

    name: str = "source"

    def poll(self) -> Iterator[IntakeItem]:  # pragma: no cover - interface
        raise NotImplementedError
