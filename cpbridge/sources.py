"""Watched folders: batch files dropped by local systems, fed through the normal intake.

A :class:`FolderSource` takes files from ``<folder>/`` in name order. A file may
hold one message or many (``split`` yields ``(message_id, element)`` pairs, e.g.
with :func:`cpbridge.xmlsafe.iterparse_safe` for files of thousands of
records). A file moves to ``done/`` only after every message in it is in the
outbox, and to ``rejected/`` (with a ``.error`` note) when it cannot be read at
all; a message refused inside a batch is noted in ``<file>.rejected.txt`` and
the rest carry on. After a crash the file is read again and the messages
already accepted are recognised by their ids, so nothing is lost or doubled.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Callable, Iterator

from lxml import etree

from .faults import Fault
from .systems import IntakeItem, IntakeSource
from .xmlsafe import parse_xml

Splitter = Callable[[Path, str], Iterator[tuple[str, etree._Element]]]


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:32]


def whole_file(path: Path, digest: str) -> Iterator[tuple[str, etree._Element]]:
    """The default splitter: the file is one message."""
    yield f"file:{digest}", parse_xml(path.read_bytes())


class FolderSource(IntakeSource):
    def __init__(self, folder: Path, *, pattern: str = "*.xml", split: Splitter = whole_file, name: str = "folder"):
        self.folder = Path(folder)
        self.pattern = pattern
        self.split = split
        self.name = name
        for sub in ("done", "rejected"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)

    def _move(self, path: Path, where: str) -> None:
        target = self.folder / where / path.name
        if target.exists():
            target = target.with_name(f"{path.stem}.{file_digest(path)[:8]}{path.suffix}")
        shutil.move(str(path), str(target))

    def poll(self) -> Iterator[IntakeItem]:
        for path in sorted(self.folder.glob(self.pattern)):
            if not path.is_file():
                continue
            digest = file_digest(path)
            problems: list[str] = []
            try:
                for message_id, root in self.split(path, digest):
                    yield IntakeItem(
                        message_id=message_id,
                        root=root,
                        rejected=lambda exc, mid=message_id: problems.append(f"{mid}: {getattr(exc, 'code', 'Error')}: {exc}"),
                    )
            except (Fault, etree.XMLSyntaxError, OSError) as exc:
                (self.folder / "rejected" / f"{path.name}.error").write_text(f"{type(exc).__name__}: {exc}\n")
                self._move(path, "rejected")
                continue
            except Exception as exc:  # a splitter bug on a strange file must not block the folder
                (self.folder / "rejected" / f"{path.name}.error").write_text(f"{type(exc).__name__}: could not be read\n")
                self._move(path, "rejected")
                continue
            if problems:
                (self.folder / "done" / f"{path.name}.rejected.txt").write_text("\n".join(problems) + "\n")
            self._move(path, "done")
