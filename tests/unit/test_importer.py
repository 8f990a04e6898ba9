"""Catalog import: all-or-nothing validation with line numbers, re-import by SKU."""

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from store.importer import CatalogError, import_rows, read_catalog
from store.models import Product, Variant
from store.uow import UnitOfWork
from tests.conftest import FIXTURES

HEADER = (FIXTURES / "small_catalog.csv").read_text("utf-8").splitlines()[0]


def write(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "catalog.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", "utf-8")
    return path


GOOD = "NEW-1,NEW-1-RED-S,New Tee,新T恤,,,T-shirts,T恤,Lumi,红色,S,59.90,CNY,4,,"


def test_a_bad_row_means_nothing_is_imported_and_every_problem_is_reported(
    tmp_path, sessions
) -> None:
    path = write(
        tmp_path,
        GOOD,
        "NEW-2,NEW-2-BLK-S,Bad Price,坏价格,,,T-shirts,T恤,Lumi,black,S,twelve,CNY,4,,",
        "NEW-3,NEW-1-RED-S,Dupe,重复,,,T-shirts,T恤,Lumi,black,S,10.00,CNY,-3,,",
        "NEW-4,,No Sku,无SKU,,,T-shirts,T恤,Lumi,black,S,10.00,CNY,1,missing.png,",
    )
    with pytest.raises(CatalogError) as error:
        read_catalog(path)
    where = [w for w, _ in error.value.problems]
    assert "line 3" in where and "line 4" in where and "line 5" in where and "line 2" not in where
    assert any("price" in what for w, what in error.value.problems if w == "line 3")
    with UnitOfWork(sessions) as uow:
        assert (
            uow.session.scalar(select(func.count()).select_from(Product).filter_by(code="NEW-1"))
            == 0
        )


def test_reimport_updates_by_sku(tmp_path, sessions) -> None:
    with UnitOfWork(sessions) as uow:
        import_rows(uow.session, read_catalog(write(tmp_path, GOOD)), tmp_path, tmp_path / "media")
        uow.commit()
    changed = GOOD.replace("59.90", "49.90").replace(",4,", ",9,").replace("New Tee", "Newer Tee")
    with UnitOfWork(sessions) as uow:
        report = import_rows(
            uow.session, read_catalog(write(tmp_path, changed)), tmp_path, tmp_path / "media"
        )
        uow.commit()
    assert (report.products_updated, report.variants_updated, report.variants_created) == (1, 1, 0)
    with UnitOfWork(sessions) as uow:
        variant = uow.session.scalars(select(Variant).filter_by(sku="NEW-1-RED-S")).one()
        assert (variant.price, variant.stock, variant.color, variant.product.name_en) == (
            4990,
            9,
            "red",
            "Newer Tee",
        )


def test_json_catalog_with_nested_variants_and_images(tmp_path, sessions) -> None:
    (tmp_path / "img.png").write_bytes(b"\x89PNG fake")
    data = {
        "products": [
            {
                "code": "J-1",
                "name_en": "Mug",
                "name_zh": "马克杯",
                "category_en": "Home",
                "category_zh": "家居",
                "image": "img.png",
                "variants": [{"sku": "J-1-WHT", "color": "white", "price": "39", "stock": 3}],
            }
        ]
    }
    path = tmp_path / "c.json"
    path.write_text(json.dumps(data), "utf-8")
    with UnitOfWork(sessions) as uow:
        import_rows(uow.session, read_catalog(path), tmp_path, tmp_path / "media")
        uow.commit()
        product = uow.session.scalars(select(Product).filter_by(code="J-1")).one()
        assert product.image == "catalog/img.png" and (tmp_path / "media/catalog/img.png").exists()


def test_unreadable_file_is_reported(tmp_path) -> None:
    path = tmp_path / "broken.json"
    path.write_text("{not json", "utf-8")
    with pytest.raises(CatalogError) as error:
        read_catalog(path)
    assert error.value.problems[0][0] == "file"


def test_the_bundled_sample_catalog_is_valid_and_big_enough() -> None:
    rows = read_catalog(FIXTURES.parent.parent / "store" / "sample" / "catalog.json")
    products = {r.product_code for r in rows}
    categories = {r.category_en for r in rows}
    assert len(products) >= 200 and len(categories) >= 8
    assert all(r.name_zh and r.name_en and r.image for r in rows)
