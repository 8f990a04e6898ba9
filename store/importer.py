"""Catalog import from CSV (one row per SKU) or JSON (products with nested variants).

Every row is validated first, its picture included (see store.images); one bad row means
nothing is imported and every problem is reported with its line (CSV) or item path (JSON).
Re-importing updates products by code and variants by SKU."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, PrivateAttr, ValidationError, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from store.catalog import bump_catalog_version
from store.images import CheckedImage, ImageProblem, check_address, check_local, publish
from store.lexicon import lexicon
from store.models import Product, Variant

if TYPE_CHECKING:  # httpx is loaded only when the merchant asks for web pictures
    from store.image_fetch import RemoteImageFetcher

_COLOR_OF = {form.lower(): key for key, forms in lexicon().colors.items() for form in forms}


class CatalogRow(BaseModel):
    """One SKU with its product's fields, as in a CSV row."""

    product_code: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    sku: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    name_en: str = Field(min_length=1, max_length=200)
    name_zh: str = Field(min_length=1, max_length=200)
    description_en: str = Field(default="", max_length=4000)
    description_zh: str = Field(default="", max_length=4000)
    category_en: str = Field(min_length=1, max_length=100)
    category_zh: str = Field(min_length=1, max_length=100)
    brand: str = Field(default="", max_length=100)
    color: str = Field(default="", max_length=32)
    size: str = Field(default="", max_length=16)
    price: int = Field(ge=0, description="minor units")
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    stock: int = Field(ge=0, le=10_000_000)
    image: str = Field(default="", max_length=500)
    tags: list[str] = Field(default_factory=list)
    # The picture to publish, once read_catalog has checked it; never taken from the file.
    _picture: CheckedImage | None = PrivateAttr(default=None)

    @field_validator("price", mode="before")
    @classmethod
    def _price(cls, value: Any) -> int:
        try:
            amount = Decimal(str(value).strip())
        except InvalidOperation:
            raise ValueError("price must be a number like 79.00") from None
        if amount < 0 or amount != amount.quantize(Decimal("0.01")) or not amount.is_finite():
            raise ValueError("price must be a non-negative amount with at most 2 decimals")
        return int(amount * 100)

    @field_validator("tags", mode="before")
    @classmethod
    def _tags(cls, value: Any) -> list[str]:
        if isinstance(value, str):
            return [t.strip() for t in value.split(";") if t.strip()]
        return value

    @field_validator("color")
    @classmethod
    def _color(cls, value: str) -> str:
        return _COLOR_OF.get(value.strip().lower(), value.strip().lower())

    @field_validator("sku", "product_code")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.strip().upper()


@dataclass
class ImportReport:
    products_created: int = 0
    products_updated: int = 0
    variants_created: int = 0
    variants_updated: int = 0


class CatalogError(Exception):
    """The file was not imported; `problems` are (where, what) pairs."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__(f"{len(problems)} problem(s) in catalog file")
        self.problems = problems


def read_catalog(
    path: Path, default_currency: str = "CNY", fetcher: RemoteImageFetcher | None = None
) -> list[CatalogRow]:
    """Parse and validate a whole file, pictures included, or raise CatalogError listing every
    bad row. Web pictures are downloaded and checked only when a `fetcher` is given;
    otherwise they stay links that browsers and platforms load."""
    try:
        raw = list(_raw_rows(path, default_currency))
    except (
        OSError,
        UnicodeDecodeError,
        json.JSONDecodeError,
        csv.Error,
        KeyError,
        TypeError,
    ) as exc:
        raise CatalogError([("file", f"cannot read {path.name}: {exc}")]) from None
    rows, problems = _validate(raw, _Pictures(path.parent, fetcher))
    if not raw:
        problems.append(("file", "no products found"))
    if problems:
        raise CatalogError(problems)
    return rows


def _validate(
    raw: list[tuple[str, dict[str, Any]]], pictures: _Pictures
) -> tuple[list[CatalogRow], list[tuple[str, str]]]:
    rows: list[CatalogRow] = []
    problems: list[tuple[str, str]] = []
    seen: dict[str, str] = {}
    for where, data in raw:
        try:
            row = CatalogRow.model_validate(data)
        except ValidationError as exc:
            problems.extend((where, _describe(e)) for e in exc.errors())
            continue
        if row.sku in seen:
            problems.append((where, f"SKU {row.sku} already used at {seen[row.sku]}"))
            continue
        try:
            row._picture = pictures.check(row.image)
        except ImageProblem as problem:
            problems.append((where, f"image {row.image}: {problem}"))
            continue
        seen[row.sku] = where
        rows.append(row)
    return rows, problems


class _Pictures:
    """Checks each distinct picture of a file once (a product's SKUs share one)."""

    def __init__(self, folder: Path, fetcher: RemoteImageFetcher | None) -> None:
        self._folder, self._fetcher = folder, fetcher
        self._seen: dict[str, CheckedImage | str | None] = {}  # str: why it was refused

    def check(self, image: str) -> CheckedImage | None:
        if image not in self._seen:
            try:
                self._seen[image] = self._check(image)
            except ImageProblem as problem:
                self._seen[image] = str(problem)
        found = self._seen[image]
        if isinstance(found, str):
            raise ImageProblem(found)
        return found

    def _check(self, image: str) -> CheckedImage | None:
        if not image:
            return None
        if check_address(image):
            return self._fetcher.fetch(image) if self._fetcher else None
        return check_local(self._folder, image)


def _describe(error: Any) -> str:
    field = ".".join(str(p) for p in error.get("loc", ())) or "row"
    return f"{field}: {error.get('msg', 'invalid')}"


def _raw_rows(path: Path, default_currency: str) -> Iterable[tuple[str, dict[str, Any]]]:
    if path.suffix.lower() == ".json":
        data = json.loads(path.read_text("utf-8"))
        products = data["products"] if isinstance(data, dict) else data
        for i, product in enumerate(products):
            base = {k: v for k, v in product.items() if k not in ("variants", "code")}
            base["product_code"] = product.get("code", "")
            for j, variant in enumerate(product.get("variants") or [{}]):
                yield (
                    f"products[{i}].variants[{j}]",
                    {"currency": default_currency, **base, **variant},
                )
        return
    with path.open(newline="", encoding="utf-8-sig") as fh:
        for line, record in enumerate(csv.DictReader(fh), start=2):
            cleaned = {k.strip(): (v or "").strip() for k, v in record.items() if k}
            cleaned.setdefault("currency", default_currency)
            cleaned["currency"] = cleaned["currency"] or default_currency
            yield f"line {line}", cleaned


def import_rows(
    session: Session,
    rows: list[CatalogRow],
    media_dir: Path,
    progress: Callable[[int], None] = lambda n: None,
) -> ImportReport:
    """Upsert rows from read_catalog in the caller's transaction and publish their checked
    pictures to the media folder."""
    report = ImportReport()
    products = {p.code: p for p in session.scalars(select(Product))}
    variants = {v.sku: v for v in session.scalars(select(Variant))}
    touched: set[str] = set()
    for row in rows:
        product = products.get(row.product_code)
        if product is None:
            product = products[row.product_code] = Product(code=row.product_code, tags=[])
            session.add(product)
            report.products_created += 1
        elif row.product_code not in touched:
            report.products_updated += 1
        touched.add(row.product_code)
        _fill_product(product, row, media_dir)
        variant = variants.get(row.sku)
        if variant is None:
            variant = variants[row.sku] = Variant(sku=row.sku)
            product.variants.append(variant)
            report.variants_created += 1
        else:
            variant.product = product
            report.variants_updated += 1
        variant.color, variant.size, variant.price = row.color, row.size, row.price
        variant.currency, variant.stock = row.currency, row.stock
        progress(1)
    bump_catalog_version(session)
    session.flush()
    return report


def _fill_product(product: Product, row: CatalogRow, media_dir: Path) -> None:
    product.name_en, product.name_zh = row.name_en, row.name_zh
    product.description_en, product.description_zh = row.description_en, row.description_zh
    product.category_en, product.category_zh = row.category_en, row.category_zh
    product.brand, product.tags, product.active = row.brand, row.tags, True
    product.image = _store_image(row, media_dir)


def _store_image(row: CatalogRow, media_dir: Path) -> str:
    """The product's picture: a published copy, a web address kept as is, or none."""
    if row._picture is None:
        return row.image
    try:
        return publish(row._picture, media_dir)
    except ImageProblem as problem:
        raise CatalogError([("image", f"{row.image}: {problem}")]) from None


def file_vocabulary(path: Path) -> tuple[list[tuple[str, str]], list[str], list[str]]:
    """Categories, brands and product names of a catalog file, for NLU without a database."""
    rows = read_catalog(path)
    categories = sorted({(r.category_en, r.category_zh) for r in rows})
    names = sorted({name for r in rows for name in (r.name_en, r.name_zh)})
    return categories, sorted({r.brand for r in rows if r.brand}), names
