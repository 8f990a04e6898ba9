"""Numbers as customers type them: 两/十二/一百五/3k/a couple/twenty-five."""

from __future__ import annotations

import math
import re

_CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "幺": 1,
    "二": 2,
    "两": 2,
    "俩": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10000}
CN_NUMBER = r"[零〇一幺二两俩三四五六七八九十百千万]+"
_EN_WORDS = {
    "zero": 0,
    "one": 1,
    "a": 1,
    "an": 1,
    "single": 1,
    "two": 2,
    "couple": 2,
    "pair": 1,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "dozen": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
EN_NUMBER = (
    r"(?:(?:"
    + "|".join(sorted(_EN_WORDS, key=len, reverse=True))
    + r")(?:[\s-]+(?:"
    + "|".join(sorted(_EN_WORDS, key=len, reverse=True))
    + r"|hundred|thousand))*)"
)
NUMBER = rf"(?:\d+(?:\.\d+)?\s*[kK]?|{CN_NUMBER})"


def cn_to_int(text: str) -> int | None:
    """'十二' → 12, '一百五' → 150, '两千' → 2000, '三万' → 30000."""
    if not text or any(ch not in _CN_DIGITS and ch not in _CN_UNITS for ch in text):
        return None
    total, section, digit, last_unit = 0, 0, None, 1
    for ch in text:
        if ch in _CN_DIGITS:
            digit = _CN_DIGITS[ch]
            continue
        unit = _CN_UNITS[ch]
        if unit == 10000:
            total += (section + (digit or 0)) * unit
            section, digit = 0, None
        else:
            section += (1 if digit is None else digit) * unit
            digit = None
        last_unit = unit
    if digit is not None:
        # Colloquial '一百五' means 150: a trailing digit counts in the next lower unit.
        section += digit * (last_unit // 10 if last_unit >= 100 and text[-2] in _CN_UNITS else 1)
    return total + section


def en_to_int(text: str) -> int | None:
    words = re.split(r"[\s-]+", text.lower().strip())
    if len(words) > 1:
        words = [w for w in words if w not in ("a", "an")]
    total, current = 0, 0
    for word in words:
        if word in ("of", "and"):
            continue
        if word == "hundred":
            current = max(current, 1) * 100
        elif word == "thousand":
            total += max(current, 1) * 1000
            current = 0
        elif word in _EN_WORDS:
            current += _EN_WORDS[word]
        else:
            return None
    return total + current


def to_number(text: str) -> float | None:
    """Any of the spellings above as a number; None if it is not one (or too big for one)."""
    t = text.strip().replace(",", "")
    if m := re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kK]?)", t):
        return _finite(float(m.group(1)) * (1000 if m.group(2) else 1))
    if (n := cn_to_int(t)) is not None:
        return _finite(float(n))
    n = en_to_int(t)
    return _finite(float(n)) if n is not None else None


def _finite(number: float) -> float | None:
    return number if math.isfinite(number) else None
