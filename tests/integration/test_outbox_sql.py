"""The outbox's claims on a real SQLite file and on PostgreSQL: per-customer order, leases
that keep two workers apart, and giving up on a customer who blocked the shop."""

from datetime import timedelta

from sqlalchemy import select

from scheduler.dispatcher import claim, dispatch_due, failed
from store import outbox
from store.models import OutboxMessage, OutboxStatus, utcnow
from store.uow import UnitOfWork
from tests.unit.test_dispatcher import FlakyChannel, queue_pushes


def test_pushes_to_one_customer_are_claimed_in_order_and_never_twice(sql_sessions) -> None:
    queue_pushes(sql_sessions, "telegram", "7", ["CS1", "CS2"])
    queue_pushes(sql_sessions, "telegram", "8", ["CS3"])
    first = claim(sql_sessions, ["telegram"], utcnow())
    assert [c.params["number"] for c in first] == ["CS1", "CS2", "CS3"]
    assert claim(sql_sessions, ["telegram"], utcnow()) == []  # leased: a second worker gets none

    failed(sql_sessions, first[0], "network down", utcnow())  # CS1 backs off …
    outbox_ids = [c.outbox_id for c in first[1:2]]
    with UnitOfWork(sql_sessions) as uow:
        outbox.release(uow.session, outbox_ids, utcnow())  # … and CS2 was handed back untried
        uow.commit()
    assert claim(sql_sessions, ["telegram"], utcnow()) == []  # CS2 waits behind CS1
    later = utcnow() + timedelta(minutes=5)  # also past the lease of CS3, a crashed send
    again = claim(sql_sessions, ["telegram"], later)
    assert [c.params["number"] for c in again] == ["CS1", "CS2", "CS3"]


def test_a_blocked_customer_gets_none_of_the_queued_pushes(sql_sessions) -> None:
    queue_pushes(sql_sessions, "web", "gone", ["CS1", "CS2"])
    dispatch_due(sql_sessions, {"web": FlakyChannel(failures=1, unreachable=True)})
    with UnitOfWork(sql_sessions) as uow:
        statuses = uow.session.scalars(select(OutboxMessage.status)).all()
    assert statuses == [OutboxStatus.DEAD, OutboxStatus.DEAD]
