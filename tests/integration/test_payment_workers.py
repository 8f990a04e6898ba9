"""Two workers receive a payment's notification at the same moment: it is applied once.

Providers send a notification again when they are unsure it arrived, and behind a load
balancer the copies may reach two workers at once; a provider may also send two different
notifications (different ids) for the same payment. Either way the customer must be charged
once: one capture, one "paid" event, one confirmation push, and the order paid once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from store import carts, customers, orders, payments
from store.db import make_engine, make_session_factory
from store.models import Order, OrderEvent, OutboxMessage, Payment, PaymentNotification, utcnow
from store.uow import UnitOfWork
from tests.conftest import SANDBOX
from tests.integration.contention import Contender

SHIP = orders.ShippingDetails("Li Lei", "13800000000", "1 Test Road, Shenzhen")
Note = tuple[bytes, dict[str, str]]  # a signed notification: body and headers


def awaiting_payment(sessions: sessionmaker[Session], chat: str) -> Payment:
    """A web customer's order with its sandbox payment opened, not yet paid."""
    with UnitOfWork(sessions) as uow:
        identity = customers.identify(uow.session, "web", chat)
        carts.add_to_cart(uow.session, identity.customer_id, "TEE-1-RED-M", 1)
        recipient = orders.Recipient(identity.customer_id, identity.id, "en")
        order = orders.place_order(uow.session, recipient, SHIP, utcnow(), timedelta(minutes=30))
        payment = payments.start_payment(uow.session, SANDBOX, order, utcnow())
        uow.commit()
        return payment


def apply(session: Session, note: Note) -> str:
    return payments.handle_notification(session, SANDBOX, *note, utcnow())


def what_the_shop_recorded(sessions: sessionmaker[Session], payment: Payment) -> dict:
    with UnitOfWork(sessions) as uow:
        s = uow.session
        order = s.get(Order, payment.order_id)
        assert order is not None and order.identity_id is not None
        notes = select(PaymentNotification.outcome).filter_by(payment_id=payment.id)
        paid = select(func.count()).where(
            OrderEvent.order_id == order.id, OrderEvent.type == "paid"
        )
        pushes = select(OutboxMessage.template).filter_by(identity_id=order.identity_id)
        return {
            "payment": s.get(Payment, payment.id).status,
            "order": (order.status, order.payment_status),
            "notifications": sorted(s.scalars(notes)),
            "paid_events": s.scalar(paid),
            "pushes": list(s.scalars(pushes)),
        }


def paid_once(notifications: list[str]) -> dict:
    return {
        "payment": "captured",
        "order": ("paid", "captured"),
        "notifications": notifications,
        "paid_events": 1,
        "pushes": ["order_paid"],
    }


# --- two workers, released together by a barrier (SQLite file and PostgreSQL) ------------------


@pytest.fixture
def workers(store_url: str, sql_sessions) -> Iterator[list[sessionmaker[Session]]]:
    """Two workers, each with its own engine and connection pool, as two processes would be."""
    engines: list[Engine] = [make_engine(store_url) for _ in range(2)]
    for engine in engines:
        engine.connect().close()  # connected before the barrier, so both start at once
    yield [make_session_factory(engine) for engine in engines]
    for engine in engines:
        engine.dispose()


def at_the_same_moment(workers: list[sessionmaker[Session]], notes: list[Note]) -> list[str]:
    """Each worker applies its notification in its own transaction, released by one barrier;
    their outcomes, sorted (an error counts as an outcome: the provider would get a 500)."""
    barrier = threading.Barrier(len(workers))
    outcomes: list[str] = [""] * len(workers)

    def work(i: int) -> None:
        barrier.wait(timeout=60)
        try:
            with UnitOfWork(workers[i]) as uow:
                outcomes[i] = apply(uow.session, notes[i])
                uow.commit()
        except Exception as exc:
            outcomes[i] = f"error {type(exc).__name__}"

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(workers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a worker never finished"
    return sorted(outcomes)


ROUNDS = 5  # a few orders, so the workers overlap in more than one way


def test_the_same_notification_on_two_workers_at_once_is_applied_once(
    sql_sessions, workers
) -> None:
    for n in range(ROUNDS):
        payment = awaiting_payment(sql_sessions, f"same-{n}")
        note = SANDBOX.notification_for(payment, utcnow())
        assert at_the_same_moment(workers, [note, note]) == ["captured", "duplicate"]
        assert what_the_shop_recorded(sql_sessions, payment) == paid_once(["captured"])


def test_two_notifications_for_one_payment_on_two_workers_at_once_capture_once(
    sql_sessions, workers
) -> None:
    for n in range(ROUNDS):
        payment = awaiting_payment(sql_sessions, f"two-{n}")
        notes = [SANDBOX.notification_for(payment, utcnow()) for _ in range(2)]
        assert at_the_same_moment(workers, notes) == ["already_captured", "captured"]
        expected = paid_once(["already_captured", "captured"])
        assert what_the_shop_recorded(sql_sessions, payment) == expected


# --- PostgreSQL: the second worker arrives while the first has not committed yet -------------


@pytest.mark.parametrize("same", [True, False], ids=["same notification", "another notification"])
def test_a_notification_arriving_while_the_first_is_being_applied_waits_and_changes_nothing(
    pg_sessions, same: bool
) -> None:
    payment = awaiting_payment(pg_sessions, "held")
    first = SANDBOX.notification_for(payment, utcnow())
    second = first if same else SANDBOX.notification_for(payment, utcnow())
    # given the first worker has applied its notification but not committed yet
    with UnitOfWork(pg_sessions) as uow:
        assert apply(uow.session, first) == "captured"
        # when the second arrives on another worker, it must wait for the first
        contender = Contender(pg_sessions, lambda session: apply(session, second))
        contender.start_and_wait_until_blocked()
        uow.commit()
    # then it sees the payment captured and changes nothing
    assert contender.result() == ("duplicate" if same else "already_captured")
    expected = paid_once(["captured"] if same else ["already_captured", "captured"])
    assert what_the_shop_recorded(pg_sessions, payment) == expected
