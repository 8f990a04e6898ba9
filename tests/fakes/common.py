"""Plumbing the fake platform servers share: serving one for a test, a per-thread HTTP client
for the pushes a fake makes, multipart decoding and tiny images."""

from __future__ import annotations

import struct
import threading
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import Message as _Headers
from typing import Any

import httpx

from tests.conftest import free_port, serve_in_thread

BAD_GATEWAY_PAGE = (
    "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1>"
    "</center><hr><center>nginx</center></body></html>"
)


@contextmanager
def serving(fake: Any, port: int | None = None) -> Iterator[Any]:
    """`fake` served on 127.0.0.1 for the block, with `fake.url` set; closed afterwards."""
    with serve_in_thread(fake.app, port or free_port()) as url:
        fake.url = url
        try:
            yield fake
        finally:
            fake.close()


class ThreadClients:
    """One HTTP client per thread (making one per request costs ~30 ms), closed together."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._clients: list[httpx.Client] = []
        self._lock = threading.Lock()

    def get(self) -> httpx.Client:
        client = getattr(self._local, "client", None)
        if client is None or client.is_closed:
            client = self._local.client = httpx.Client(trust_env=False)
            with self._lock:
                self._clients.append(client)
        return client

    def close(self) -> None:
        with self._lock:
            clients, self._clients = self._clients, []
        for client in clients:
            client.close()


def tiny_png(width: int = 2, height: int = 2, rgb: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    """A valid PNG image of one colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def image_info(data: bytes) -> tuple[str, int, int] | None:
    """(extension, width, height) of a PNG/JPEG/GIF/WebP image (only PNG sizes are read, others
    say 512x512); None if it is not an image."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        return ("png", *struct.unpack(">II", data[16:24]))
    for magic, ext in ((b"\xff\xd8\xff", "jpg"), (b"GIF8", "gif"), (b"RIFF", "webp")):
        if data.startswith(magic):
            return (ext, 512, 512)
    return None


@dataclass(repr=False)
class Upload:
    """A file sent with multipart/form-data."""

    filename: str
    content_type: str
    data: bytes

    def __repr__(self) -> str:
        return f"Upload({self.filename!r}, {self.content_type!r}, {len(self.data)} bytes)"


def parse_multipart(body: bytes, content_type: str) -> dict[str, Any]:
    headers = _Headers()
    headers["content-type"] = content_type
    boundary = headers.get_param("boundary")
    if not isinstance(boundary, str):
        raise ValueError("multipart body without a boundary")
    fields: dict[str, Any] = {}
    for part in body.split(b"--" + boundary.encode())[1:]:
        if part.startswith(b"--"):
            break
        head, _, value = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        value = value.removesuffix(b"\r\n")
        part_headers = _Headers()
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, _, text = line.partition(":")
            part_headers[name.strip()] = text.strip()
        name = part_headers.get_param("name", header="content-disposition")
        filename = part_headers.get_param("filename", header="content-disposition")
        if not isinstance(name, str):
            continue
        if isinstance(filename, str):
            ctype = part_headers.get("content-type", "application/octet-stream")
            fields[name] = Upload(filename, ctype, value)
        else:
            fields[name] = value.decode("utf-8")
    return fields


def xml_root(data: str | bytes) -> ET.Element:
    """The root element of a platform's XML body; ValueError for a DTD (as the platforms refuse
    them) or malformed XML."""
    text = data.decode() if isinstance(data, bytes) else data
    if "<!DOCTYPE" in text.upper() or "<!ENTITY" in text.upper():
        raise ValueError("DTDs are not accepted")
    try:
        return ET.fromstring(text)
    except ET.ParseError as e:
        raise ValueError(f"malformed XML: {e}") from e
