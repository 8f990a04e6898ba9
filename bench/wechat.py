"""WeChat webhook throughput and time to the webhook's answer, in safe mode (AES), the
production default. Three processes: `chatshop serve`, the local fake WeChat API server (token,
customer-service messages, media upload), and this load generator, which signs and encrypts
pushes itself and POSTs them to /webhooks/wechat as WeChat does.

Each simulated customer sends a text, waits for the webhook's answer (a WeChat user sees the
reply before typing "2"), thinks 1-2 s and sends the next one, for --duration seconds. The
latency of a push runs from the start of its request to its HTTP answer, which WeChat waits at
most 5 s for (then it retries): the shop answers with the passive reply (encrypted XML) when
the reply is ready within WECHAT_REPLY_BUDGET_S (3 s), else "success" and sends the reply as
customer-service messages. passive_pct is the share of passive answers; over_5s counts the
answers WeChat would have given up on (this client waits 30 s to measure them); non_200 counts
refusals (403: bad signature, stale or replayed nonce) and errors, failed_requests pushes with
no HTTP answer; custom_messages and api_errors are what the fake WeChat API received.

success_replies counts the pushes answered "success", and success_undelivered those of them
whose reply the shop had still not delivered when the run settled (its outbox row is not
"sent": still pending, or given up); a push answered "success" with nothing delivered
afterwards is a customer left with nothing. fake_quota says whether the fake WeChat API
enforced WeChat's customer-service quota (5 messages per customer message): it is "off" here,
because this client posts the pushes itself, so the fake cannot see the messages that refill
the quota, and every customer gets an unlimited quota instead.

    python bench/wechat.py [--duration 15] [--customers 40 150] [--db-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
from sqlalchemy import select

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, bench/ leads sys.path and its telegram.py would shadow python-telegram-bot,
# which the shop's code imports; the bench scripts are imported as `bench.*` instead.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

from bench.common import percentile  # noqa: E402
from bench.telegram import start, wait_until  # noqa: E402
from store.db import make_engine, make_session_factory  # noqa: E402
from store.models import Message, OutboxMessage, OutboxStatus  # noqa: E402
from store.uow import UnitOfWork  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.fakes.wechat import FakeWeChat, parse_xml  # noqa: E402

AES_KEY = base64.b64encode(bytes(range(32))).decode().rstrip("=")
# What customers of a clothing shop type. The numbers pick from the options the shop listed
# last (product, variant, quantity), so a round puts a pair of shoes in the cart: reads and
# writes, and the numbered-option path.
SCRIPT = ["你好", "500以内的跑鞋", "1", "1", "1", "看看购物车",
          "有什么T恤", "2", "我的订单", "帮助"]  # fmt: skip
THINK_S = (1.0, 2.0)
WECHAT_WAIT_S = 5.0


def openid(n: int) -> str:
    return f"o_bench_{n:06d}"


def serve_fake(port: int, customers: int) -> None:
    """The fake WeChat API, plus one route for this bench to count customer-service messages."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Mount, Route

    fake = FakeWeChat(aes_key=AES_KEY)
    fake.url = f"http://127.0.0.1:{port}"
    for n in range(customers):
        user = fake.user(openid(n))
        # The bench posts pushes itself rather than via user.send_text (synchronous, with
        # retries), so the 48 h service window a message opens is opened here, for good.
        user.window_until = fake.now() + 48 * 3600
        user.quota_left = 10**9  # WeChat resets it to 5 with every message; never the limit here

    async def stats(_request) -> JSONResponse:
        with fake.lock:
            custom = sum(len(ms) for ms in fake.custom_messages.values())
            errors = Counter(str(c.errcode) for c in fake.calls if c.errcode)
            unlimited = all(u.quota_left > 10**6 for u in fake.users.values())
        quota = "off" if unlimited else "on"
        return JSONResponse({"custom_messages": custom, "api_errors": errors, "quota": quota})

    app = Starlette(routes=[Route("/_bench", stats), Mount("/", fake.app)])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def answer_kind(signer: FakeWeChat, answer: bytes) -> str:
    """What the webhook answered: "passive" (a reply XML this account's key decrypts),
    "success" (the reply goes out as customer-service messages), or "bad"."""
    if answer in (b"", b"success"):
        return "success"
    try:
        reply = parse_xml(signer.crypto.decrypt(str(parse_xml(answer)["Encrypt"])))
    except (ValueError, KeyError):
        return "bad"
    return "passive" if reply.get("ToUserName") and reply.get("MsgType") else "bad"


async def load(webhook: str, signer: FakeWeChat, customers: int, duration: float) -> list[tuple]:
    """Every customer talks until `duration` is over; returns (started, seconds, status, kind,
    openid, MsgId) per push."""
    results: list[tuple] = []
    msg_ids = itertools.count(24_100_000_000_000_000)
    deadline = time.monotonic() + duration
    # one request in flight per customer, as WeChat delivers a user's messages in order
    limits = httpx.Limits(max_connections=customers, max_keepalive_connections=customers)
    async with httpx.AsyncClient(timeout=30, limits=limits, trust_env=False) as http:

        async def customer(n: int) -> None:
            rng = random.Random(n)
            await asyncio.sleep(rng.uniform(0, THINK_S[1]))  # arrivals spread out
            for i in itertools.count(n):  # customers start at different points of the script
                if time.monotonic() >= deadline:
                    return
                fields = {"ToUserName": signer.original_id, "FromUserName": openid(n),
                          "CreateTime": int(time.time()), "MsgType": "text",
                          "Content": SCRIPT[i % len(SCRIPT)], "MsgId": next(msg_ids)}  # fmt: skip
                # a fresh timestamp and nonce for every push, as WeChat signs each message
                params, body = signer.envelope(fields, openid=openid(n))
                started = time.monotonic()
                try:
                    response = await http.post(
                        webhook, params=params, content=body, headers={"Content-Type": "text/xml"}
                    )
                    elapsed, status = time.monotonic() - started, response.status_code
                    kind = answer_kind(signer, response.content) if status == 200 else "error"
                except httpx.HTTPError:  # no answer at all; WeChat would retry
                    elapsed, status, kind = time.monotonic() - started, 0, "error"
                results.append((started, elapsed, status, kind, openid(n), fields["MsgId"]))
                await asyncio.sleep(rng.uniform(*THINK_S))

        await asyncio.gather(*(customer(n) for n in range(customers)))
    return results


def undelivered(db_url: str, pushes: list[tuple[str, int]]) -> int:
    """How many of these (openid, MsgId) pushes have a reply the shop did not deliver: not
    recorded, no reply queued, or its outbox row not "sent" (pending, or given up)."""
    engine = make_engine(db_url)
    delivered = 0
    try:
        with UnitOfWork(make_session_factory(engine)) as uow:
            for start in range(0, len(pushes), 500):
                keys = [f"in:wechat:{o}:{m}" for o, m in pushes[start : start + 500]]
                ids = uow.session.scalars(select(Message.id).where(Message.dedupe_key.in_(keys)))
                replies = [f"reply:{message_id}" for message_id in ids]
                sent = select(OutboxMessage.id).where(
                    OutboxMessage.dedupe_key.in_(replies),
                    OutboxMessage.status == OutboxStatus.SENT,
                )
                delivered += len(uow.session.scalars(sent).all())
    finally:
        engine.dispose()
    return len(pushes) - delivered


def stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def peak_rss_mb(pid: int) -> float | None:
    """The process's high-water resident set (Linux), read before it exits."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    kb = next((int(line.split()[1]) for line in status.splitlines() if line[:6] == "VmHWM:"), 0)
    return round(kb / 1024, 1)


def log_problems(path: Path) -> tuple[int, int]:
    """(errors, warnings) in the server's log; the distinct ones are shown on stderr."""
    lines = path.read_text(errors="replace").splitlines()
    errors = [line for line in lines if " ERROR " in line or " CRITICAL " in line]
    warnings = [line for line in lines if " WARNING " in line]
    for message, count in Counter(line.split(" ", 2)[-1] for line in errors + warnings).items():
        print(f"  server log, {count}x: {message[:200]}", file=sys.stderr)
    return len(errors), len(warnings)


def run(db_url: str, label: str, customers: int, duration: float, data_dir: Path) -> dict:
    from bench.pipeline import prepare  # migrates, imports the sample catalog, ample stock

    signer = FakeWeChat(aes_key=AES_KEY)  # unserved: same app id, token and key as the fake
    fake = shop = None
    try:
        prepare(db_url, data_dir)
        fake_port, shop_port = free_port(), free_port()
        fake_url, shop_url = f"http://127.0.0.1:{fake_port}", f"http://127.0.0.1:{shop_port}"
        webhook = f"{shop_url}/webhooks/wechat"
        fake = start([__file__, "--serve-fake", str(fake_port), str(customers)])
        env = {
            **os.environ,
            "CHATSHOP_DATABASE_URL": db_url,
            "CHATSHOP_DATA_DIR": str(data_dir),
            "CHATSHOP_PORT": str(shop_port),
            "CHATSHOP_LOG_LEVEL": "WARNING",
            "CHATSHOP_SANDBOX_PAYMENTS": "true",  # customers pay on the test page
            "WECHAT_APP_ID": signer.app_id,
            "WECHAT_APP_SECRET": signer.app_secret,
            "WECHAT_TOKEN": signer.token,
            "WECHAT_AES_KEY": AES_KEY,
            "WECHAT_API_BASE_URL": fake_url,
        }
        log_path = data_dir / "server.log"
        with log_path.open("wb") as log:  # kept to report errors and refused pushes
            shop = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "serve"],
                env=env, cwd=data_dir, stdout=subprocess.DEVNULL, stderr=log,
            )  # fmt: skip
        wait_until(lambda: httpx.get(f"{fake_url}/_bench").is_success, "the fake", fake)

        def handshake() -> bool:  # the URL check WeChat makes when the server URL is saved
            params = signer.signed_params() | {"echostr": "ready"}
            return httpx.get(webhook, params=params).text == "ready"

        wait_until(handshake, "the shop", shop)
        began = time.monotonic()
        sent = asyncio.run(load(webhook, signer, customers, duration))
        if not sent:
            raise SystemExit("no message was sent: make --duration longer")
        ended = max(at + seconds for at, seconds, *_ in sent)
        # replies answered with "success" are still going out as customer-service messages
        previous, settle = None, time.monotonic() + 10
        while time.monotonic() < settle:
            state = httpx.get(f"{fake_url}/_bench").json()
            if state == previous:
                break
            previous = state
            time.sleep(1)
        rss = peak_rss_mb(shop.pid)
        answered_success = [(o, m) for *_, kind, o, m in sent if kind == "success"]
        success_undelivered = undelivered(db_url, answered_success)
    finally:
        stop(shop)
        stop(fake)
    log_errors, log_warnings = log_problems(log_path)
    latencies = [seconds * 1000 for _, seconds, *_ in sent]
    kinds = Counter(kind for _, _, _, kind, _, _ in sent)
    return {
        "bench": "wechat",
        "db": label,
        "mode": "aes",
        "customers": customers,
        "duration_s": round(ended - began, 1),
        "messages": len(sent),
        "messages_per_s": round(len(sent) / (ended - began), 1),
        "p50_ms": percentile(latencies, 0.5),
        "p99_ms": percentile(latencies, 0.99),
        "max_ms": round(max(latencies), 1),
        "passive_pct": round(100 * kinds["passive"] / len(sent), 1),
        "over_5s": sum(1 for ms in latencies if ms > WECHAT_WAIT_S * 1000),
        "non_200": sum(1 for s in sent if s[2] not in (0, 200)),
        "failed_requests": sum(1 for s in sent if s[2] == 0),
        "bad_replies": kinds["bad"],
        "success_replies": len(answered_success),
        "success_undelivered": success_undelivered,
        "fake_quota": state["quota"],
        "custom_messages": state["custom_messages"],
        "api_errors": state["api_errors"],
        "log_errors": log_errors,
        "log_warnings": log_warnings,
        "peak_rss_mb": rss,
    }


def main() -> None:
    if sys.argv[1:2] == ["--serve-fake"]:
        serve_fake(int(sys.argv[2]), int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db-url", help="also run on this PostgreSQL database (it is wiped)")
    parser.add_argument("--customers", type=int, nargs="+", default=[40, 150])
    parser.add_argument("--duration", type=float, default=15, help="seconds of load per run")
    args = parser.parse_args()
    # `kill` (SIGTERM) unwinds like Ctrl-C does, so the finally blocks stop the children
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    targets = [("sqlite", None)] + ([("postgresql", args.db_url)] if args.db_url else [])
    for label, url in targets:
        for customers in args.customers:
            with tempfile.TemporaryDirectory(prefix="chatshop-bench-wx-") as tmp:
                db_url = url or f"sqlite:///{tmp}/bench.db"
                result = run(db_url, label, customers, args.duration, Path(tmp))
                print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
