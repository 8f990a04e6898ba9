"""Catalog search for every channel: zh (jieba) and en tokens, cross-language synonyms,
typo tolerance, filters, sort and paging. The index lives in memory and is rebuilt when
the catalog version changes; stock and prices shown come from the database."""

from __future__ import annotations

import math
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import jieba
from rapidfuzz import fuzz, process
from sqlalchemy import select
from sqlalchemy.orm import Session

from store.catalog import catalog_version
from store.lexicon import lexicon, surface_pattern
from store.models import Product, Variant

jieba.setLogLevel(60)
MAX_CORRECTIONS = 50_000
_WORD = re.compile(r"[a-z0-9]+|[\u3400-\u9fff]+")
_CJK = re.compile(r"[\u3400-\u9fff]")
STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "any",
        "some",
        "me",
        "i",
        "my",
        "you",
        "your",
        "we",
        "do",
        "does",
        "have",
        "has",
        "is",
        "are",
        "for",
        "with",
        "of",
        "in",
        "on",
        "to",
        "and",
        "or",
        "show",
        "find",
        "search",
        "looking",
        "look",
        "need",
        "want",
        "buy",
        "get",
        "please",
        "can",
        "could",
        "would",
        "like",
        "some",
        "something",
        "under",
        "below",
        "over",
        "above",
        "less",
        "more",
        "than",
        "cheap",
        "cheaper",
        "price",
        "yuan",
        "rmb",
        "bucks",
        "dollars",
        "around",
        "about",
        "one",
        "ones",
        "pair",
        "pairs",
        "piece",
        "pieces",
        "有",
        "没有",
        "有没有",
        "的",
        "我",
        "想",
        "要",
        "买",
        "找",
        "一下",
        "推荐",
        "看看",
        "看",
        "吗",
        "呢",
        "吧",
        "啊",
        "亲",
        "在",
        "以内",
        "以下",
        "以上",
        "左右",
        "块",
        "元",
        "钱",
        "一些",
        "几款",
        "几个",
        "款",
        "个",
        "件",
        "双",
        "条",
        "给",
        "帮",
        "请",
        "哪些",
        "什么",
        "便宜",
        "便宜点",
        "有木有",
        "米有",
        "嘛",
        "哈",
        "么",
    ]
)


@dataclass(frozen=True)
class SearchQuery:
    text: str = ""
    category: str | None = None
    brand: str | None = None
    color: str | None = None
    size: str | None = None
    price_min: int | None = None  # minor units
    price_max: int | None = None
    sort: str = "relevance"  # relevance | price_asc | price_desc
    page: int = 1
    page_size: int = 5


@dataclass(frozen=True)
class SearchResult:
    product_ids: list[int]
    total: int
    page: int
    pages: int
    color: str | None  # the colour the customer asked for, to pick a matching variant


@dataclass(frozen=True)
class VariantSummary:
    id: int
    color: str
    size: str
    price: int
    currency: str
    stock: int


@dataclass(frozen=True)
class ProductSummary:
    """What a result card shows. Names and prices come from the index; stock is live."""

    id: int
    name_en: str
    name_zh: str
    brand: str
    image: str
    variants: tuple[VariantSummary, ...]


@dataclass
class _Doc:
    product_id: int
    weights: Counter[str]
    category: tuple[str, str]
    brand: str
    variants: list[tuple[str, str, int]]  # colour, size, price
    summary: ProductSummary


@dataclass
class _Index:
    version: int
    docs: list[_Doc]
    idf: dict[str, float]
    vocabulary: tuple[str, ...] = ()
    corrections: dict[str, str | None] = field(default_factory=dict)  # typo → token, memoized

    def correct(self, token: str) -> str | None:
        """The indexed token a typo most likely meant ('runing' → 'running'), if any."""
        if token in self.corrections:
            return self.corrections[token]
        fixed = _closest(self.vocabulary, token)
        if len(self.corrections) < MAX_CORRECTIONS:  # customers type endless new words
            self.corrections[token] = fixed
        return fixed


_COLOR_RE, _COLOR_OF = surface_pattern(lexicon().colors)
_TERM_RE, _TERM_OF = surface_pattern({**lexicon().terms, **lexicon().attributes}, plurals=True)


def _stem(word: str) -> str:
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("sses", "shes", "ches", "xes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def tokens(text: str, stem: bool = True) -> list[str]:
    """Concept tokens (synonyms folded) plus zh/en word tokens, stop words dropped."""
    low = text.lower()
    found = [f"term:{_TERM_OF[m.group(0)]}" for m in _TERM_RE.finditer(low)]
    for chunk in _WORD.findall(low):
        words = jieba.lcut_for_search(chunk) if _CJK.match(chunk) else [chunk]
        found.extend(
            _stem(w) if stem else w for w in words if w not in STOP_WORDS and not w.isdigit()
        )
    return found


def colors_in(text: str) -> list[str]:
    return [_COLOR_OF[m.group(0)] for m in _COLOR_RE.finditer(text.lower())]


class SearchIndex:
    """Thread-safe, lazily rebuilt index over active products."""

    VERSION_CHECK_S = 1.0  # a catalog import elsewhere shows up within this long

    def __init__(self, on_rebuild: Callable[[Session], None] | None = None) -> None:
        self._on_rebuild = on_rebuild  # e.g. teach NLU the new product names
        self._index: _Index | None = None
        self._lock = threading.Lock()
        self._checked_at = -math.inf

    def search(self, session: Session, query: SearchQuery) -> SearchResult:
        index = self._current(session)
        words = self._query_tokens(index, query.text)
        color = query.color or next(iter(colors_in(query.text)), None)
        if not words and tokens(_COLOR_RE.sub(" ", query.text.lower())):
            return SearchResult([], 0, 1, 1, color)  # words given, none of them known
        scored = []
        for doc in index.docs:
            prices = _matching_prices(doc, query, color)
            if not prices or not _matches_facets(doc, query):
                continue
            score = sum(doc.weights[w] * index.idf.get(w, 0.0) for w in words)
            if words and score <= 0:
                continue
            scored.append((score, min(prices), doc.product_id))
        if query.sort == "price_asc":
            scored.sort(key=lambda s: (s[1], s[2]))
        elif query.sort == "price_desc":
            scored.sort(key=lambda s: (-s[1], s[2]))
        else:
            scored.sort(key=lambda s: (-s[0], s[2]))
        pages = max(1, math.ceil(len(scored) / query.page_size))
        page = min(max(1, query.page), pages)
        start = (page - 1) * query.page_size
        ids = [s[2] for s in scored[start : start + query.page_size]]
        return SearchResult(ids, len(scored), page, pages, color)

    def summaries(self, session: Session, product_ids: list[int]) -> list[ProductSummary]:
        """Result cards for these products, with stock read now (one light query)."""
        docs = {d.product_id: d for d in self._current(session).docs}
        wanted = [docs[i].summary for i in product_ids if i in docs]
        variant_ids = [v.id for p in wanted for v in p.variants]
        rows = session.execute(select(Variant.id, Variant.stock).where(Variant.id.in_(variant_ids)))
        stock = {variant_id: units for variant_id, units in rows}
        return [
            replace(p, variants=tuple(replace(v, stock=stock.get(v.id, 0)) for v in p.variants))
            for p in wanted
        ]

    def terms(self, session: Session, text: str) -> list[str]:
        """The words in `text` that the catalog knows (after typo correction)."""
        return self._query_tokens(self._current(session), text)

    def _query_tokens(self, index: _Index, text: str) -> list[str]:
        out = []
        for raw in tokens(_COLOR_RE.sub(" ", text.lower()), stem=False):
            token = _stem(raw)
            if token in index.idf:
                out.append(token)
            elif (fixed := index.correct(raw) or index.correct(token)) is not None:
                out.append(fixed)
        return out

    def _current(self, session: Session) -> _Index:
        now = time.monotonic()
        if self._index is not None and now - self._checked_at < self.VERSION_CHECK_S:
            return self._index
        version = catalog_version(session)
        with self._lock:
            if self._index is None or self._index.version != version:
                self._index = _build(session, version)
                if self._on_rebuild:
                    self._on_rebuild(session)
            self._checked_at = now
        return self._index

    def ensure_current(self, session: Session) -> None:
        """Rebuild now if the catalog changed, without waiting for a search."""
        self._checked_at = -math.inf
        self._current(session)


def _closest(vocabulary: tuple[str, ...], token: str) -> str | None:
    if len(token) < 4 or not token.isascii():
        return None
    match = process.extractOne(token, vocabulary, scorer=fuzz.ratio, score_cutoff=80)
    if match is None:
        return None
    hit = match[0]
    return f"term:{_TERM_OF[hit]}" if hit in _TERM_OF else hit


def _matching_prices(doc: _Doc, q: SearchQuery, color: str | None) -> list[int]:
    return [
        price
        for c, size, price in doc.variants
        if (color is None or c == color)
        and (q.size is None or size.lower() == q.size.lower())
        and (q.price_min is None or price >= q.price_min)
        and (q.price_max is None or price <= q.price_max)
    ]


def _matches_facets(doc: _Doc, q: SearchQuery) -> bool:
    if q.category and q.category.lower() not in doc.category:
        return False
    return not q.brand or q.brand.lower() == doc.brand


def _build(session: Session, version: int) -> _Index:
    docs = []
    df: Counter[str] = Counter()
    products = session.scalars(select(Product).where(Product.active))
    for p in products:
        weights: Counter[str] = Counter()
        fields = [
            (p.name_en + " " + p.name_zh, 3.0),
            (p.category_en + " " + p.category_zh, 2.0),
            (p.brand, 2.0),
            (" ".join(str(t) for t in p.tags), 1.5),
            (p.description_en + " " + p.description_zh, 0.5),
        ]
        for text, weight in fields:
            for token in set(tokens(text)):
                weights[token] = max(weights[token], weight)
        df.update(weights.keys())
        variants = [(v.color, v.size, v.price) for v in p.variants]
        summary = ProductSummary(
            p.id,
            p.name_en,
            p.name_zh,
            p.brand,
            p.image,
            tuple(
                VariantSummary(v.id, v.color, v.size, v.price, v.currency, 0) for v in p.variants
            ),
        )
        docs.append(
            _Doc(
                p.id,
                weights,
                (p.category_en.lower(), p.category_zh.lower()),
                p.brand.lower(),
                variants,
                summary,
            )
        )
    n = max(1, len(docs))
    idf = {t: math.log(1 + n / c) for t, c in df.items()}
    surfaces = [s for s in _TERM_OF if s.isascii()]
    vocabulary = tuple(
        sorted({t for t in idf if t.isascii() and not t.startswith("term:")} | set(surfaces))
    )
    return _Index(version, docs, idf, vocabulary)
