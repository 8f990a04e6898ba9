"""N simulated customers each complete a purchase conversation in-process through the
gateway, in 1 and then 2 worker processes sharing one database (production runs N workers).
Prints one JSON line per database and worker count, with each worker's own peak memory and
the orders the customers placed. The NLU model is trained once, before the clock starts, and
loaded by every worker from its cache, as a restarted production worker would.

    python bench/pipeline.py [--customers 200] [--workers 1 2] [--db-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import func, select, text, update

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import peak_rss_mb, percentile
from bot.bootstrap import bootstrap
from bot.config import Settings
from bot.messages import Action, Inbound, Outbound
from dialogs.i18n import t
from nlu.embedded import EmbeddedInterpreter
from store.db import make_engine, make_session_factory
from store.importer import import_rows, read_catalog
from store.migrate import upgrade
from store.models import Order, Variant
from store.uow import UnitOfWork

SAMPLE = Path(__file__).resolve().parent.parent / "store" / "sample" / "catalog.json"
SCRIPTS = {
    "zh": [
        "你好",
        "有没有红色的T恤",
        "@more",
        "@pick",
        "@variant",
        "2",
        "看看购物车",
        "@qty",
        "500以内的跑鞋",
        "@pick",
        "@variant",
        "1",
        "去结算",
        "王小明",
        "139 1234 5678",
        "北京市朝阳区建国路88号",
        "好的",
        "我的订单",
        "@order",
        "谢谢",
    ],
    "en": [
        "hi",
        "red t-shirt",
        "@more",
        "@pick",
        "@variant",
        "2",
        "what's in my cart",
        "@qty",
        "running shoes under 500",
        "@pick",
        "@variant",
        "1",
        "checkout",
        "Jane Doe",
        "+1 415 555 0132",
        "500 Market Street, San Francisco",
        "yes",
        "my orders",
        "@order",
        "thanks",
    ],
}


APOLOGIES = {t("zh", "errors.internal"), t("en", "errors.internal")}


def prepare(url: str, data_dir: Path, nlu_cache: Path | None = None) -> None:
    """A migrated database with the sample catalog (ample stock), media in `data_dir`, and
    a trained NLU model copied in when `nlu_cache` has one (else the shop trains its own)."""
    if url.startswith("postgresql"):
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    upgrade(url)
    engine = make_engine(url)
    with UnitOfWork(make_session_factory(engine)) as uow:
        import_rows(uow.session, read_catalog(SAMPLE), data_dir / "media")
        uow.session.execute(update(Variant).values(stock=1_000_000))  # nobody runs out mid-bench
        uow.commit()
    engine.dispose()
    if nlu_cache is not None:
        shutil.copytree(nlu_cache, data_dir / "nlu-cache")


def orders_placed(url: str) -> int:
    engine = make_engine(url)
    with UnitOfWork(make_session_factory(engine)) as uow:
        placed = uow.session.scalar(select(func.count()).select_from(Order)) or 0
    engine.dispose()
    return placed


def pick(replies: list[Outbound], action: str) -> str | None:
    for reply in replies:
        for button in list(reply.buttons) + [b for c in reply.cards for b in c.buttons]:
            if Action.decode(button.payload).name == action:
                return button.payload
    return None


def converse(app, customers: int, seed: int) -> tuple[list[float], int]:
    """Each customer's whole purchase conversation; returns per-message latencies (ms)."""
    latencies: list[float] = []
    unanswered = 0
    for n in range(customers):
        lang = "zh" if (n + seed) % 2 == 0 else "en"
        chat = f"bench-{uuid.uuid4().hex[:12]}"
        replies: list[Outbound] = []
        for i, step in enumerate(SCRIPTS[lang]):
            payload = (pick(replies, step[1:]) or "view_cart") if step.startswith("@") else None
            inbound = Inbound("web", chat, str(i), text="" if payload else step, payload=payload)
            t0 = time.perf_counter()
            handled = app.gateway.handle(inbound)
            latencies.append((time.perf_counter() - t0) * 1000)
            replies = [Outbound.from_dict(m.body) for m in handled.replies]
            unanswered += not replies or replies[0].text in APOLOGIES
    return latencies, unanswered


def worker(url: str, data_dir: str, customers: int, seed: int, ready, go, results) -> None:
    app = bootstrap(
        Settings(database_url=url, data_dir=data_dir, sandbox_secret="bench", sandbox_payments=True)
    )
    app.refresh_catalog()
    ready.put(seed)
    go.wait()
    latencies, unanswered = converse(app, customers, seed)
    app.engine.dispose()
    results.put((seed, latencies, unanswered, peak_rss_mb()))  # this worker's own peak


def run(url: str, customers: int, workers: int, label: str, nlu_cache: Path) -> dict:
    """`workers` processes, like N stateless workers behind a load balancer, share one DB."""
    data_dir = Path(tempfile.mkdtemp(prefix="chatshop-bench-"))
    prepare(url, data_dir, nlu_cache)
    ctx = multiprocessing.get_context("spawn")
    ready, results, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    share = [customers // workers + (i < customers % workers) for i in range(workers)]
    procs = [
        ctx.Process(target=worker, args=(url, str(data_dir), share[i], i, ready, go, results))
        for i in range(workers)
    ]
    for proc in procs:
        proc.start()
    for _ in procs:
        ready.get(timeout=300)
    started = time.perf_counter()
    go.set()
    outcomes = sorted(results.get(timeout=1800) for _ in procs)  # by worker number
    elapsed = time.perf_counter() - started
    for proc in procs:
        proc.join()
    latencies = [ms for _, lat, _, _ in outcomes for ms in lat]
    return {
        "bench": "pipeline",
        "db": label,
        "workers": workers,
        "customers": customers,
        "messages": len(latencies),
        "messages_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": percentile(latencies, 0.5, 2),
        "p99_ms": percentile(latencies, 0.99, 2),
        "unanswered_or_failed": sum(u for _, _, u, _ in outcomes),
        "orders_placed": orders_placed(url),
        "peak_rss_mb_per_worker": [round(peak, 1) for _, _, _, peak in outcomes],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--db-url", help="also run on this PostgreSQL database (it is wiped)")
    args = parser.parse_args()
    nlu_cache = Path(tempfile.mkdtemp(prefix="chatshop-bench-nlu-"))
    EmbeddedInterpreter.load_or_train(nlu_cache)  # once, for every configuration
    for workers in args.workers:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/bench.db"
            print(json.dumps(run(url, args.customers, workers, "sqlite", nlu_cache)), flush=True)
        if args.db_url:
            result = run(args.db_url, args.customers, workers, "postgresql", nlu_cache)
            print(json.dumps(result), flush=True)
    shutil.rmtree(nlu_cache, ignore_errors=True)


if __name__ == "__main__":
    main()
