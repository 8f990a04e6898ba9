"""Telegram webhook throughput and latency. Three processes: `chatshop serve` in webhook mode,
the local fake Bot API server, and this load generator, whose simulated customers each send a
message every two seconds (an open loop: a slow shop shows as latency). A message's latency
runs from the start of its webhook request to its first reply being recorded by the fake server
(both read the machine's monotonic clock). Replies are matched to the update that caused them,
not paired by position: the shop's transcript names each update's replies (the inbound message
is keyed by chat and update_id), and a chat's bot messages are walked in order for the first
one that starts with the first reply's text; an update whose reply never reached the fake
counts as unanswered, and one update answered by several messages shifts nothing.

Three configurations per database:
  telegram_limits  30 messages/s per bot, enforced by the fake as Telegram does; 45 customers
                   (about 22 messages/s), under that limit
  capacity_72      the bot-wide limit lifted (only a test server allows that); 72 customers,
                   about 36 messages/s
  capacity_300     the same with 300 customers (about 150 messages/s offered), more than one
                   process can serve, so updates_per_s is the pipeline's ceiling

    python bench/telegram.py [--db-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# Run as a script, this file's folder leads sys.path, and this file would shadow the
# python-telegram-bot package (`telegram`) for everything imported after it.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != HERE]

from bench.common import percentile  # noqa: E402
from tests.conftest import free_port  # noqa: E402

TOKEN = "123:BENCH"
SECRET = "bench-webhook-secret-0123456789"
SCRIPT = {
    "zh": ["你好", "红色T恤", "/cart", "500以内的跑鞋", "/help"],
    "en": ["hello", "red t-shirt", "/cart", "running shoes under 500", "/help"],
}
# A customer's pause between messages: reading and tapping take a human a couple of seconds,
# and it keeps each chat well under Telegram's ~1 message/s per chat, so what is measured is
# the pipeline, not that pacing (which a faster customer would run into by design).
THINK_S = 2.0
FIRST_CHAT = 10_000
CONFIGS = {"telegram_limits": 45, "capacity_72": 72, "capacity_300": 300}  # customers


def serve_fake(port: int, chats: int, paced: bool) -> None:
    """The fake Bot API server, plus one route for this bench to read reply times from."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Mount, Route

    from tests.fakes.telegram import FakeTelegram

    fake = FakeTelegram(TOKEN, enforce_rate_limits=paced)
    for n in range(chats):
        chat = FIRST_CHAT + n
        fake.user(chat, "Bench", "zh-hans" if chat % 2 else "en")

    async def replies(_request) -> JSONResponse:
        with fake.lock:
            shown = {c: [[m.text, m.changed_at] for m in ms] for c, ms in fake.messages.items()}
            return JSONResponse({"replies": shown, "rate_limited": len(fake.rate_limited)})

    app = Starlette(routes=[Route("/_bench", replies), Mount("/", fake.app)])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def start(args: list[str], env: dict | None = None, cwd: Path | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, *args], env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=None
    )


def wait_until(check, what: str, proc: subprocess.Popen, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        assert proc.poll() is None, f"{what}: the process exited"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def update(update_id: int, chat: int, text: str) -> dict:
    sender = {"id": chat, "is_bot": False, "first_name": "Bench"}
    sender["language_code"] = "zh-hans" if chat % 2 else "en"
    message = {
        "message_id": update_id,
        "from": sender,
        "chat": {"id": chat, "type": "private", "first_name": "Bench"},
        "date": int(time.time()),
        "text": text,
    }
    if text.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text)}]
    return {"update_id": update_id, "message": message}


async def customers(url: str, chats: int, messages: int) -> list[tuple]:
    """Every customer sends `messages` messages on a fixed rhythm; returns what was sent."""
    sent: list[tuple] = []
    ids = iter(range(900_000, 10_000_000))
    limits = httpx.Limits(max_connections=40)  # what Telegram opens to one webhook at most
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:

        async def customer(n: int) -> None:
            chat = FIRST_CHAT + n
            lang = "zh" if chat % 2 else "en"
            await asyncio.sleep(n * THINK_S / chats)  # arrivals spread over a second
            begin = time.monotonic()
            for i in range(messages):
                await asyncio.sleep(max(0.0, begin + i * THINK_S - time.monotonic()))
                body = update(next(ids), chat, SCRIPT[lang][i % len(SCRIPT[lang])])
                started = time.monotonic()
                try:
                    response = await http.post(
                        f"{url}/webhooks/telegram",
                        json=body,
                        headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
                    )
                    status = response.status_code
                except httpx.HTTPError:
                    status = 0  # Telegram would deliver it again; counted in non_200
                sent.append((chat, body["update_id"], started, time.monotonic() - started, status))

        await asyncio.gather(*(customer(n) for n in range(chats)))
    return sent


def first_replies(db_url: str, sent: list[tuple]) -> dict[tuple[int, int], str]:
    """(chat, update_id) → the text of the first reply the shop recorded for that update."""
    from sqlalchemy import select

    from store.db import make_engine, make_session_factory
    from store.models import Message
    from store.uow import UnitOfWork

    keys = {f"in:telegram:{chat}:{update_id}": (chat, update_id) for chat, update_id, *_ in sent}
    engine = make_engine(db_url)
    found: dict[tuple[int, int], str] = {}
    with UnitOfWork(make_session_factory(engine)) as uow:
        inbound = dict(
            uow.session.execute(
                select(Message.id, Message.dedupe_key).where(Message.dedupe_key.in_(keys))
            ).all()
        )
        replies = uow.session.execute(
            select(Message.reply_to, Message.body)
            .where(Message.reply_to.in_(inbound), Message.direction == "out")
            .order_by(Message.id)
        ).all()
    engine.dispose()
    for reply_to, body in replies:
        found.setdefault(keys[inbound[reply_to]], (body or {}).get("text") or "")
    return found


def answered_at(
    sent: list[tuple], shown: dict[int, list], expected: dict[tuple[int, int], str]
) -> dict[tuple[int, int], float]:
    """(chat, update_id) → when its first reply reached the fake. Each chat's updates are
    answered in order, so its bot messages are walked once, in order, matching each update's
    first reply by its opening words; other messages (more of the same reply) are passed over."""
    at: dict[tuple[int, int], float] = {}
    for chat in sorted({s[0] for s in sent}):
        messages, position = shown.get(chat, []), 0
        for update_id in sorted(s[1] for s in sent if s[0] == chat):
            if (chat, update_id) not in expected:
                continue  # the shop recorded no reply: unanswered
            opening = expected[(chat, update_id)].strip()[:30]  # "" (a bare list) takes the next
            hit = next(
                (i for i in range(position, len(messages)) if messages[i][0].startswith(opening)),
                None,
            )
            if hit is not None:
                at[(chat, update_id)] = messages[hit][1]
                position = hit + 1
    return at


def run(db_url: str, label: str, config: str, chats: int, messages: int) -> dict:
    spec = importlib.util.spec_from_file_location("pipeline", HERE / "pipeline.py")
    pipeline = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pipeline)

    paced = config == "telegram_limits"
    data_dir = Path(tempfile.mkdtemp(prefix="chatshop-bench-tg-"))
    pipeline.prepare(db_url, data_dir)
    fake_port, shop_port = free_port(), free_port()
    fake_url, shop_url = f"http://127.0.0.1:{fake_port}", f"http://127.0.0.1:{shop_port}"
    fake = start([__file__, "--serve-fake", str(fake_port), str(chats), str(int(paced))])
    env = {
        **os.environ,
        "CHATSHOP_DATABASE_URL": db_url,
        "CHATSHOP_DATA_DIR": str(data_dir),
        "CHATSHOP_PORT": str(shop_port),
        "CHATSHOP_LOG_LEVEL": "WARNING",
        "CHATSHOP_SANDBOX_PAYMENTS": "true",  # customers pay on the test page
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": fake_url,
        "TELEGRAM_WEBHOOK_URL": f"{shop_url}/webhooks/telegram",
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "TELEGRAM_MESSAGES_PER_S": "30" if paced else "100000",
    }
    shop = None
    try:
        wait_until(lambda: httpx.get(f"{fake_url}/_bench").is_success, "the fake", fake)
        shop = start(["-m", "bot.cli", "serve"], env, data_dir)
        # ready once the webhook stops answering 503 (connecting) and reads bodies (400: empty)
        hook, secret = f"{shop_url}/webhooks/telegram", {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        wait_until(lambda: httpx.post(hook, headers=secret).status_code == 400, "the shop", shop)
        began = time.monotonic()
        sent = asyncio.run(customers(shop_url, chats, messages))
        deadline = time.monotonic() + 60
        while True:
            state = httpx.get(f"{fake_url}/_bench").json()
            shown = {int(c): ms for c, ms in state["replies"].items()}
            expected = first_replies(db_url, sent)
            at = answered_at(sent, shown, expected)
            if len(at) == len(sent) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    finally:
        for proc in (shop, fake):
            if proc:
                proc.terminate()
                proc.wait(timeout=30)
    started = {(c, u): t for c, u, t, _, _ in sent}
    latencies = [(when - started[key]) * 1000 for key, when in at.items()]
    last_reply = max(at.values(), default=began)
    return {
        "bench": "telegram",
        "db": label,
        "config": config,
        "chats": chats,
        "updates": len(sent),
        "updates_per_s": round(len(sent) / (last_reply - began), 1),
        "p50_ms": percentile(latencies, 0.5),
        "p99_ms": percentile(latencies, 0.99),
        "webhook_ack_p99_ms": percentile([s[3] * 1000 for s in sent], 0.99),
        "non_200": sum(1 for s in sent if s[4] != 200),
        "unanswered": len(sent) - len(latencies),
        "unrecorded": len(sent) - len(expected),  # no reply in the shop's transcript at all
        "rate_limited": state["rate_limited"],
    }


def main() -> None:
    if sys.argv[1:2] == ["--serve-fake"]:
        port, chats, paced = (int(a) for a in sys.argv[2:5])
        serve_fake(port, chats, bool(paced))
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db-url", help="also run on this PostgreSQL database (it is wiped)")
    parser.add_argument("--messages", type=int, default=8, help="messages per customer")
    parser.add_argument("--config", action="append", choices=list(CONFIGS), help="only these")
    args = parser.parse_args()
    targets = [("sqlite", None)] + ([("postgresql", args.db_url)] if args.db_url else [])
    for label, url in targets:
        for config in args.config or CONFIGS:
            chats = CONFIGS[config]
            with tempfile.TemporaryDirectory() as tmp:
                db_url = url or f"sqlite:///{tmp}/bench.db"
                print(json.dumps(run(db_url, label, config, chats, args.messages)), flush=True)


if __name__ == "__main__":
    main()
