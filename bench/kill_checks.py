"""What bench/kill.py checks once a killed and restarted shop has settled, in SQL and against
the fake Bot API server's record of every message the bot sent."""

from __future__ import annotations

import re
import statistics
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.channels.telegram_render import Pressed, plan
from dialogs.notifications import render
from store.db import make_engine, make_session_factory
from store.models import (
    ChannelIdentity,
    Order,
    OrderLine,
    OrderStatus,
    OutboxMessage,
    OutboxStatus,
    Payment,
    PaymentStatus,
    Variant,
    utcnow,
)
from store.uow import UnitOfWork

PAID = {OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.COMPLETED}
IN_DOUBT = "in doubt"  # how the sender marks a part that may not have reached the customer


def _session(db_url: str):
    engine = make_engine(db_url)
    return engine, UnitOfWork(make_session_factory(engine))


def limit_stock(db_url: str, skus: int, stock: int) -> tuple[dict[int, int], list[str]]:
    """Give the first `skus` variants little stock; returns every variant's catalog stock and
    the SKUs the customers buy."""
    engine, uow = _session(db_url)
    with uow:
        s = uow.session
        chosen = s.scalars(select(Variant).order_by(Variant.id).limit(skus)).all()
        names = [v.sku for v in chosen]
        s.execute(update(Variant).where(Variant.sku.in_(names)).values(stock=stock))
        uow.commit()
        initial = dict(s.execute(select(Variant.id, Variant.stock)).tuples().all())
    engine.dispose()
    return initial, names


def expire_leases(db_url: str) -> None:
    """What the dead server held becomes due, as if its 60-second leases had run out."""
    engine, uow = _session(db_url)
    with uow:
        uow.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.status == OutboxStatus.PENDING)
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )
        uow.commit()
    engine.dispose()


def has_order(db_url: str, chat_id: str) -> bool:
    engine, uow = _session(db_url)
    with uow:
        found = uow.session.scalar(
            select(func.count(Order.id))
            .join(ChannelIdentity, ChannelIdentity.id == Order.identity_id)
            .where(ChannelIdentity.external_id == chat_id)
        )
    engine.dispose()
    return bool(found)


def wait_settled(db_url: str, seconds: float = 150) -> None:
    """Until no push waits any more (all sent or given up), then a moment for calls in flight."""
    engine, _ = _session(db_url)
    sessions = make_session_factory(engine)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with UnitOfWork(sessions) as uow:
            pending = uow.session.scalar(
                select(func.count()).where(OutboxMessage.status == OutboxStatus.PENDING)
            )
        if not pending:
            break
        time.sleep(0.25)
    engine.dispose()
    time.sleep(1.0)


def check(db_url: str, initial: dict[int, int], outcome: dict, log: Path) -> dict:
    engine, uow = _session(db_url)
    customers, killed = outcome["customers"], outcome["timeline"]["killed"]
    with uow:
        s = uow.session
        report = {
            "orders": s.scalar(select(func.count(Order.id))),
            "paid_orders": s.scalar(select(func.count()).where(Order.status.in_(PAID))),
            "customers_paid": sum(c.paid for c in customers),
            "customer_errors": sum(bool(c.error) for c in customers),
            **telegram_deliveries(s, outcome["sends"], killed),
            "web_exactly_once": web_exactly_once(s, outcome["shown"]),
            "stock_ok": stock_ok(s, initial),
            "payments_ok": payments_ok(s, customers),
        }
    engine.dispose()
    text = log.read_text(errors="replace")
    return report | {"tracebacks": text.count("Traceback")} | doubt_windows(text)


def doubt_windows(log: str) -> dict:
    """From the sender's debug lines (KILL_BENCH_LOG_LEVEL=DEBUG): how long each message was
    handed over but not yet recorded as gone out, and how much of that after Telegram's answer."""
    found = [
        (float(total), float(after))
        for total, after in re.findall(
            r"in doubt ([0-9.]+) ms: answered .* recorded ([0-9.]+) ms", log
        )
    ]
    if not found:
        return {}
    totals, afters = sorted(t for t, _ in found), sorted(a for _, a in found)
    p99 = max(int(len(found) * 0.99) - 1, 0)
    return {
        "doubt_window_p50_ms": round(statistics.median(totals), 1),
        "doubt_window_p99_ms": round(totals[p99], 1),
        "answer_to_record_p50_ms": round(statistics.median(afters), 1),
        "answer_to_record_p99_ms": round(afters[p99], 1),
    }


def stock_ok(s: Session, initial: dict[int, int]) -> bool:
    """Stock equals catalog stock minus the lines of orders not cancelled, for every variant."""
    held = dict(
        s.execute(
            select(OrderLine.variant_id, func.sum(OrderLine.quantity))
            .join(Order, Order.id == OrderLine.order_id)
            .where(Order.status != OrderStatus.CANCELLED)
            .group_by(OrderLine.variant_id)
        )
        .tuples()
        .all()
    )
    stock = dict(s.execute(select(Variant.id, Variant.stock)).tuples().all())
    return all(stock[v] == initial[v] - held.get(v, 0) for v in initial)


def payments_ok(s: Session, customers: list) -> bool:
    """Every captured payment belongs to exactly one paid order and every paid order has
    exactly one; every payment the shop acknowledged left a paid order; nobody got two orders
    for one checkout."""
    captured = Counter(
        s.scalars(select(Payment.order_id).where(Payment.status == PaymentStatus.CAPTURED))
    )
    paid = set(s.scalars(select(Order.id).where(Order.status.in_(PAID))))
    if set(captured) != paid or any(n != 1 for n in captured.values()):
        return False
    statuses: dict[str, list[str]] = {}
    for chat, status in s.execute(
        select(ChannelIdentity.external_id, Order.status).join(
            Order, Order.identity_id == ChannelIdentity.id
        )
    ):
        statuses.setdefault(chat, []).append(status)
    for c in customers:
        mine = statuses.get(c.chat_id, [])
        if len(mine) > 1 or (c.paid and not set(mine) & PAID):
            return False
    return True


def web_exactly_once(s: Session, shown: dict[str, list[dict]]) -> bool:
    """Every push to a web customer was sent, and shows exactly once in their chat."""
    rows = s.execute(
        select(OutboxMessage, ChannelIdentity.external_id)
        .join(ChannelIdentity, ChannelIdentity.id == OutboxMessage.identity_id)
        .where(ChannelIdentity.channel == "web")
    ).all()
    for row, session in rows:
        texts = [m["text"] for m in shown.get(session, [])]
        for message in render(row.template, row.params, row.language):
            if row.status != OutboxStatus.SENT or texts.count(message.text) != 1:
                return False
    return True


def telegram_deliveries(s: Session, sends: list[dict], killed: float) -> dict:
    """Each message the outbox asked for (by chat and text, or invoice payload) against the
    messages the fake accepted: more is a double, fewer is a loss."""
    expected, paid_keys = Counter(), set()
    tokens = dict(
        s.execute(
            select(Order.number, Payment.token)
            .join(Payment, Payment.order_id == Order.id)
            .where(Payment.provider == "telegram")
        )
        .tuples()
        .all()
    )
    rows = s.execute(
        select(OutboxMessage, ChannelIdentity.external_id)
        .join(ChannelIdentity, ChannelIdentity.id == OutboxMessage.identity_id)
        .where(ChannelIdentity.channel == "telegram")
    ).all()
    for row, chat in rows:
        pressed = Pressed.decode(row.params.get("pressed"))
        messages = render(row.template, row.params, row.language)
        for part in plan(messages, pressed, row.language, link_buttons=False, invoices=True):
            if part.edit is not None or part.kind == "clear_markup":
                continue
            key = f"invoice:{tokens.get(part.order)}" if part.kind == "invoice" else part.html
            expected[(int(chat), key)] += 1
            if row.template == "order_paid":
                paid_keys.add((int(chat), key))
    actual = Counter((x["chat"], x["key"]) for x in sends if x["ok"])
    doubles = {k: n - expected[k] for k, n in actual.items() if n > expected[k]}
    in_doubt = s.scalar(select(func.count()).where(OutboxMessage.last_error.contains(IN_DOUBT)))
    before_kill = sum(
        1 for x in sends if x["ok"] and x["at"] < killed and (x["chat"], x["key"]) in paid_keys
    )
    return {
        "telegram_sends": sum(actual.values()),
        "paid_pushes_before_kill": before_kill,
        "doubles_telegram": sum(doubles.values()),
        "doubles_paid_push": sum(n for k, n in doubles.items() if k in paid_keys),
        "paid_pushes_telegram": len(paid_keys),
        "lost_telegram": sum(max(0, n - actual[k]) for k, n in expected.items()),
        "lost_paid_push": sum(max(0, expected[k] - actual[k]) for k in paid_keys),
        "in_doubt_telegram": in_doubt,
    }
