"""A supplier's picture host on 127.0.0.1: a picture, redirects, oversized and endless bodies,
and a page that is not a picture. It records every request it gets (path and Host header)."""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
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
def running_picture_host(tls: TlsFiles | None = None) -> Iterator[PictureHost]:
    """The host on a free port; over HTTPS with `tls`'s certificate when given."""
    host = PictureHost(port=free_port())
    options = {"ssl_certfile": tls.cert, "ssl_keyfile": tls.key} if tls else {}
    with serve_in_thread(host.app(), host.port, **options) as url:
        host.url = url.replace("http:", "https:") if tls else url
        try:
            yield host
        finally:
            host.stop.set()


@dataclass
class TlsFiles:
    ca: Path  # the certificate authority to trust
    cert: Path
    key: Path


def tls_files(folder: Path, name: str) -> TlsFiles:
    """A throwaway authority and a server certificate for host `name`, as PEM files."""
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("test authority", ca_key.public_key(), ca_key, authority=True)
    cert = _certificate(name, key.public_key(), ca_key, issuer=ca.subject)
    pem = serialization.Encoding.PEM
    files = TlsFiles(folder / "ca.pem", folder / "cert.pem", folder / "key.pem")
    files.ca.write_bytes(ca.public_bytes(pem))
    files.cert.write_bytes(cert.public_bytes(pem))
    files.key.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return files


def _certificate(
    name: str,
    public_key: ec.EllipticCurvePublicKey,
    signer: ec.EllipticCurvePrivateKey,
    issuer: x509.Name | None = None,
    authority: bool = False,
) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer or subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=authority, path_length=None), critical=True)
    )
    if authority:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), True
        )
    else:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), False)
    return builder.sign(signer, hashes.SHA256())
