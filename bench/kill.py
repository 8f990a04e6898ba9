"""Kill test: web and Telegram customers check out and pay in a burst against `chatshop serve`
on PostgreSQL (Telegram in webhook mode against the fake Bot API server), the server is killed
with SIGKILL mid-way and started again, and once everything settled the invariants a merchant
relies on are checked (bench/kill_checks.py): stock equals catalog stock minus open order lines,
every captured payment belongs to exactly one paid order, every web push shows once in the
chat, and each Telegram message went out at most once (counted on the fake server, which
records every message the bot sent). Customers: bench/kill_customers.py.

When the kill comes: `--phase pushes` (default) some time after the first "payment received"
push reached Telegram, while the others go out; `paid` after the last payment was
acknowledged; `payments` after the payment burst started; `checkout` after the checkouts
started. The delay is random in 0–0.5 s unless `--delay` is given. The dead server's outbox leases would run out 60 s after their claim; the
restart is made as if that time had passed (pending rows made due), unless --real-lease.

    python bench/kill.py --db-url postgresql+psycopg://... [--runs 5] [--phase paid]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# Run as a script, this file's folder leads sys.path, and bench/telegram.py would shadow the
# python-telegram-bot package (`telegram`) for everything imported after it.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != HERE]

from tests.conftest import free_port  # noqa: E402

TOKEN = "123:KILLBENCH"
PHASES = ("checkout", "payments", "paid", "pushes")
PAID_MARK = "✅"  # how a "payment received" push starts, in both languages
PROVIDER_TOKEN = "284685063:TEST:killbench"


def load(name: str):
    """A sibling bench module (bench/ is not a package)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", HERE / f"{name}.py")
    module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


customers_, checks = load("kill_customers"), load("kill_checks")


@dataclass
class Burst:
    web: int = 20
    telegram: int = 40
    phase: str = "pushes"  # when the kill comes (see PHASES and the module's docstring)
    delay_s: float | None = None  # after the phase starts; random in [0, 0.5] s when None
    skus: int = 5  # customers share a few SKUs with little stock, so checkouts compete
    stock: int = 14
    real_lease: bool = False
    seed: int = 0


def serve_fake(port: int, chats: int) -> None:
    """The fake Bot API server, plus a route that lists every message the bot sent."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Mount, Route

    from tests.fakes.telegram import FakeTelegram

    fake = FakeTelegram(TOKEN)
    for n in range(chats):
        fake.user(customers_.FIRST_CHAT + n, "Kill", "zh-hans" if n % 2 else "en")

    def described(call) -> dict:
        invoice = call.method == "sendInvoice"
        key = f"invoice:{call.params.get('payload')}" if invoice else None
        return {"method": call.method, "chat": call.chat_id, "ok": call.status == 200,
                "at": call.at, "key": key or call.params.get("text") or call.params.get("caption"),
                "amount": sum(p["amount"] for p in call.params.get("prices") or []),
                "currency": call.params.get("currency")}  # fmt: skip

    async def sent(_request) -> JSONResponse:
        with fake.lock:
            made = ("sendMessage", "sendPhoto", "sendInvoice")
            sends = [described(c) for c in fake.calls if c.method in made]
        return JSONResponse({"sends": sends})

    app = Starlette(routes=[Route("/_bench", sent), Mount("/", fake.app)])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


class Server:
    """`chatshop serve`, started and stopped (or killed) by the bench; stderr to a log file."""

    def __init__(self, env: dict[str, str], cwd: Path, url: str) -> None:
        self.env, self.cwd, self.url = env, cwd, url
        self.log = cwd / "serve.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("a") as err:
            command = [sys.executable, "-m", "bot.cli", "serve"]
            self.proc = subprocess.Popen(
                command, env=self.env, cwd=self.cwd, stdout=subprocess.DEVNULL, stderr=err
            )

    def wait_ready(self, seconds: float = 180) -> None:
        assert self.proc
        wait_http(f"{self.url}/healthz", self.proc, seconds)

    def kill(self) -> None:
        assert self.proc
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


def wait_http(url: str, proc: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        assert proc.poll() is None, f"{url}: the process exited"
        try:
            if httpx.get(url, timeout=2).is_success:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"timed out waiting for {url}"
        time.sleep(0.1)


async def drive(burst: Burst, server: Server, fake_url: str, db_url: str, skus: list[str]):
    """The burst with its kill; returns what the customers did and saw, and when."""
    c = customers_
    rng = random.Random(burst.seed)
    delay = burst.delay_s if burst.delay_s is not None else round(rng.uniform(0.0, 0.5), 2)
    timeline = {"began": time.monotonic()}
    phases = {name: asyncio.Event() for name in PHASES}

    async def killer() -> None:
        await phases[burst.phase].wait()
        await asyncio.sleep(delay)
        server.kill()
        timeline["killed"] = time.monotonic()
        if not burst.real_lease:
            await asyncio.to_thread(checks.expire_leases, db_url)
        server.start()
        await asyncio.to_thread(server.wait_ready)
        timeline["restarted"] = time.monotonic()

    async def first_paid_push(tg) -> None:
        while not any(s["ok"] and str(s["key"]).startswith(PAID_MARK) for s in tg.sends):
            await asyncio.sleep(0.02)
        phases["pushes"].set()

    def placed(chat_id: str) -> bool:
        return checks.has_order(db_url, chat_id)

    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=100)) as http:
        tg = c.Telegram(http, server.url, fake_url)
        watching = [asyncio.create_task(tg.watch()), asyncio.create_task(first_paid_push(tg))]
        kill = asyncio.create_task(killer())
        phases["checkout"].set()
        people = c.make_customers(burst.web, burst.telegram, skus, http, server.url)
        await asyncio.gather(*(c.guarded(p, c.checkout(p, tg, placed)) for p in people))
        timeline["paying"] = time.monotonic()
        phases["payments"].set()
        payers = [p for p in people if p.pay_link or p.invoice]
        await asyncio.gather(*(c.guarded(p, c.pay(p, http, tg)) for p in payers))
        phases["paid"].set()
        await kill
        await asyncio.to_thread(checks.wait_settled, db_url)
        timeline["settled"] = time.monotonic()
        for task in watching:
            task.cancel()
        sends = (await http.get(f"{fake_url}/_bench")).json()["sends"]
        shown = {p.web.session: await p.web.history() for p in people if p.web}
    return {"customers": people, "sends": sends, "shown": shown, "delay": delay,
            "timeline": timeline}  # fmt: skip


def run(db_url: str, data_dir: Path, burst: Burst) -> dict:
    began = time.monotonic()
    load("pipeline").prepare(db_url, data_dir)
    initial, skus = checks.limit_stock(db_url, burst.skus, burst.stock)
    fake_port, shop_port = free_port(), free_port()
    fake_url, shop_url = f"http://127.0.0.1:{fake_port}", f"http://127.0.0.1:{shop_port}"
    fake = subprocess.Popen(
        [sys.executable, __file__, "--serve-fake", str(fake_port), str(burst.telegram)],
        stdout=subprocess.DEVNULL,
    )
    server = Server(shop_env(db_url, data_dir, shop_port, fake_url), data_dir, shop_url)
    server.log.unlink(missing_ok=True)
    try:
        wait_http(f"{fake_url}/_bench", fake)
        server.start()
        server.wait_ready()
        outcome = asyncio.run(drive(burst, server, fake_url, db_url, skus))
    finally:
        server.stop()
        fake.terminate()
        fake.wait(timeout=30)
    times = outcome["timeline"]
    return {
        "bench": "kill", "db": "postgresql", "phase": burst.phase,
        "kill_after_s": outcome["delay"], "checkout_s": round(times["paying"] - times["began"], 1),
        "restart_s": round(times["restarted"] - times["killed"], 1),
        "settle_s": round(times["settled"] - times["restarted"], 1),
        "customers_web": burst.web, "customers_telegram": burst.telegram,
        **checks.check(db_url, initial, outcome, server.log),
        "elapsed_s": round(time.monotonic() - began, 1),
    }  # fmt: skip


def shop_env(db_url: str, data_dir: Path, port: int, fake_url: str) -> dict[str, str]:
    shop_url = f"http://127.0.0.1:{port}"
    return {
        **os.environ,
        "CHATSHOP_DATABASE_URL": db_url,
        "CHATSHOP_DATA_DIR": str(data_dir),
        "CHATSHOP_PORT": str(port),
        "CHATSHOP_LOG_LEVEL": os.environ.get("KILL_BENCH_LOG_LEVEL", "WARNING"),
        "CHATSHOP_SANDBOX_SECRET": "kill-bench",
        "CHATSHOP_SANDBOX_PAYMENTS": "true",
        "CHATSHOP_DISPATCH_INTERVAL_S": "0.2",
        "CHATSHOP_RATE_LIMIT_IP": "1000000/second",  # one address plays every customer
        "CHATSHOP_RATE_LIMIT_MESSAGES": "1000000/second",
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": fake_url,
        "TELEGRAM_WEBHOOK_URL": f"{shop_url}/webhooks/telegram",
        "TELEGRAM_WEBHOOK_SECRET": customers_.SECRET,
        "TELEGRAM_PAYMENT_PROVIDER_TOKEN": PROVIDER_TOKEN,
    }


def main() -> None:
    if sys.argv[1:2] == ["--serve-fake"]:
        serve_fake(int(sys.argv[2]), int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db-url", required=True, help="PostgreSQL database (it is wiped)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--web", type=int, default=20, help="web customers")
    parser.add_argument("--telegram", type=int, default=40, help="Telegram customers")
    parser.add_argument("--phase", choices=PHASES, default="pushes")
    parser.add_argument("--delay", type=float, help="seconds into the phase (default random)")
    parser.add_argument("--real-lease", action="store_true", help="wait the outbox leases out")
    parser.add_argument("--data-dir", type=Path, help="keep media and the NLU model here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="chatshop-kill-") as tmp:
        data_dir = args.data_dir or Path(tmp)
        data_dir.mkdir(parents=True, exist_ok=True)
        for n in range(args.runs):
            burst = Burst(args.web, args.telegram, args.phase, args.delay,
                          real_lease=args.real_lease, seed=n)  # fmt: skip
            print(json.dumps(run(args.db_url, data_dir, burst)), flush=True)


if __name__ == "__main__":
    main()
