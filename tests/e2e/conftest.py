"""A real storefront server on a free local port, for tests that speak HTTP."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, settings

from bot.bootstrap import App, bootstrap
from bot.config import Settings
from bot.server import create_app
from tests.conftest import free_port, serve_in_thread


@dataclass
class LiveShop:
    url: str
    app: App


def sample_shop_settings(sample_db: Path, data_dir: Path, port: int, **more) -> Settings:
    """Settings for a shop of its own in `data_dir`: a copy of the sample database and media."""
    shutil.copyfile(sample_db, data_dir / "chatshop.db")
    shutil.copytree(sample_db.parent / "media", data_dir / "media", dirs_exist_ok=True)
    return Settings(
        database_url=f"sqlite:///{data_dir}/chatshop.db",
        data_dir=str(data_dir),
        port=port,
        dispatch_interval_s=0.2,
        **{"sandbox_secret": "e2e-secret", "sandbox_payments": True, **more},
    )


@pytest.fixture
def live_shop(sample_db: Path, tmp_path: Path, interpreter) -> Iterator[LiveShop]:
    port = free_port()
    settings = sample_shop_settings(sample_db, tmp_path, port)
    app = bootstrap(settings, interpreter)
    app.refresh_catalog()
    with serve_in_thread(create_app(app), port) as url:
        yield LiveShop(url, app)
    app.engine.dispose()


class WebChatCustomer:
    """Talks to the web chat's HTTP API exactly as the page does."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=10)
        self.http.post("/chat/api/session").raise_for_status()  # the cookie the page gets
        self.last_id = 0

    def send(self, text: str | None = None, payload: str | None = None) -> list[dict]:
        body = {
            "client_id": uuid.uuid4().hex,
            "text": text,
            "payload": payload,
        }
        response = self.http.post("/chat/api/messages", json=body)
        response.raise_for_status()
        messages = response.json()["messages"]
        self.last_id = max([self.last_id] + [m["id"] for m in messages])
        return [m for m in messages if m["direction"] == "out"]

    def poll(self) -> list[dict]:
        response = self.http.get("/chat/api/messages", params={"after": self.last_id})
        response.raise_for_status()
        messages = response.json()["messages"]
        self.last_id = max([self.last_id] + [m["id"] for m in messages])
        return messages

    def wait_for_push(self, contains: str, seconds: float = 15) -> dict:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for message in self.poll():
                if contains in message["text"]:
                    return message
            time.sleep(0.2)
        raise AssertionError(f"no pushed message containing {contains!r}")


def wait_until(condition: Callable[[], object], what: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def run_chatshop(
    data_dir: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The `chatshop` command with its data (and SQLite database) in `data_dir`."""
    env = {
        **os.environ,
        "CHATSHOP_DATABASE_URL": f"sqlite:///{data_dir}/shop.db",
        "CHATSHOP_DATA_DIR": str(data_dir),
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


# ---- fuzzing: examples per surface, and every traceback the server logs ------------------

EXAMPLES = int(os.environ.get("CHATSHOP_FUZZ_EXAMPLES", "2500"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same inputs on every run: CI failures reproduce
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
UNLIMITED = {
    "rate_limit_ip": "1000000/second",
    "rate_limit_messages": "1000000/second",
    "rate_limit_polls": "1000000/second",
}


class Tracebacks(logging.Handler):
    """Every log record that carries a traceback (or is critical), from any logger of the
    server. A one-line ERROR summary is allowed: an authenticated payment message that cannot
    be read, say, is the merchant's to look at."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info or record.stack_info or record.levelno >= logging.CRITICAL:
            self.records.append(record)


@pytest.fixture(scope="module")
def tracebacks() -> Iterator[Tracebacks]:
    handler = Tracebacks()
    logging.getLogger().addHandler(handler)
    yield handler
    logging.getLogger().removeHandler(handler)


def no_errors(tracebacks: Tracebacks) -> None:
    found = [f"{r.name}: {r.getMessage()[:200]}" for r in tracebacks.records]
    tracebacks.records.clear()
    assert found == []
