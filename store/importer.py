"""Catalog import from CSV (one row per SKU) or JSON (products with nested variants).

Every row is validated first; one bad row means nothing is imported and every problem is
reported with its line (CSV) or item path (JSON). Re-importing updates products by code and
variants by SKU."""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from store.catalog import bump_catalog_version
from store.lexicon import lexicon
from store.models import Product, Variant

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


def read_catalog(path: Path, default_currency: str = "CNY") -> list[CatalogRow]:
    """Parse and validate a whole file, or raise CatalogError listing every bad row."""
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
        local_image = row.image and not row.image.startswith(("http://", "https://"))
        if local_image and not (path.parent / row.image).is_file():
            problems.append((where, f"image file not found: {row.image}"))
            continue
        seen[row.sku] = where
        rows.append(row)
    if not raw:
        problems.append(("file", "no products found"))
    if problems:
        raise CatalogError(problems)
    return rows


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
    source_dir: Path,
    media_dir: Path,
    progress: Callable[[int], None] = lambda n: None,
) -> ImportReport:
    """Upsert validated rows in the caller's transaction and copy local images to media."""
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
        _fill_product(product, row, source_dir, media_dir)
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


def _fill_product(product: Product, row: CatalogRow, source_dir: Path, media_dir: Path) -> None:
    product.name_en, product.name_zh = row.name_en, row.name_zh
    product.description_en, product.description_zh = row.description_en, row.description_zh
    product.category_en, product.category_zh = row.category_en, row.category_zh
    product.brand, product.tags, product.active = row.brand, row.tags, True
    product.image = _store_image(row.image, source_dir, media_dir)


def _store_image(image: str, source_dir: Path, media_dir: Path) -> str:
    if not image or image.startswith(("http://", "https://")):
        return image
    target = media_dir / "catalog" / Path(image).name
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists() or target.stat().st_size != (source_dir / image).stat().st_size:
        shutil.copyfile(source_dir / image, target)
    return f"catalog/{target.name}"


def file_vocabulary(path: Path) -> tuple[list[tuple[str, str]], list[str], list[str]]:
    """Categories, brands and product names of a catalog file, for NLU without a database."""
    rows = read_catalog(path)
    categories = sorted({(r.category_en, r.category_zh) for r in rows})
    names = sorted({name for r in rows for name in (r.name_en, r.name_zh)})
    return categories, sorted({r.brand for r in rows if r.brand}), names
