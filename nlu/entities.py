"""Rule-based entities with spans and normalized values: order ids, phones, prices,
quantities, ordinals, colours, sizes, and the live catalog's categories and brands."""

from __future__ import annotations

import re
from collections.abc import Iterable

from nlu.numbers import CN_NUMBER, EN_NUMBER, NUMBER, to_number
from nlu.rasa_yaml import lookup_tables
from nlu.types import Entity
from store.lexicon import lexicon, surface_pattern
from store.order_numbers import TYPED as ORDER_NUMBER
from store.order_numbers import canonical as canonical_order_number

_CUR = r"(?:\$|¥|￥|rmb\s*|cny\s*)?"
_UNIT = r"(?:\s*(?:块钱|块|元|rmb|yuan|bucks|dollars|usd|cny|刀))?"
N = rf"{_CUR}(?P<n>{NUMBER}|{EN_NUMBER}){_UNIT}"
N2 = rf"{_CUR}(?P<m>{NUMBER}|{EN_NUMBER}){_UNIT}"

# Number words that can stand for a count; "a"/"an" alone are too common ("get a refund").
_EN_COUNT = rf"(?!an?\b){EN_NUMBER}\b"

_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("order_id", re.compile(rf"(?<![a-z0-9])(?P<n>{ORDER_NUMBER})", re.IGNORECASE)),
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
            rf"(?:\bto|make (?:it|that)|\bonly|qty|quantity|改成|改为|换成|数量)\s*(?P<n>\d{{1,3}}|{CN_NUMBER}|{_EN_COUNT})(?![\d.])(?!\s*(?:块|元|号|码|yuan|bucks))",
            re.IGNORECASE,
        ),
    ),
    (
        "quantity",
        re.compile(
            rf"(?:add|take|want|get|buy|need|put|throw|要|来|买|拿)\s*(?P<n>\d+|{CN_NUMBER}|{_EN_COUNT})(?![\d.])",
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
    {k: [f for f in v if len(f) > 1 and f.upper() != k] for k, v in lexicon().sizes.items()}
)


_CJK = re.compile(r"[\u3400-\u9fff]")
_TRACKING = re.compile(
    r"(?<![A-Za-z0-9])(?P<n>(?:SF|YT|JD|ZTO|YD|STO|EMS|JT|DPK)\d{10,15}|1Z[0-9A-Z]{16})(?![A-Za-z0-9])",
    re.I,
)
_BARE_QUANTITY = re.compile(
    rf"^\s*(?P<n>\d{{1,4}}|{CN_NUMBER}|{EN_NUMBER})\s*(?:件|个|双|条|只|顶|套|pcs|pieces?|pairs?)?\s*[.!。！]?\s*$",
    re.I,
)
_NAME_CUE = re.compile(
    r"(?:my name is|my name's|name's|the name is|under the name|name:?|call me|i'm|i am|it's|"
    r"我叫|叫我|名字是|名字叫|名字|姓名[:：]?|收件人[:：]?(?:是)?)\s*"
    r"(?P<n>[A-Z][a-zA-Z'’\-]+(?:\s+[A-Z][a-zA-Z'’\-]+){0,2}|[\u4e00-\u9fff]{2,4}?)(?=$|[\s,，。.!！就收]|\s*\+?\d)",
)
_ADDRESS_CUE = re.compile(
    r"(?:my address is|address is|my address:?|address:?|ship(?: it)? to|deliver(?: it)? to|send it to|it's|"
    r"收货地址[:：]?|地址是|地址[:：]?|寄到|送到|发到|我住)\s*(?P<n>\S.{5,})$",
    re.I,
)
_ZH_ADDRESS = re.compile(
    r"(?P<n>[\u4e00-\u9fff]{2,}(?:省|市|自治区)[\u4e00-\u9fffA-Za-z0-9\-#()（）]*?"
    r"(?:路|街|道|巷|弄|村|园|号)[\u4e00-\u9fffA-Za-z0-9\-#()（）]*)"
)
_EN_ADDRESS = re.compile(
    r"(?P<n>(?:(?:Room|Flat|Unit|Apt|Building|Suite)\s*\w+,\s*)?\d+[A-Za-z]?\s+[A-Z][\w'’ .]*?\b"
    r"(?:Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Boulevard|Blvd|Pkwy|Parkway|Terrace|Drive|Dr|Way|"
    r"Rue|Place|Pl|Court|Ct|Central)\b[\w'’ ,.\-]*)"
)
_ADDRESS_DETAIL = re.compile(r"\d|[省市区县路街道号楼室]")
_BARE_EN_NAME = re.compile(
    r"^\s*(?P<n>[A-Z][a-zà-ÿ'’\-]+(?:\s+[A-Z][a-zà-ÿ'’\-]+){1,2})\s*(?:please)?\s*(?:,?\s*\+?\d[\d\s\-]{6,})?\s*$"
)
_CATEGORY_CUE = r"\s*(?:category|categories|section|类|分类|区)"


def _product_forms() -> list[str]:
    """Product-type words: the lexicon's terms plus the lookup tables in the training data."""
    forms = [f for fs in lexicon().terms.values() for f in fs]
    forms += lookup_tables().get("product", [])
    # One Han character is too ambiguous here (包 in 包邮 is not a bag).
    return sorted({f.lower() for f in forms if len(f) > 1})


class EntityExtractor:
    """Finds entities with spans and normalized values. Categories, brands and product names
    come from the live catalog, so newly imported goods are recognized without retraining."""

    def __init__(self) -> None:
        self._categories: tuple[re.Pattern[str], dict[str, str]] | None = None
        self._brands: tuple[re.Pattern[str], dict[str, str]] | None = None
        self._names: tuple[re.Pattern[str], dict[str, str]] | None = None
        self._products = surface_pattern({f: [f] for f in _product_forms()}, plurals=True)

    def set_catalog(
        self,
        categories: Iterable[tuple[str, str]],
        brands: Iterable[str],
        product_names: Iterable[str] = (),
    ) -> None:
        cats = {
            en: [f for f in (en, zh, en.rstrip("s")) if len(f) > 1 or not _CJK.match(f)]
            for en, zh in categories
        }
        self._categories = surface_pattern(cats) if cats else None
        brand_forms = {b: [b] for b in brands if b}
        self._brands = surface_pattern(brand_forms) if brand_forms else None
        names = {n: [n] for n in product_names if len(n) > 2}
        self._names = surface_pattern(names) if names else None

    def extract(self, text: str, expecting: str = "", catalog: bool = True) -> list[Entity]:
        """Entities in `text`; `expecting` is the field the dialog asked for, and
        `catalog=False` leaves out the live catalog's names (for catalog-free features)."""
        found: list[Entity] = []
        taken: list[tuple[int, int]] = []

        def add(etype: str, value: str, start: int, end: int) -> None:
            if start >= end or any(s < end and start < e for s, e in taken):
                return
            taken.append((start, end))
            found.append(Entity(etype, value, start, end, text[start:end]))

        self._contact(text, expecting, add)
        for m in _TRACKING.finditer(text):
            add("tracking_number", m.group("n").upper(), m.start("n"), m.end("n"))
        for etype, pattern in _PATTERNS:
            for m in pattern.finditer(text):
                self._add_match(etype, m, add)
        if m := _BARE_QUANTITY.match(text):
            self._add_match("quantity", m, add)
        low = text.lower()
        for m in _COLOR_RE.finditer(low):
            add("color", _COLOR_OF[m.group(0)], m.start(), m.end())
        for m in _SIZE_WORDS_RE.finditer(low):
            add("size", _SIZE_OF[m.group(0)], m.start(), m.end())
        self._goods(text, low, add, catalog)
        return sorted(found, key=lambda e: e.start)

    def _goods(self, text: str, low: str, add, catalog: bool) -> None:
        """Catalog names, then categories named as such, product types, other categories."""
        if not catalog:
            for m in self._products[0].finditer(low):
                add("product", text[m.start() : m.end()], m.start(), m.end())
            return
        if self._names:
            for m in self._names[0].finditer(low):
                add("product", self._names[1][m.group(0)], m.start(), m.end())
        if self._categories:
            cue = re.compile(f"(?:{self._categories[0].pattern}){_CATEGORY_CUE}")
            for m in cue.finditer(low):
                surface = self._categories[0].match(low, m.start())
                if surface:
                    add("category", self._categories[1][surface.group(0)], m.start(), surface.end())
        for m in self._products[0].finditer(low):
            add("product", text[m.start() : m.end()], m.start(), m.end())
        for etype, table in (("category", self._categories), ("brand", self._brands)):
            if table:
                for m in table[0].finditer(low):
                    add(etype, table[1][m.group(0)], m.start(), m.end())

    @staticmethod
    def _contact(text: str, expecting: str, add) -> None:
        """Names and addresses: after a cue ('我叫', 'ship to'), by shape, or because the
        dialog just asked for one."""
        for pattern, etype in (
            (_ADDRESS_CUE, "address"),
            (_ZH_ADDRESS, "address"),
            (_EN_ADDRESS, "address"),
            (_NAME_CUE, "name"),
            (_BARE_EN_NAME, "name"),
        ):
            if m := pattern.search(text):
                value = m.group("n").strip().rstrip("。.!！")
                if etype == "address" and not _ADDRESS_DETAIL.search(value):
                    continue  # "ship to Singapore?" asks about shipping, it is no address
                add(etype, value, m.start("n"), m.start("n") + len(value))
        if expecting in ("name", "address") and text.strip():
            value = text.strip()
            add(expecting, value, text.index(value), text.index(value) + len(value))

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
        elif etype == "order_id":
            value = canonical_order_number(raw)
        elif etype == "size":
            value = raw.upper().replace("2XL", "XXL")
        elif etype == "scope":
            value = "all"
        if value is not None:
            add(etype, value, m.start(group), m.end(group))


def _num(n: float) -> str:
    return str(int(n)) if n == int(n) else f"{n:.2f}"
