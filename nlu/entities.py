"""Rule-based entities with spans and normalized values: order ids, phones, prices,
quantities, ordinals, colours, sizes, and the live catalog's categories and brands."""

from __future__ import annotations

import re
from collections.abc import Iterable

from nlu.numbers import CN_NUMBER, EN_NUMBER, NUMBER, to_number
from nlu.types import Entity
from store.lexicon import lexicon, surface_pattern

_CUR = r"(?:\$|¥|￥|rmb\s*|cny\s*)?"
_UNIT = r"(?:\s*(?:块钱|块|元|rmb|yuan|bucks|dollars|usd|cny|刀))?"
N = rf"{_CUR}(?P<n>{NUMBER}|{EN_NUMBER}){_UNIT}"
N2 = rf"{_CUR}(?P<m>{NUMBER}|{EN_NUMBER}){_UNIT}"

_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("order_id", re.compile(r"(?<![a-z0-9])(?P<n>cs\d{6,})(?![0-9])", re.IGNORECASE)),
    (
        "phone",
        re.compile(
            r"(?P<n>(?:\+|00)[1-9][\d\s-]{7,17}\d|(?:\+?86[\s-]?)?1[3-9]\d(?:[\s-]?\d){8})(?!\d)"
        ),
    ),
    (
        "price_range",
        re.compile(rf"(?:between\s+)?{N}\s*(?:-|~|到|至|and|to)\s*{N2}", re.IGNORECASE),
    ),
    (
        "price_max",
        re.compile(
            rf"(?:under|below|less than|cheaper than|within|up to|max(?:imum)?|no more than|not more than|不超过|低于|少于|小于|不到|最多)\s*{N}",
            re.IGNORECASE,
        ),
    ),
    (
        "price_max",
        re.compile(rf"{N}\s*(?:以内|以下|之内|内|左右|or less|or under|max)", re.IGNORECASE),
    ),
    (
        "price_min",
        re.compile(
            rf"(?:over|above|more than|at least|from|超过|高于|大于|至少)\s*{N}", re.IGNORECASE
        ),
    ),
    ("price_min", re.compile(rf"{N}\s*(?:以上|起|多)", re.IGNORECASE)),
    ("ordinal", re.compile(r"第\s*(?P<n>[一二三四五六七八九十\d]+)\s*(?:个|款|件|双|条)?")),
    (
        "ordinal",
        re.compile(
            r"\b(?P<n>first|second|third|fourth|fifth|last|1st|2nd|3rd|4th|5th)\b(?:\s+one)?",
            re.IGNORECASE,
        ),
    ),
    ("ordinal", re.compile(r"(?:#|no\.?\s*|number\s+)(?P<n>\d)\b", re.IGNORECASE)),
    (
        "quantity",
        re.compile(rf"(?P<n>\d+|{CN_NUMBER})\s*(?:件|个|双|条|只|顶|套|瓶|份|盒|副|张|把|支|包)"),
    ),
    (
        "quantity",
        re.compile(
            rf"(?<![a-z])(?P<n>{EN_NUMBER}|\d+)\s+(?:pairs?|pieces?|pcs|units?|of\s+(?:them|those|these|it)|more)\b",
            re.IGNORECASE,
        ),
    ),
    ("quantity", re.compile(r"(?:[x×*]\s*(?P<n>\d+)\b|\b(?P<m>\d+)\s*[x×])", re.IGNORECASE)),
    (
        "quantity",
        re.compile(
            rf"(?:add|take|want|get|buy|need|要|来|买|拿)\s*(?P<n>\d+|{CN_NUMBER}|{EN_NUMBER})(?![\d.])",
            re.IGNORECASE,
        ),
    ),
    (
        "size",
        re.compile(
            r"(?:尺码|size|码)?\s*(?P<n>3[4-9]|4[0-7])\s*(?:码|号|(?<=\d)\b)(?!\s*(?:件|个|块|元|以))",
            re.IGNORECASE,
        ),
    ),
    ("size", re.compile(r"(?<![A-Za-z])(?P<n>XXL|2XL|XL|S|M|L)(?![A-Za-z'’])(?:\s*码|\s*号)?")),
    ("size", re.compile(r"\bsize\s+(?P<n>xxl|xl|s|m|l)\b", re.IGNORECASE)),
    (
        "scope",
        re.compile(
            r"(?P<n>清空|全部|所有|全都|都删|everything|all of it|all items|\bempty\b|\bclear\b)",
            re.IGNORECASE,
        ),
    ),
]
_ORDINALS = {
    "first": 1,
    "1st": 1,
    "second": 2,
    "2nd": 2,
    "third": 3,
    "3rd": 3,
    "fourth": 4,
    "4th": 4,
    "fifth": 5,
    "5th": 5,
    "last": -1,
}
_COLOR_RE, _COLOR_OF = surface_pattern(lexicon().colors)
_SIZE_WORDS_RE, _SIZE_OF = surface_pattern(
    {k: [f for f in v if not f.isascii()] for k, v in lexicon().sizes.items()}
)


class EntityExtractor:
    """Finds entities; category and brand names come from the live catalog."""

    def __init__(self) -> None:
        self._catalog: tuple[re.Pattern[str], dict[str, str]] | None = None
        self._brands: tuple[re.Pattern[str], dict[str, str]] | None = None

    def set_catalog(self, categories: Iterable[tuple[str, str]], brands: Iterable[str]) -> None:
        cats = {en: [en, zh, en.rstrip("s")] for en, zh in categories}
        self._catalog = surface_pattern(cats) if cats else None
        brand_forms = {b: [b] for b in brands if b}
        self._brands = surface_pattern(brand_forms) if brand_forms else None

    def extract(self, text: str) -> list[Entity]:
        found: list[Entity] = []
        taken: list[tuple[int, int]] = []

        def add(etype: str, value: str, start: int, end: int) -> None:
            if any(s < end and start < e for s, e in taken):
                return
            taken.append((start, end))
            found.append(Entity(etype, value, start, end, text[start:end]))

        for etype, pattern in _PATTERNS:
            for m in pattern.finditer(text):
                self._add_match(etype, m, add)
        low = text.lower()
        for m in _COLOR_RE.finditer(low):
            add("color", _COLOR_OF[m.group(0)], m.start(), m.end())
        for m in _SIZE_WORDS_RE.finditer(low):
            add("size", _SIZE_OF[m.group(0)], m.start(), m.end())
        for etype, table in (("category", self._catalog), ("brand", self._brands)):
            if table:
                for m in table[0].finditer(low):
                    add(etype, table[1][m.group(0)], m.start(), m.end())
        return sorted(found, key=lambda e: e.start)

    @staticmethod
    def _add_match(etype: str, m: re.Match[str], add) -> None:
        group = "n" if m.group("n") is not None else "m"
        raw = m.group(group)
        if etype == "price_range":
            low, high = to_number(m.group("n")), to_number(m.group("m"))
            if low is not None and high is not None:
                add("price_min", _num(min(low, high)), m.start("n"), m.end("n"))
                add("price_max", _num(max(low, high)), m.start("m"), m.end("m"))
            return
        value: str | None = raw
        if etype in ("price_min", "price_max", "quantity"):
            number = to_number(raw)
            value = _num(number) if number is not None else None
        elif etype == "ordinal":
            n = _ORDINALS.get(raw.lower()) or to_number(raw)
            value = str(int(n)) if n else None
        elif etype == "phone":
            value = re.sub(r"[\s-]", "", raw)
        elif etype in ("order_id", "size"):
            value = raw.upper().replace("2XL", "XXL")
        elif etype == "scope":
            value = "all"
        if value is not None:
            add(etype, value, m.start(group), m.end(group))


def _num(n: float) -> str:
    return str(int(n)) if n == int(n) else f"{n:.2f}"
