"""Shared fixtures: databases (in-memory, SQLite file, PostgreSQL), catalogs, the NLU."""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from bot.bootstrap import App, bootstrap
from bot.config import Settings
from bot.messages import Inbound, Outbound
from nlu.embedded import EmbeddedInterpreter
from store.db import make_engine, make_session_factory
from store.importer import import_rows, read_catalog
from store.migrate import upgrade
from store.models import Base, Customer, utcnow
from store.pay_methods import PayMethods
from store.payments import SandboxProvider
from store.search import SearchIndex
from store.shop import Shop
from store.uow import UnitOfWork

# The postgres/browser markers, their skips and CI's REQUIRE_ALL check, with the pg_url and
# chromium fixtures.
pytest_plugins = ["tests.markers"]

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).with_name("fixtures")
SAMPLE = ROOT / "store" / "sample" / "catalog.json"
# Prefer the pg_url fixture, which marks the test `postgres` and skips (or fails in CI) for it.
PG_URL = os.environ.get("CHATSHOP_TEST_DATABASE_URL")


def load_catalog(sessions: sessionmaker[Session], path: Path, media: Path) -> None:
    with UnitOfWork(sessions) as uow:
        import_rows(uow.session, read_catalog(path), media)
        uow.commit()


def reset_postgres(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def nlu_cache(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the trained NLU model is kept: pytest's cache when it is on, so the model is
    trained once and reused by later runs until the training data changes (the file name
    is the data's fingerprint), else a directory for this session."""
    cache = getattr(request.config, "cache", None)  # None with -p no:cacheprovider
    return cache.mkdir("nlu-cache") if cache is not None else tmp_path_factory.mktemp("nlu-cache")


@pytest.fixture(scope="session")
def interpreter(nlu_cache: Path) -> EmbeddedInterpreter:
    """The embedded interpreter, trained at most once per session (it takes tens of seconds)."""
    return EmbeddedInterpreter.load_or_train(nlu_cache)


def with_trained_model(data_dir: Path, nlu_cache: Path) -> Path:
    """Give a `chatshop` data dir the session's trained model, so a process started there
    loads it instead of training its own (call after the `interpreter` fixture ran)."""
    shutil.copytree(nlu_cache, data_dir / "nlu-cache", dirs_exist_ok=True)
    return data_dir


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    """A fresh in-memory database with the small catalog."""
    engine = make_engine("sqlite://")
    Base.metadata.create_all(engine)
    factory = make_session_factory(engine)
    load_catalog(factory, FIXTURES / "small_catalog.csv", tmp_path / "media")
    yield factory
    engine.dispose()


@pytest.fixture(scope="session")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file migrated and loaded with the bundled sample catalog, built once."""
    root = tmp_path_factory.mktemp("sample")
    url = f"sqlite:///{root}/template.db"
    upgrade(url)
    engine = make_engine(url)
    load_catalog(make_session_factory(engine), SAMPLE, root / "media")
    engine.dispose()
    return root / "template.db"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database: an SQLite file, then PostgreSQL when configured."""
    if request.param == "postgres":
        url = request.getfixturevalue("pg_url")
        reset_postgres(url)
    else:
        url = f"sqlite:///{tmp_path}/store.db"
    upgrade(url)
    return url


@pytest.fixture
def sql_sessions(store_url: str, tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    """store_url loaded with the small catalog."""
    engine = make_engine(store_url)
    factory = make_session_factory(engine)
    load_catalog(factory, FIXTURES / "small_catalog.csv", tmp_path / "media")
    yield factory
    engine.dispose()


@pytest.fixture
def pg_sessions(pg_url: str, tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    """PostgreSQL alone (for tests of its row locks), migrated, with the small catalog."""
    reset_postgres(pg_url)
    upgrade(pg_url)
    engine = make_engine(pg_url)
    factory = make_session_factory(engine)
    load_catalog(factory, FIXTURES / "small_catalog.csv", tmp_path / "media")
    yield factory
    engine.dispose()


def new_customer(sessions: sessionmaker[Session]) -> int:
    with UnitOfWork(sessions) as uow:
        customer = Customer()
        uow.session.add(customer)
        uow.commit()
        return customer.id


SANDBOX = SandboxProvider(b"test-secret", "http://shop.test")


def make_shop(
    session: Session,
    customer_id: int,
    identity_id: int | None = None,
    pay: PayMethods | None = None,
) -> Shop:
    methods = PayMethods(SANDBOX) if pay is None else pay
    return Shop(
        session, customer_id, identity_id, utcnow(), SearchIndex(), methods, timedelta(minutes=30)
    )


class Customer_:
    """A scripted chat customer talking to the gateway in-process."""

    _ids = itertools.count()

    def __init__(self, app: App, chat_id: str | None = None) -> None:
        self.app = app
        self.chat_id = chat_id or f"cust{next(self._ids):06d}"

    def send(self, text: str = "", payload: str | None = None, **kw: object) -> list[Outbound]:
        inbound = Inbound(
            "web", self.chat_id, f"m{next(self._ids)}", text=text, payload=payload, **kw
        )
        handled = self.app.gateway.handle(inbound)
        return [Outbound.from_dict(m.body) for m in handled.replies]


@pytest.fixture
def demo_app(sample_db: Path, tmp_path: Path, interpreter: EmbeddedInterpreter) -> Iterator[App]:
    """The storefront on a copy of the sample database, as `chatshop demo` builds it."""
    db = tmp_path / "chatshop.db"
    shutil.copyfile(sample_db, db)
    shutil.copytree(sample_db.parent / "media", tmp_path / "media", dirs_exist_ok=True)
    settings = Settings(
        database_url=f"sqlite:///{db}",
        data_dir=str(tmp_path),
        sandbox_secret="s3cret",
        sandbox_payments=True,
    )
    app = bootstrap(settings, interpreter)
    app.refresh_catalog()
    yield app
    app.engine.dispose()


def texts(replies: list[Outbound]) -> str:
    return "\n".join(r.text for r in replies)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_in_thread(asgi_app: Any, port: int, **config: Any) -> Iterator[str]:
    """Run an ASGI app with uvicorn on 127.0.0.1:`port` for the block; yields its base URL.
    `config`: more uvicorn settings (e.g. ssl_certfile and ssl_keyfile)."""
    server = uvicorn.Server(
        # log_config=None: its lines reach the root logger, where tests (and bot.logs) see them
        uvicorn.Config(
            asgi_app, host="127.0.0.1", port=port, log_level="warning", log_config=None, **config
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
