"""Reading request bodies with a byte limit, shared by every XML/SOAP endpoint."""

from __future__ import annotations

from starlette.requests import Request

from .faults import Fault


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
