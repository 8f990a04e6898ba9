"""Channels send product pictures from the media folder only."""

from pathlib import Path

import pytest

from bot.channels.media import media_file


@pytest.fixture
def media(tmp_path: Path) -> Path:
    (tmp_path / "sandbox.key").write_text("secret")
    (tmp_path / "media" / "catalog").mkdir(parents=True)
    (tmp_path / "media" / "catalog" / "tee.png").write_bytes(b"picture")
    (tmp_path / "media" / "catalog" / "out.png").symlink_to(tmp_path / "sandbox.key")
    return tmp_path / "media"


def test_a_picture_in_the_media_folder_is_found(media: Path) -> None:
    assert media_file(media, "catalog/tee.png") == (media / "catalog" / "tee.png").resolve()


@pytest.mark.parametrize(
    "image",
    [
        "/etc/passwd",
        "../sandbox.key",
        "catalog/../../sandbox.key",
        "catalog/out.png",  # a link out of the folder
        "catalog/missing.png",
        "https://images.example.com/tee.png",  # a web address is the platform's to fetch
        "",
    ],
)
def test_nothing_else_is_sent_as_a_picture(media: Path, image: str) -> None:
    assert media_file(media, image) is None
