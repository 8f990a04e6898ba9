"""Secret files: private from the first byte, whole, stable, never in the public folder."""

from __future__ import annotations

import contextlib
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.bootstrap import sandbox_secret
from bot.config import Settings
from bot.secret_files import SecretFileError, read_or_create_secret


class Killed(Exception):
    """The process stops here."""


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that lets new files be read by everyone, as on a carelessly set up server."""
    previous = os.umask(0)
    yield
    os.umask(previous)


def test_the_sandbox_key_is_private_from_the_moment_it_exists(
    tmp_path: Path, open_umask: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a process that dies right after writing the key, before any chmod could run
    def crash(*args: object, **kwargs: object) -> None:
        raise Killed

    monkeypatch.setattr(Path, "chmod", crash)
    monkeypatch.setattr(os, "chmod", crash)
    settings = Settings(data_dir=str(tmp_path), database_url="sqlite://", sandbox_secret="")
    with contextlib.suppress(Killed):
        sandbox_secret(settings)
    # then the key on disk, if any, is readable by its owner only
    keys = list(tmp_path.iterdir())
    assert [k.name for k in keys] == ["sandbox.key"]
    assert mode(keys[0]) == 0o600


def test_the_sandbox_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    settings = Settings(data_dir=str(tmp_path), database_url="sqlite://", sandbox_secret="")
    first = sandbox_secret(settings)
    assert len(first) == 64 and sandbox_secret(settings) == first
    assert mode(tmp_path / "sandbox.key") == 0o600


def test_workers_starting_together_share_one_whole_secret(tmp_path: Path) -> None:
    path = tmp_path / "data" / "session.key"
    start = threading.Barrier(8)
    found: list[bytes] = []

    def worker() -> None:
        start.wait()
        found.append(read_or_create_secret(path))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(found) == 8 and len(set(found)) == 1 and len(found[0]) == 64
    assert sorted(p.name for p in path.parent.iterdir()) == ["session.key"]  # no leftovers


def test_a_secret_inside_the_public_folder_is_refused(tmp_path: Path) -> None:
    media = tmp_path / "media"
    with pytest.raises(SecretFileError, match="public folder"):
        read_or_create_secret(media / "catalog" / "sandbox.key", public_dir=media)
    assert not media.exists()


def test_a_secret_left_readable_by_an_older_version_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.key"
    path.write_text("0123456789abcdef\n")
    path.chmod(0o644)
    assert read_or_create_secret(path) == b"0123456789abcdef"
    assert mode(path) == 0o600
