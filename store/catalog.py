"""Catalog reads and the catalog version that tells caches to rebuild."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store.errors import DomainError, ErrorCode
from store.models import MAX_ID, Meta, Product, Variant

_VERSION_KEY = "catalog_version"


@dataclass(frozen=True)
class Category:
    en: str
    zh: str
    products: int


def product_by_id(session: Session, product_id: int) -> Product:
    product = session.get(Product, product_id) if 0 < product_id <= MAX_ID else None
    if product is None or not product.active:
        raise DomainError(ErrorCode.UNKNOWN_PRODUCT)
    return product


def variant_by_sku(session: Session, sku: str) -> Variant:
    variant = session.scalars(select(Variant).filter_by(sku=(sku or "").strip().upper())).first()
    if variant is None or not variant.product.active:
        raise DomainError(ErrorCode.UNKNOWN_SKU, sku=(sku or "")[:40])
    return variant


def categories(session: Session) -> list[Category]:
    rows = session.execute(
        select(Product.category_en, Product.category_zh, func.count())
        .where(Product.active)
        .group_by(Product.category_en, Product.category_zh)
        .order_by(Product.category_en)
    )
    return [Category(en, zh, n) for en, zh, n in rows]


def brands(session: Session) -> list[str]:
    query = select(Product.brand).where(Product.active, Product.brand != "").distinct()
    return sorted(session.scalars(query))


def product_names(session: Session) -> list[str]:
    rows = session.execute(select(Product.name_en, Product.name_zh).where(Product.active))
    return [name for pair in rows for name in pair]


def product_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Product)) or 0


def catalog_version(session: Session) -> int:
    row = session.get(Meta, _VERSION_KEY)
    return int(row.value) if row else 0


def bump_catalog_version(session: Session) -> None:
    row = session.get(Meta, _VERSION_KEY)
    if row is None:
        session.add(Meta(key=_VERSION_KEY, value="1"))
    else:
        row.value = str(int(row.value) + 1)
