"""Reading webhook bodies with a limit, so an oversized request costs us at most that much."""

from __future__ import annotations

from fastapi import Request


async def read_at_most(request: Request, limit: int) -> bytes | None:
    """The body, or None once it grows past `limit` (read no further than that)."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)
