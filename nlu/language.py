"""Which language a message is in: any Han character means Chinese."""

from __future__ import annotations

import re

_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]{2,}")


def detect_language(text: str, fallback: str) -> str:
    if _HAN.search(text):
        return "zh"
    if _LATIN.search(text):
        return "en"
    return fallback
