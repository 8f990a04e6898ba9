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


class BrokenChannel:
    """A channel with a bug: every delivery raises something no one planned for."""

    name = "web"

    def send(self, identity, messages, key) -> None:
        raise RuntimeError("bug in the channel")


def tracebacks(caplog) -> int:
    return len([r for r in caplog.records if r.exc_info])


def outbox_rows(sessions) -> list[OutboxMessage]:
    with UnitOfWork(sessions) as uow:
        return list(uow.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_a_push_whose_worker_keeps_dying_is_given_up_after_the_attempt_limit(sql_sessions) -> None:
    queue_pushes(sql_sessions, "telegram", "7", ["CS1"])
    now = utcnow()
    for _ in range(outbox.MAX_ATTEMPTS):  # claimed, and the worker dies before reporting back
        assert len(claim(sql_sessions, ["telegram"], now)) == 1
        now += outbox.LEASE + timedelta(seconds=1)
    assert claim(sql_sessions, ["telegram"], now) == []
    [dead] = outbox_rows(sql_sessions)
    assert dead.status == OutboxStatus.DEAD and dead.attempts == outbox.MAX_ATTEMPTS
    assert "gave up after 8 attempts" in dead.last_error
    queue_pushes(sql_sessions, "telegram", "7", ["CS2"])  # the customer's next push goes out
    assert [c.params["number"] for c in claim(sql_sessions, ["telegram"], now)] == ["CS2"]


def test_a_push_that_cannot_be_rendered_dies_at_once_and_the_next_one_goes_out(
    sql_sessions, caplog
) -> None:
    identity_id = queue_pushes(sql_sessions, "web", "ordered", ["CS1"])
    with UnitOfWork(sql_sessions) as uow:  # a push whose template this version does not know
        outbox.enqueue(uow.session, identity_id, "order_shipped_v9", {}, "en", "v9:1", utcnow())
        uow.commit()
    queue_pushes(sql_sessions, "web", "ordered", ["CS2"])
    channel = FlakyChannel()
    assert dispatch_due(sql_sessions, {"web": channel}) == 2
    assert [text.split()[5] for _, _, text in channel.sent] == ["CS1", "CS2"]
    statuses = [(r.status, r.attempts) for r in outbox_rows(sql_sessions)]
    assert statuses == [("sent", 1), ("dead", 1), ("sent", 1)]
    assert "cannot be rendered" in outbox_rows(sql_sessions)[1].last_error
    assert tracebacks(caplog) == 1


def test_a_delivery_that_crashes_backs_off_and_dies_after_the_limit_with_one_traceback(
    sql_sessions, caplog
) -> None:
    queue_pushes(sql_sessions, "web", "unlucky", ["CS1", "CS2"])
    queue_pushes(sql_sessions, "telegram", "8", ["CS3"])
    clock = [utcnow()]
    for attempt in range(1, outbox.MAX_ATTEMPTS + 1):
        assert dispatch_due(sql_sessions, {"web": BrokenChannel()}, clock=lambda: clock[0]) == 0
        first, second, other = outbox_rows(sql_sessions)
        assert first.attempts == attempt and second.attempts == 0  # CS2 waits its turn
        if attempt < outbox.MAX_ATTEMPTS:
            assert first.status == OutboxStatus.PENDING and first.next_attempt_at > clock[0]
            clock[0] = first.next_attempt_at  # its backoff is over
    assert first.status == OutboxStatus.DEAD
    assert "gave up after 8 attempts: bug in the channel" in first.last_error
    assert tracebacks(caplog) == 1
    assert other.status == OutboxStatus.PENDING and other.attempts == 0  # another channel's
