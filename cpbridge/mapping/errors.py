"""The one error a mapping file can raise at load time, naming file, line and field."""

from __future__ import annotations

import os
from pathlib import Path


def display_path(path: Path) -> str:
    """``path`` relative to the working directory where it lies below it (shorter messages)."""
    try:
        return os.path.relpath(path) if Path(path).resolve().is_relative_to(Path.cwd()) else str(path)
    except (OSError, ValueError):  # pragma: no cover - e.g. a different drive
        return str(path)


class MappingError(ValueError):
    """A mapping file is invalid. ``str()`` reads ``file:line: field.path: problem``."""

    def __init__(self, file: Path | str, line: int | None, where: str, problem: str):
        self.file = Path(file)
        self.line = line
        self.where = where
        self.problem = problem
        loc = display_path(self.file) + (f":{line}" if line else "")
        super().__init__(f"{loc}: {where}: {problem}" if where else f"{loc}: {problem}")
