"""A supplier's picture host on 127.0.0.1: a picture, redirects, oversized and endless bodies,
and a page that is not a picture. It records every request it gets (path and Host header)."""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.conftest import free_port, serve_in_thread


def png(color: str = "green") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buffer, "PNG")
    return buffer.getvalue()


PICTURE = png()
TOO_BIG = 6 * 1024 * 1024


@dataclass
class PictureHost:
    url: str = ""
    port: int = 0
    requests: list[tuple[str, str]] = field(default_factory=list)  # (path, Host header)
    stop: threading.Event = field(default_factory=threading.Event)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/pic.png", self.picture),
                Route("/hops/{n:int}", self.hops),
                Route("/to", self.redirect_to),
                Route("/big", self.big),
                Route("/big-declared", self.big_declared),
                Route("/drip", self.drip),
                Route("/page.png", self.page),
            ],
        )

    def record(self, request: Request) -> None:
        self.requests.append((request.url.path, request.headers.get("host", "")))

    async def picture(self, request: Request) -> Response:
        self.record(request)
        return Response(PICTURE, media_type="image/png")

    async def hops(self, request: Request) -> Response:
        """/hops/N redirects N times, then to the picture."""
        self.record(request)
        n = request.path_params["n"]
        return RedirectResponse(f"/hops/{n - 1}" if n > 1 else "/pic.png", status_code=302)

    async def redirect_to(self, request: Request) -> Response:
        self.record(request)
        return RedirectResponse(request.query_params["url"], status_code=302)

    async def big(self, request: Request) -> Response:
        """A body past the limit, sent without a length (chunked)."""
        self.record(request)

        async def chunks() -> AsyncIterator[bytes]:
            yield PICTURE
            for _ in range(TOO_BIG // 65536):
                yield b"\0" * 65536

        return StreamingResponse(chunks(), media_type="image/png")

    async def big_declared(self, request: Request) -> Response:
        self.record(request)
        return Response(PICTURE + b"\0" * TOO_BIG, media_type="image/png")

    async def drip(self, request: Request) -> Response:
        """A picture that never finishes: one byte every 20 ms, until the test ends."""
        self.record(request)

        async def bytes_slowly() -> AsyncIterator[bytes]:
            for byte in PICTURE:
                yield bytes([byte])
                await asyncio.sleep(0.02)
            while not self.stop.is_set():
                yield b"\0"
                await asyncio.sleep(0.02)

        return StreamingResponse(bytes_slowly(), media_type="image/png")

    async def page(self, request: Request) -> Response:
        self.record(request)
        return HTMLResponse("<html><script>alert(1)</script></html>")


@contextmanager
def running_picture_host() -> Iterator[PictureHost]:
    host = PictureHost(port=free_port())
    with serve_in_thread(host.app(), host.port) as url:
        host.url = url
        try:
            yield host
        finally:
            host.stop.set()
