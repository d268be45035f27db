"""Structured logs (structlog): JSON lines carrying ids and codes, never personal data.

Log tracking ids, event ids, system ids, operation names and fault codes. Do
not log fault messages, names, dates of birth or any message content: fault
messages can quote the caller's values. Two safety nets back that rule up:
values of keys that name personal data are replaced (:data:`REDACTED_KEYS`),
and an exception is logged as its type and the places it passed through,
never its message. Standard-library loggers (uvicorn, SQLAlchemy, ...) are
rendered through the same processors, so every line is JSON.
"""

from __future__ import annotations

import logging
import sys
import traceback

import structlog

#: Libraries that log whole requests or responses (personal data) at DEBUG/INFO: kept at WARNING.
QUIET_LOGGERS = (
    "zeep", "urllib3", "requests", "httpx", "httpcore", "uvicorn.access", "suds", "alembic", "multipart", "asyncio",
)

#: Keys that would carry personal data or message content; their values are replaced if a call passes them.
REDACTED_KEYS = frozenset(
    {
        "payload", "body", "xml", "message_body", "child", "identity", "given_names", "family_name", "name",
        "names", "date_of_birth", "dob", "nhs_number", "upn", "address", "postcode", "carers", "practitioner",
        "phone", "email", "reason", "last_error", "error_message",
    }
)


def redact_personal_keys(_logger, _method, event_dict: dict) -> dict:
    """Drop the values of keys that name personal data or free text."""
    for key in REDACTED_KEYS.intersection(event_dict):
        event_dict[key] = "[redacted]"
    return event_dict


def exception_without_message(_logger, _method, event_dict: dict) -> dict:
    """Replace ``exc_info`` by the exception's type and frames (file:line function): its message may quote data."""
    exc_info = event_dict.pop("exc_info", None)
    if exc_info is True:
        exc_info = sys.exc_info()
    if isinstance(exc_info, BaseException):
        exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
    if exc_info and exc_info[0] is not None:
        event_dict["error"] = exc_info[0].__name__
        frames = traceback.extract_tb(exc_info[2])[-8:]
        event_dict["where"] = [f"{f.filename.rsplit('/', 2)[-1]}:{f.lineno} {f.name}" for f in frames]
    return event_dict


def configure_logging(level: str = "info", *, json: bool = True, stream=None) -> None:
    stream = stream or sys.stderr
    renderer = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    shared = [
        structlog.contextvars.merge_contextvars,
        redact_personal_keys,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, exception_without_message, renderer],
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        )
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    structlog.configure(
        processors=[*shared, exception_without_message, structlog.processors.StackInfoRenderer(), renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
