"""Catalog pictures: which files may be published, and how.

Everything in the media folder is public, so a catalog may only publish real pictures from
inside its own folder: a path that is absolute, has a `..` part, or leads out through a link
is refused, and only PNG, JPEG, GIF and WebP files of at most MAX_BYTES (checked by their
content with Pillow, not by their name) are copied. Copies are named by a hash of their
content, so same-named files from two folders never overwrite each other and a re-import
copies nothing new."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from PIL import Image

MAX_BYTES = 5 * 1024 * 1024  # Telegram's limit for a photo by URL; ample for a chat picture
MAX_PIXELS = 40_000_000  # a small file that decodes to gigabytes (a "bomb") is refused
EXTENSIONS = {"PNG": "png", "JPEG": "jpg", "GIF": "gif", "WEBP": "webp"}  # Pillow format → ours
MEDIA_FOLDER = "catalog"  # inside the media folder


class ImageProblem(ValueError):
    """Why a picture cannot be used, worded for the merchant."""


@dataclass(frozen=True)
class CheckedImage:
    """A picture whose content passed the checks; `source` is the file it was read from."""

    source: Path
    sha256: str
    extension: str

    @property
    def media_name(self) -> str:
        """Its path inside the media folder, as products store it."""
        return f"{MEDIA_FOLDER}/{self.sha256}.{self.extension}"


def check_address(image: str) -> bool:
    """True if `image` is a web address (http or https, with a host) rather than a path;
    ImageProblem for any other address (`file:`, `data:`, `ftp:` …), which we never follow."""
    try:
        parts = urlsplit(image)
    except ValueError:  # e.g. an unclosed "[" in the host
        raise ImageProblem("is not a valid address") from None
    if len(parts.scheme) <= 1:  # no scheme, or a Windows drive letter: a path
        return False
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ImageProblem("only http:// and https:// addresses with a host name can be used")
    return True


def check_content(data: bytes) -> str:
    """The extension of the picture in `data`, or ImageProblem if it is not a real PNG, JPEG,
    GIF or WebP picture within the limits."""
    if len(data) > MAX_BYTES:
        raise ImageProblem(f"larger than {MAX_BYTES // (1024 * 1024)} MB")
    try:
        with Image.open(io.BytesIO(data), formats=list(EXTENSIONS)) as picture:
            pixels = picture.width * picture.height
            extension = EXTENSIONS[picture.format or ""]
            picture.verify()  # reads the structure (PNG: every chunk's checksum)
    except Exception:  # Pillow raises many types on malformed data (SyntaxError, struct.error…)
        raise ImageProblem("not a PNG, JPEG, GIF or WebP picture") from None
    if pixels > MAX_PIXELS:
        raise ImageProblem(f"more than {MAX_PIXELS // 1_000_000} million pixels")
    return extension


def check_local(folder: Path, image: str) -> CheckedImage:
    """The picture at `image`, a path relative to the catalog's `folder`, checked."""
    relative = PurePosixPath(image)
    if relative.is_absolute():
        raise ImageProblem("must be a path inside the catalog's folder, not an absolute path")
    if ".." in relative.parts:
        raise ImageProblem("must be a path inside the catalog's folder, without '..'")
    root = folder.resolve()
    try:
        path = (root / relative).resolve(strict=True)
    except (OSError, RuntimeError, ValueError):  # missing, a link loop, a NUL byte
        raise ImageProblem("file not found") from None
    if not path.is_relative_to(root):
        raise ImageProblem("is a link that leads out of the catalog's folder")
    data = read_limited(path)
    return CheckedImage(path, hashlib.sha256(data).hexdigest(), check_content(data))


def read_limited(path: Path) -> bytes:
    """At most MAX_BYTES + 1 bytes of a regular file (a device or pipe is not a picture)."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            raise ImageProblem("file not found")
        with path.open("rb") as fh:
            return fh.read(MAX_BYTES + 1)
    except OSError:
        raise ImageProblem("file cannot be read") from None


def publish(image: CheckedImage, media_dir: Path) -> str:
    """Copies a checked picture into the media folder (once) and returns its media name."""
    target = media_dir / image.media_name
    if target.is_file():  # same name, same content
        return image.media_name
    data = read_limited(image.source)
    if hashlib.sha256(data).hexdigest() != image.sha256:
        raise ImageProblem("the file changed while it was being imported")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, incoming = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(incoming, 0o644)  # a public file, also for a web server in front of us
        os.replace(incoming, target)  # readers never see half a picture
    except BaseException:
        Path(incoming).unlink(missing_ok=True)
        raise
    return image.media_name
