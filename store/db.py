"""Engines and sessions for SQLite (file, WAL) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool


def make_engine(url: str) -> Engine:
    """Build an engine; SQLite gets WAL, a busy timeout and write-serialising transactions.
    Statement parameters (customers' names, phones, addresses) stay out of error messages,
    and so out of the log (hide_parameters)."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if not url.startswith("sqlite"):
        return create_engine(
            url, pool_size=10, max_overflow=20, pool_pre_ping=True, hide_parameters=True
        )
    memory = url in ("sqlite://", "sqlite:///:memory:")
    if not memory:
        Path(url.split("///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30},
        poolclass=StaticPool if memory else None,
        hide_parameters=True,
    )
    _sqlite_immediate_transactions(engine, wal=not memory)
    return engine


def _sqlite_immediate_transactions(engine: Engine, wal: bool) -> None:
    # pysqlite's deferred BEGIN lets two writers both read and then fail to upgrade their
    # lock; BEGIN IMMEDIATE takes the write lock up front so writers queue instead.
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        if wal:
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
