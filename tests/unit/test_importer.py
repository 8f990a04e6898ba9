"""Catalog import: all-or-nothing validation with line numbers, re-import by SKU."""

import io
import json
from pathlib import Path

import pytest
from PIL import Image
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
        import_rows(uow.session, read_catalog(write(tmp_path, GOOD)), tmp_path / "media")
        uow.commit()
    changed = GOOD.replace("59.90", "49.90").replace(",4,", ",9,").replace("New Tee", "Newer Tee")
    with UnitOfWork(sessions) as uow:
        report = import_rows(
            uow.session, read_catalog(write(tmp_path, changed)), tmp_path / "media"
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
    content = picture(tmp_path / "img.png")
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
        import_rows(uow.session, read_catalog(path), tmp_path / "media")
        uow.commit()
        product = uow.session.scalars(select(Product).filter_by(code="J-1")).one()
        assert product.image.startswith("catalog/") and product.image.endswith(".png")
        assert (tmp_path / "media" / product.image).read_bytes() == content


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


# --- pictures: only real pictures from inside the catalog's folder are published -----------


def picture(path: Path, color: str = "red", fmt: str = "PNG") -> bytes:
    """Writes a small real picture to `path` and returns its bytes."""
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buffer, fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())
    return buffer.getvalue()


def row_with_image(image: str, code: str = "NEW-1") -> str:
    return f"{code},{code}-RED-S,New Tee,新T恤,,,T-shirts,T恤,Lumi,红色,S,59.90,CNY,4,{image},"


def published(media: Path) -> list[Path]:
    return sorted(p for p in media.rglob("*") if p.is_file()) if media.exists() else []


def refused(catalog: Path, media: Path) -> list[tuple[str, str]]:
    """Reads and imports `catalog` like the CLI; returns the problems it was refused with."""
    with pytest.raises(CatalogError) as error:
        read_catalog(catalog)
    assert published(media) == []
    return error.value.problems


@pytest.fixture
def shop_folder(tmp_path: Path) -> Path:
    """The merchant's catalog folder; secrets live beside it, outside it."""
    (tmp_path / "secret.env").write_text("SANDBOX_SECRET=do-not-publish\n", "utf-8")
    picture(tmp_path / "outside.png")  # a real picture, but not in the catalog's folder
    folder = tmp_path / "shop"
    folder.mkdir()
    return folder


@pytest.mark.parametrize(
    "image",
    [
        "/etc/passwd",
        "{outside}/secret.env",
        "{outside}/outside.png",
        "../secret.env",
        "../outside.png",
        "images/../../secret.env",
        "images/link.png",  # a symlink that leads out of the folder to a real picture
    ],
)
def test_a_picture_outside_the_catalog_folder_is_refused_and_nothing_is_published(
    shop_folder: Path, tmp_path: Path, image: str
) -> None:
    (shop_folder / "images").mkdir()
    (shop_folder / "images" / "link.png").symlink_to(tmp_path / "outside.png")
    catalog = write(shop_folder, GOOD, row_with_image(image.format(outside=tmp_path), "NEW-2"))
    problems = refused(catalog, tmp_path / "media")
    assert [where for where, _ in problems] == ["line 3"]
    assert "catalog's folder" in problems[0][1]


def test_a_json_catalog_names_the_item_whose_picture_is_refused(shop_folder: Path) -> None:
    data = {
        "products": [
            {
                "code": "J-1",
                "name_en": "Mug",
                "name_zh": "马克杯",
                "category_en": "Home",
                "category_zh": "家居",
                "image": "../secret.env",
                "variants": [{"sku": "J-1-WHT", "price": "39", "stock": 3}],
            }
        ]
    }
    catalog = shop_folder / "c.json"
    catalog.write_text(json.dumps(data), "utf-8")
    problems = refused(catalog, shop_folder.parent / "media")
    assert problems[0][0] == "products[0].variants[0]" and ".." in problems[0][1]


@pytest.mark.parametrize(
    "content",
    [
        b"SANDBOX_SECRET=do-not-publish\n",  # a text file renamed .png
        b"\x89PNG\r\n\x1a\n<script>alert(1)</script>",  # a picture's first bytes, then not
        b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>",  # SVG can run script
    ],
)
def test_a_file_that_is_not_a_picture_is_refused(
    shop_folder: Path, tmp_path: Path, content: bytes
) -> None:
    (shop_folder / "tee.png").write_bytes(content)
    problems = refused(write(shop_folder, row_with_image("tee.png")), tmp_path / "media")
    assert problems == [("line 2", "image tee.png: not a PNG, JPEG, GIF or WebP picture")]


def test_a_picture_larger_than_5_mb_is_refused(shop_folder: Path, tmp_path: Path) -> None:
    big = picture(shop_folder / "big.png") + b"\0" * (5 * 1024 * 1024)
    (shop_folder / "big.png").write_bytes(big)
    problems = refused(write(shop_folder, row_with_image("big.png")), tmp_path / "media")
    assert problems == [("line 2", "image big.png: larger than 5 MB")]


def test_same_named_pictures_in_two_folders_are_both_published(
    shop_folder: Path, tmp_path: Path, sessions
) -> None:
    red = picture(shop_folder / "tees" / "image.png", "red")
    blue = picture(shop_folder / "mugs" / "image.png", "blue")
    catalog = write(
        shop_folder,
        row_with_image("tees/image.png", "NEW-1"),
        row_with_image("mugs/image.png", "NEW-2"),
    )
    media = tmp_path / "media"
    with UnitOfWork(sessions) as uow:
        import_rows(uow.session, read_catalog(catalog), media)
        uow.commit()
        images = {p.code: p.image for p in uow.session.scalars(select(Product))}
    assert (media / images["NEW-1"]).read_bytes() == red
    assert (media / images["NEW-2"]).read_bytes() == blue


def test_a_picture_is_published_with_the_extension_of_what_it_really_is(
    shop_folder: Path, tmp_path: Path, sessions
) -> None:
    photo = picture(shop_folder / "photo.png", fmt="JPEG")  # a JPEG named .png
    with UnitOfWork(sessions) as uow:
        import_rows(
            uow.session,
            read_catalog(write(shop_folder, row_with_image("photo.png"))),
            tmp_path / "media",
        )
        uow.commit()
        image = uow.session.scalars(select(Product).filter_by(code="NEW-1")).one().image
    assert image.endswith(".jpg") and (tmp_path / "media" / image).read_bytes() == photo


def test_reimporting_publishes_each_picture_once_under_the_same_name(
    shop_folder: Path, tmp_path: Path, sessions
) -> None:
    picture(shop_folder / "tee.png")
    catalog = write(shop_folder, row_with_image("tee.png"), row_with_image("./tee.png", "NEW-2"))
    media = tmp_path / "media"
    names = []
    for _ in range(2):
        with UnitOfWork(sessions) as uow:
            import_rows(uow.session, read_catalog(catalog), media)
            uow.commit()
            names.append({p.code: p.image for p in uow.session.scalars(select(Product))})
    assert names[0] == names[1] and names[0]["NEW-1"] == names[0]["NEW-2"]
    assert len(published(media)) == 1


def test_a_remote_picture_is_kept_as_a_link_without_fetching(tmp_path: Path, sessions) -> None:
    url = "https://images.example.com/tee.png"
    with UnitOfWork(sessions) as uow:
        import_rows(uow.session, read_catalog(write(tmp_path, row_with_image(url))), tmp_path / "m")
        uow.commit()
        assert uow.session.scalars(select(Product).filter_by(code="NEW-1")).one().image == url
    assert published(tmp_path / "m") == []


@pytest.mark.parametrize(
    "image",
    [
        "file:///etc/passwd",
        "ftp://example.com/a.png",
        "https:///a.png",
        "http://[::1/a.png",
        "data:image/svg+xml;utf8;<svg/onload=alert(1)>",
        "\\\\server\\share\\a.png",
        "images/\x00.png",
    ],
)
def test_a_picture_address_that_is_not_http_is_refused(tmp_path: Path, image: str) -> None:
    problems = refused(write(tmp_path, row_with_image(image)), tmp_path / "media")
    assert problems[0][0] == "line 2" and image in problems[0][1]
