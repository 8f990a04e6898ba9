"""Search over the bundled sample catalog, as every channel sees it."""

import shutil
from pathlib import Path

import pytest

from store.db import make_engine, make_session_factory
from store.models import Product
from store.search import SearchIndex, SearchQuery
from store.uow import UnitOfWork


@pytest.fixture
def session(sample_db: Path, tmp_path: Path):
    db = tmp_path / "s.db"
    shutil.copyfile(sample_db, db)
    engine = make_engine(f"sqlite:///{db}")
    with UnitOfWork(make_session_factory(engine)) as uow:
        yield uow.session
    engine.dispose()


def names(session, query: SearchQuery) -> list[Product]:
    result = SearchIndex().search(session, query)
    return [session.get(Product, pid) for pid in result.product_ids]


def test_chinese_colour_and_type_find_red_t_shirts(session) -> None:
    found = names(session, SearchQuery(text="有没有红色的T恤"))
    assert found
    for p in found:
        assert p.category_en == "T-shirts"
        assert any(v.color == "red" for v in p.variants)


def test_english_query_with_price_cap_finds_only_cheaper_running_shoes(session) -> None:
    found = names(session, SearchQuery(text="running shoes", price_max=50000, page_size=50))
    assert found
    assert all(min(v.price for v in p.variants) <= 50000 for p in found)
    assert "running" in found[0].name_en.lower()


def test_typos_are_forgiven(session) -> None:
    exact = names(session, SearchQuery(text="running shoes"))
    typo = names(session, SearchQuery(text="runing shoos"))
    assert typo and typo[0].id == exact[0].id


def test_synonyms_cross_languages(session) -> None:
    zh = {p.id for p in names(session, SearchQuery(text="黑色 双肩包", page_size=50))}
    en = {p.id for p in names(session, SearchQuery(text="black backpack", page_size=50))}
    assert zh and zh == en


def test_sorting_by_price_orders_cheapest_first(session) -> None:
    found = names(session, SearchQuery(text="T恤", sort="price_asc", page_size=20))
    prices = [min(v.price for v in p.variants) for p in found]
    assert prices == sorted(prices)


def test_paging_walks_through_all_results_without_repeats(session) -> None:
    index = SearchIndex()
    first = index.search(session, SearchQuery(text="shoes", page=1))
    seen = []
    for page in range(1, first.pages + 1):
        seen += index.search(session, SearchQuery(text="shoes", page=page)).product_ids
    assert len(seen) == len(set(seen)) == first.total


def test_category_and_brand_filters(session) -> None:
    bags = names(session, SearchQuery(category="Bags", page_size=100))
    assert bags and all(p.category_en == "Bags" for p in bags)
    brand = bags[0].brand
    branded = names(session, SearchQuery(category="Bags", brand=brand, page_size=100))
    assert branded and all(p.brand == brand for p in branded)


def test_nonsense_finds_nothing(session) -> None:
    assert names(session, SearchQuery(text="qwzxv plorb")) == []
