"""Stock is taken by one atomic, conditional UPDATE, so the last unit is sold once.

On SQLite every transaction starts with BEGIN IMMEDIATE, which serialises writers: a
read-then-write reservation would still be correct there, so no race can show it. What both
databases can show is the statements a reservation sends; PostgreSQL also shows the race itself,
played out in a fixed order: one checkout holds the last unit, the other waits on its row lock.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import Engine, event, select, update
from sqlalchemy.orm import Session, sessionmaker

from store import stock
from store.models import Variant
from store.uow import UnitOfWork
from tests.integration.contention import Contender

SKU = "RUN-1-BLK-42"  # 10 in the small catalog


def variant_id(sessions: sessionmaker[Session]) -> int:
    with UnitOfWork(sessions) as uow:
        return uow.session.scalars(select(Variant.id).filter_by(sku=SKU)).one()


def units_left(sessions: sessionmaker[Session]) -> int:
    with UnitOfWork(sessions) as uow:
        return uow.session.scalars(select(Variant.stock).filter_by(sku=SKU)).one()


def statements_on_variants(sessions: sessionmaker[Session], quantity: int) -> tuple[bool, list]:
    """Reserve `quantity` and commit; what reserve() answered and every SQL statement that
    touched the variants table from the transaction's start to its commit."""
    engine: Engine = sessions.kw["bind"]
    seen: list[str] = []

    def record(_conn, _cursor, statement, _params, _context, _many) -> None:
        seen.append(" ".join(statement.split()))

    target = variant_id(sessions)
    event.listen(engine, "before_cursor_execute", record)
    try:
        with UnitOfWork(sessions) as uow:
            taken = stock.reserve(uow.session, target, quantity)
            uow.commit()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return taken, [s for s in seen if re.search(r"\bvariants\b", s, re.IGNORECASE)]


def assert_one_conditional_update(statements: list[str]) -> None:
    # A read (SELECT, ORM load, SELECT ... FOR UPDATE) followed by a write is two statements.
    assert len(statements) == 1, statements
    [sql] = statements
    assert re.match(r"UPDATE variants SET stock\s*=\s*\(?\s*variants\.stock\s*-", sql), sql
    assert re.search(r"WHERE .*variants\.stock >= ", sql), sql


def test_a_reservation_is_one_update_that_checks_and_takes_the_stock(sql_sessions) -> None:
    taken, statements = statements_on_variants(sql_sessions, 3)
    assert taken and units_left(sql_sessions) == 7
    assert_one_conditional_update(statements)


def test_a_refused_reservation_is_the_same_one_update_and_takes_nothing(sql_sessions) -> None:
    taken, statements = statements_on_variants(sql_sessions, 11)
    assert not taken and units_left(sql_sessions) == 10
    assert_one_conditional_update(statements)


# --- PostgreSQL: two checkouts for the last unit, in a fixed order -------------------------


@pytest.fixture
def last_unit(pg_sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    with UnitOfWork(pg_sessions) as uow:
        uow.session.execute(update(Variant).filter_by(sku=SKU).values(stock=1))
        uow.commit()
    return pg_sessions


def race_for_the_last_unit(sessions: sessionmaker[Session], first_commits: bool) -> bool:
    """The first checkout takes the last unit and keeps its transaction open; the second one
    asks for it and must wait; then the first commits (or gives up). The second's outcome."""
    target = variant_id(sessions)
    with UnitOfWork(sessions) as first:
        assert stock.reserve(first.session, target, 1)
        second = Contender(sessions, lambda session: stock.reserve(session, target, 1))
        second.start_and_wait_until_blocked()
        if first_commits:
            first.commit()
    return second.result()


def test_a_checkout_waiting_for_the_last_unit_is_refused_once_the_other_commits(
    last_unit,
) -> None:
    assert race_for_the_last_unit(last_unit, first_commits=True) is False
    assert units_left(last_unit) == 0


def test_a_checkout_waiting_for_the_last_unit_gets_it_when_the_other_gives_up(
    last_unit,
) -> None:
    assert race_for_the_last_unit(last_unit, first_commits=False) is True
    assert units_left(last_unit) == 0
