"""The shop vocabulary (colours, sizes, product-type synonyms) from lexicon.yml."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

_CJK = re.compile(r"[\u3400-\u9fff]")


@dataclass(frozen=True)
class Lexicon:
    colors: dict[str, list[str]]
    sizes: dict[str, list[str]]
    terms: dict[str, list[str]]  # product types
    attributes: dict[str, list[str]]  # materials and features

    def color_name(self, color: str, language: str) -> str:
        forms = self.colors.get(color)
        if not forms:
            return color
        return forms[0] if language == "zh" else forms[1]


@cache
def lexicon() -> Lexicon:
    data = yaml.safe_load((Path(__file__).with_name("lexicon.yml")).read_text("utf-8"))
    return Lexicon(
        {k: [str(f) for f in v] for k, v in data["colors"].items()},
        {k: [str(f) for f in v] for k, v in data["sizes"].items()},
        {k: [str(f) for f in v] for k, v in data["terms"].items()},
        {k: [str(f) for f in v] for k, v in data.get("attributes", {}).items()},
    )


def surface_pattern(
    forms: dict[str, list[str]], plurals: bool = False
) -> tuple[re.Pattern[str], dict[str, str]]:
    """One regex over every surface form (longest first) and a map back to its key; with
    `plurals`, English forms also match with -s/-es ('hats', 'dresses')."""
    back: dict[str, str] = {}
    for key, surfaces in forms.items():
        for surface in surfaces:
            back.setdefault(surface.lower(), key)
            if plurals and surface.isascii() and surface[-1:].isalpha():
                back.setdefault(surface.lower() + "s", key)
                back.setdefault(surface.lower() + "es", key)
    parts = []
    for surface in sorted(back, key=len, reverse=True):
        escaped = re.escape(surface)
        parts.append(escaped if _CJK.search(surface) else rf"(?<![a-z0-9]){escaped}(?![a-z0-9])")
    return re.compile("|".join(parts)), back
