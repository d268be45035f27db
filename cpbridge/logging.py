"""Structured logs (structlog): JSON lines carrying ids and codes, never personal data.

Log tracking ids, event ids, system ids, operation names and fault codes. Do
not log fault messages, names, dates of birth or any message content: fault
messages can quote the caller's values.
"""

from __future__ import annotations

import logging
import sys

import structlog


#: Libraries that log whole requests or responses (personal data) at DEBUG/INFO: kept at WARNING.
QUIET_LOGGERS = ("zeep", "urllib3", "requests", "httpx", "httpcore", "uvicorn.access", "suds", "alembic", "multipart")


def configure_logging(level: str = "info", *, json: bool = True, stream=None) -> None:
    stream = stream or sys.stderr
    logging.basicConfig(level=level.upper(), stream=stream, format="%(message)s", force=True)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    renderer = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
