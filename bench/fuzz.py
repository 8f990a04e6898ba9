"""Hostile inputs against a live `chatshop serve`, per surface: the web chat API, the Telegram
webhook, the WeChat webhook, and the sandbox and WeChat Pay notification endpoints. The
inputs come from tests/fuzzing.py (a seeded Random), so a run can be repeated exactly.

Per surface and database it prints one JSON line: inputs sent, answers of 500 or more,
tracebacks in the server's log, answers slower than 5 s, server restarts (the process died
and was started again), and inputs per second. The goal is 0, 0, 0, 0.

    python bench/fuzz.py [--n 100000] [--db-url postgresql+psycopg://...] [--surfaces chat,...]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != HERE]

from tests import fuzzing  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.fakes.telegram import running_fake_telegram  # noqa: E402
from tests.fakes.wechat import running_fake_wechat  # noqa: E402
from tests.fakes.wechat_pay import pay_signature, running_fake_wechat_pay, to_xml  # noqa: E402

SECRET = "fuzz-webhook-secret-0123456789"
SANDBOX_SECRET = "fuzz-sandbox-secret"
SURFACES = ("chat", "telegram", "wechat", "sandbox_notify", "wechatpay_notify")
SLOW_S = 5.0
CONCURRENCY = 8


@dataclass
class Tally:
    inputs: int = 0
    server_errors: int = 0
    slow: int = 0
    failed_requests: int = 0  # no answer at all (connection refused or reset)
    max_ms: float = 0.0


class Shop:
    """`chatshop serve` in a subprocess, started again if it dies; its log kept in a file."""

    def __init__(self, env: dict[str, str], data_dir: Path) -> None:
        self.env, self.data_dir, self.restarts = env, data_dir, 0
        self.log = data_dir / "server.log"
        self.url = f"http://127.0.0.1:{env['CHATSHOP_PORT']}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "serve"],
                env=self.env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log,
            )  # fmt: skip
        deadline = time.monotonic() + 120
        while not self._healthy():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                tail = self.log.read_text("utf-8", "replace")[-2000:]
                raise RuntimeError(f"the shop did not start:\n{tail}")
            time.sleep(0.3)

    def _healthy(self) -> bool:
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(self.url + "/healthz", timeout=2).is_success
        return False

    def ensure_running(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            self.restarts += 1
            self.start()

    def tracebacks(self) -> int:
        return self.log.read_text("utf-8", "replace").count("Traceback")

    def show_tracebacks(self, skip: int, limit: int = 3) -> None:
        """The first new tracebacks' last lines, on stderr, to say what broke."""
        parts = self.log.read_text("utf-8", "replace").split("Traceback")[1 + skip :]
        for part in parts[:limit]:
            print("Traceback" + "\n".join(part.splitlines()[-12:]), file=sys.stderr)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


async def hammer(make: Callable[[random.Random], httpx.Request], n: int, seed: int) -> Tally:
    tally, r = Tally(), random.Random(seed)
    requests = (make(r) for _ in range(n))
    async with httpx.AsyncClient(timeout=30) as http:

        async def worker() -> None:
            for request in requests:
                began = time.monotonic()
                try:
                    answer = await http.send(request)
                    tally.server_errors += answer.status_code >= 500
                except httpx.TransportError:
                    tally.failed_requests += 1
                took = time.monotonic() - began
                tally.inputs += 1
                tally.slow += took > SLOW_S
                tally.max_ms = max(tally.max_ms, took * 1000)

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return tally


def surface_requests(
    name: str, shop: Shop, fakes: dict
) -> Callable[[random.Random], httpx.Request]:
    """How to build one fuzzed request to this surface."""
    if name == "chat":
        cookies = [httpx.post(shop.url + "/chat/api/session").cookies for _ in range(8)]

        def chat(r: random.Random) -> httpx.Request:
            make = fuzzing.chat_message if r.random() < 0.7 else fuzzing.chat_history
            req = make(r)
            return httpx.Request(
                req.method, shop.url + req.path, content=req.body or None, headers=req.headers,
                params=req.params, cookies=r.choice(cookies),
            )  # fmt: skip

        return chat
    if name == "telegram":
        ids = iter(range(1_000_000, 10**9))

        def telegram(r: random.Random) -> httpx.Request:
            body = fuzzing.telegram_update(r, next(ids))
            headers = {
                "X-Telegram-Bot-Api-Secret-Token": SECRET,
                "content-type": "application/json",
            }
            return httpx.Request(
                "POST", shop.url + "/webhooks/telegram", content=body, headers=headers
            )

        return telegram
    if name == "wechat":
        wechat = fakes["wechat"]

        def push(r: random.Random) -> httpx.Request:
            xml = fuzzing.wechat_push(r, wechat.app_id).encode("utf-8", "surrogatepass")
            return httpx.Request(
                "POST", shop.url + "/webhooks/wechat", params=wechat.signed_params(), content=xml
            )

        return push
    if name == "sandbox_notify":
        import hashlib
        import hmac

        def notify(r: random.Random) -> httpx.Request:
            body = fuzzing.sandbox_notification(r, fakes["tokens"], int(time.time()))
            sign = hmac.new(SANDBOX_SECRET.encode(), body, hashlib.sha256).hexdigest()
            headers = {"x-sandbox-signature": sign}
            return httpx.Request(
                "POST", shop.url + "/pay/notify/sandbox", content=body, headers=headers
            )

        return notify
    pay, app_id = fakes["pay"], fakes["wechat"].app_id

    def pay_notify(r: random.Random) -> httpx.Request:
        fields = fuzzing.wechat_pay_notification(r, fakes["tokens"], app_id, pay.mch_id)
        fields["sign"] = pay_signature(fields, pay.api_key, r.choice(["MD5", "HMAC-SHA256"]))
        body = to_xml(fields).encode()
        return httpx.Request("POST", shop.url + "/pay/notify/wechatpay", content=body)

    return pay_notify


@contextlib.contextmanager
def running_shop(db_url: str) -> Iterator[tuple[Shop, dict]]:
    with (
        tempfile.TemporaryDirectory(prefix="chatshop-fuzz-") as tmp,
        running_fake_telegram() as telegram,
        running_fake_wechat() as wechat,
        running_fake_wechat_pay() as pay,
    ):
        data_dir = Path(tmp)
        _pipeline().prepare(db_url, data_dir)  # migrated, sample catalog, ample stock
        env = {**os.environ, **shop_env(db_url, data_dir, telegram, wechat, pay)}
        shop = Shop(env, data_dir)
        shop.start()
        try:
            yield shop, {"telegram": telegram, "wechat": wechat, "pay": pay, "tokens": []}
        finally:
            shop.stop()


def shop_env(db_url: str, data_dir: Path, telegram, wechat, pay) -> dict[str, str]:
    port = free_port()
    unlimited = "1000000/second"
    return {
        "CHATSHOP_DATABASE_URL": db_url,
        "CHATSHOP_DATA_DIR": str(data_dir),
        "CHATSHOP_PORT": str(port),
        "CHATSHOP_LOG_LEVEL": "WARNING",
        "CHATSHOP_SANDBOX_PAYMENTS": "true",
        "CHATSHOP_SANDBOX_SECRET": SANDBOX_SECRET,
        "CHATSHOP_RATE_LIMIT_IP": unlimited,
        "CHATSHOP_RATE_LIMIT_MESSAGES": unlimited,
        "CHATSHOP_RATE_LIMIT_POLLS": unlimited,
        "CHATSHOP_RATE_LIMIT_NEW_SESSIONS": unlimited,
        "TELEGRAM_BOT_TOKEN": telegram.token,
        "TELEGRAM_API_BASE_URL": telegram.url,
        "TELEGRAM_WEBHOOK_URL": f"http://127.0.0.1:{port}/webhooks/telegram",
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "WECHAT_APP_ID": wechat.app_id,
        "WECHAT_APP_SECRET": wechat.app_secret,
        "WECHAT_TOKEN": wechat.token,
        "WECHAT_API_BASE_URL": wechat.url,
        "WECHAT_PAY_MCH_ID": pay.mch_id,
        "WECHAT_PAY_API_KEY": pay.api_key,
        "WECHAT_PAY_API_BASE_URL": pay.url,
    }


def fuzz(db_url: str, label: str, n: int, surfaces: list[str], seed: int) -> None:
    with running_shop(db_url) as (shop, fakes):
        fakes["tokens"] = payment_tokens(db_url)
        for name in surfaces:
            before, began = shop.tracebacks(), time.monotonic()
            make = surface_requests(name, shop, fakes)
            tally = Tally()
            for chunk in range(0, n, 1000):  # a dead server is restarted between chunks
                shop.ensure_running()
                part = asyncio.run(hammer(make, min(1000, n - chunk), seed + chunk))
                merge(tally, part)
            shop.ensure_running()
            print(json.dumps(report(label, name, tally, shop, before, began)), flush=True)
            shop.show_tracebacks(before)


def merge(into: Tally, part: Tally) -> None:
    into.inputs += part.inputs
    into.server_errors += part.server_errors
    into.slow += part.slow
    into.failed_requests += part.failed_requests
    into.max_ms = max(into.max_ms, part.max_ms)


def report(label: str, name: str, tally: Tally, shop: Shop, before: int, began: float) -> dict:
    elapsed = time.monotonic() - began
    return {
        "bench": "fuzz",
        "db": label,
        "surface": name,
        "inputs": tally.inputs,
        "server_errors_5xx": tally.server_errors,
        "tracebacks_in_log": shop.tracebacks() - before,
        "slower_than_5s": tally.slow,
        "server_restarts": shop.restarts,
        "failed_requests": tally.failed_requests,
        "max_ms": round(tally.max_ms, 1),
        "inputs_per_s": round(tally.inputs / elapsed, 1),
    }


def _pipeline():
    import importlib.util

    spec = importlib.util.spec_from_file_location("pipeline", HERE / "pipeline.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def payment_tokens(db_url: str) -> list[str]:
    """Payments for the notification surfaces to name: none exist in a fresh shop, so a few
    tokens of made-up payments stand in, plus whatever the chat surface created."""
    from sqlalchemy import select

    from store.db import make_engine
    from store.models import Payment

    engine = make_engine(db_url)
    with engine.connect() as conn:
        found = list(conn.scalars(select(Payment.token).limit(20)))
    engine.dispose()
    return found or ["A" * 32, "b" * 32]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100_000, help="inputs per surface")
    parser.add_argument("--db-url", help="also run on this PostgreSQL database (it is wiped)")
    parser.add_argument("--surfaces", default=",".join(SURFACES))
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    surfaces = [s for s in args.surfaces.split(",") if s]
    targets = [("sqlite", None)] + ([("postgresql", args.db_url)] if args.db_url else [])
    for label, url in targets:
        with tempfile.TemporaryDirectory() as tmp:
            fuzz(url or f"sqlite:///{tmp}/fuzz.db", label, args.n, surfaces, args.seed)


if __name__ == "__main__":
    main()
