"""Secret files the shop generates for itself (the sandbox payment key, signing keys).

A secret file is readable by its owner only from the moment it exists (created with mode
0600, never written first and restricted after), appears whole or not at all even when two
workers start at once, and is never placed inside a folder the server publishes."""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import stat
from pathlib import Path

log = logging.getLogger(__name__)


class SecretFileError(ValueError):
    """A secret file cannot be used where it is."""


def read_or_create_secret(path: Path, public_dir: Path | None = None, nbytes: int = 32) -> bytes:
    """The secret stored in `path`, first created as `nbytes` random bytes in hex.

    Args:
        path: the secret file, e.g. `<data dir>/sandbox.key`.
        public_dir: a folder the server publishes (the media folder); `path` must not be in it.
        nbytes: random bytes in a new secret (it holds 2 × nbytes hex characters).

    Returns:
        The file's text without surrounding whitespace, as bytes (a key for HMAC).

    Raises:
        SecretFileError: `path` is inside `public_dir`, or the file is empty.
    """
    if public_dir is not None and path.resolve().is_relative_to(public_dir.resolve()):
        raise SecretFileError(f"{path} is inside the public folder {public_dir}")
    if not path.exists():
        _create(path, secrets.token_hex(nbytes))
    _restrict(path)
    secret = path.read_bytes().strip()
    if not secret:
        raise SecretFileError(f"{path} is empty; delete it to have a new secret generated")
    return secret


def _create(path: Path, secret: str) -> None:
    """Writes the secret to a private temporary file, then links it into place: the link
    fails if another process got there first, and then its (complete) secret is the one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(secret + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(FileExistsError):  # another worker's secret stands
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _restrict(path: Path) -> None:
    """Secret files from older versions may be readable by others: make them 0600."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        path.chmod(0o600)
        log.warning("%s was readable by other users; it is now 0600", path.name)
