"""Stock is taken by one atomic, conditional UPDATE, so the last unit is sold once.

On SQLite every transaction starts with BEGIN IMMEDIATE, which serialises writers: a
read-then-write reservation would still be correct there, so no race can show it. What both
databases can show is the statements a reservation sends; PostgreSQL also shows the race itself,
played out in a fixed order: one checkout holds the last unit, the other waits on its row lock.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from store import stock
from store.db import make_engine, make_session_factory
from store.migrate import upgrade
from store.models import Variant
from store.uow import UnitOfWork
from tests.conftest import FIXTURES, load_catalog, reset_postgres

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
def pg_sessions(pg_url: str, tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    reset_postgres(pg_url)
    upgrade(pg_url)
    engine = make_engine(pg_url)
    factory = make_session_factory(engine)
    load_catalog(factory, FIXTURES / "small_catalog.csv", tmp_path / "media")
    with UnitOfWork(factory) as uow:
        uow.session.execute(update(Variant).filter_by(sku=SKU).values(stock=1))
        uow.commit()
    yield factory
    engine.dispose()


class SecondCheckout(threading.Thread):
    """Reserves one unit in its own transaction and commits, on its own connection."""

    def __init__(self, sessions: sessionmaker[Session], target: int) -> None:
        super().__init__(daemon=True)
        self.sessions, self.target = sessions, target
        self.pid: int | None = None
        self.outcome: bool | None = None
        self.connected = threading.Event()

    def run(self) -> None:
        with UnitOfWork(self.sessions) as uow:
            self.pid = uow.session.scalar(text("SELECT pg_backend_pid()"))
            self.connected.set()
            self.outcome = stock.reserve(uow.session, self.target, 1)
            uow.commit()

    def wait_until_blocked_or_done(self, seconds: float = 60) -> None:
        """Until PostgreSQL reports this checkout waiting for a lock (or it has finished)."""
        assert self.connected.wait(seconds)
        engine = self.sessions.kw["bind"]
        query = text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid")
        deadline = time.monotonic() + seconds
        with engine.connect() as conn:
            while self.is_alive() and conn.scalar(query, {"pid": self.pid}) != "Lock":
                assert time.monotonic() < deadline, "the second checkout neither waited nor ended"
                time.sleep(0.02)


def race_for_the_last_unit(sessions: sessionmaker[Session], first_commits: bool) -> bool | None:
    """The first checkout takes the last unit and keeps its transaction open; the second one
    asks for it and must wait; then the first commits (or gives up). The second's outcome."""
    target = variant_id(sessions)
    with UnitOfWork(sessions) as first:
        assert stock.reserve(first.session, target, 1)
        second = SecondCheckout(sessions, target)
        second.start()
        second.wait_until_blocked_or_done()
        if first_commits:
            first.commit()
    second.join(60)
    assert not second.is_alive()
    return second.outcome


def test_a_checkout_waiting_for_the_last_unit_is_refused_once_the_other_commits(
    pg_sessions,
) -> None:
    assert race_for_the_last_unit(pg_sessions, first_commits=True) is False
    assert units_left(pg_sessions) == 0


def test_a_checkout_waiting_for_the_last_unit_gets_it_when_the_other_gives_up(
    pg_sessions,
) -> None:
    assert race_for_the_last_unit(pg_sessions, first_commits=False) is True
    assert units_left(pg_sessions) == 0
