"""Product pictures as the channels send them: a file from the media folder, never anything
else on the server's disk."""

from __future__ import annotations

from pathlib import Path


def media_file(media_dir: Path, image: str) -> Path | None:
    """The file of `image` (a media name such as "catalog/<hash>.png") inside `media_dir`, or
    None for a web address, a path that leads out of the folder, or a missing file."""
    if not image or "://" in image:
        return None
    root = media_dir.resolve()
    path = (root / image).resolve()  # an absolute `image` or `..` lands outside root
    return path if path.is_relative_to(root) and path.is_file() else None
