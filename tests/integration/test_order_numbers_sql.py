"""The order number tests again, on a real SQLite file and on PostgreSQL (where a clash
must roll back only a savepoint, not the transaction holding the stock locks)."""

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from store import carts, order_numbers, orders
from store.db import make_engine, make_session_factory
from store.migrate import upgrade
from store.models import Order, Variant, utcnow
from store.uow import UnitOfWork
from tests.conftest import FIXTURES, PG_URL, load_catalog, new_customer, reset_postgres
from tests.unit.test_order_numbers import *  # noqa: F403 — the same suite, re-run here
from tests.unit.test_order_numbers import SHIP


@pytest.fixture
def sessions(sql_sessions):
    return sql_sessions


@pytest.fixture
def pg_sessions(tmp_path):
    if not PG_URL:
        pytest.skip("CHATSHOP_TEST_DATABASE_URL is not set")
    reset_postgres(PG_URL)
    upgrade(PG_URL)
    engine = make_engine(PG_URL)
    factory = make_session_factory(engine)
    load_catalog(factory, FIXTURES / "small_catalog.csv", tmp_path / "media")
    yield factory
    engine.dispose()


@pytest.mark.postgres
def test_two_checkouts_drawing_the_same_number_at_once_both_get_their_order(
    pg_sessions, monkeypatch
) -> None:
    # given checkout "a" has inserted its order under a number and not committed yet,
    # when checkout "b" draws the same number (its insert waits on a's unique key),
    # then b draws again inside its own transaction and keeps the stock it reserved
    a_inserted, b_drew = threading.Event(), threading.Event()
    draws = {"a": iter(["CS261129AAAAA"]), "b": iter(["CS261129AAAAA", "CS261129BBBBB"])}

    def new_number(now) -> str:
        who = threading.current_thread().name
        if who == "b":
            b_drew.set()
        return next(draws[who])

    monkeypatch.setattr(order_numbers, "new_number", new_number)
    buyers = {"a": new_customer(pg_sessions), "b": new_customer(pg_sessions)}
    skus = {"a": "TEE-1-RED-M", "b": "BAG-1-BLK"}
    placed: dict[str, str] = {}

    def checkout(who: str) -> None:
        if who == "b":
            assert a_inserted.wait(30)
        with UnitOfWork(pg_sessions) as uow:
            carts.add_to_cart(uow.session, buyers[who], skus[who], 1)
            order = orders.place_order(
                uow.session, orders.Recipient(buyers[who], None, "en"), SHIP, utcnow(),
                timedelta(minutes=30),
            )  # fmt: skip
            if who == "a":
                a_inserted.set()
                assert b_drew.wait(30)
            uow.commit()
            placed[who] = order.number

    threads = [threading.Thread(target=checkout, args=(w,), name=w) for w in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert placed == {"a": "CS261129AAAAA", "b": "CS261129BBBBB"}
    with UnitOfWork(pg_sessions) as uow:
        assert uow.session.scalars(select(Variant.stock).filter_by(sku="BAG-1-BLK")).one() == 0
        assert uow.session.scalar(select(func.count()).select_from(Order)) == 2
