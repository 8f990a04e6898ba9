"""The outbox: pushes are delivered once, retried with backoff, and survive a restart."""

from datetime import timedelta

from sqlalchemy import select

from bot.messages import Outbound
from scheduler.dispatcher import DeliveryError, dispatch_due
from store import outbox
from store.customers import identify
from store.models import ChannelIdentity, Message, OutboxMessage, OutboxStatus, utcnow
from store.uow import UnitOfWork


class FlakyChannel:
    name = "web"

    def __init__(self, failures: int = 0, unreachable: bool = False) -> None:
        self.failures, self.unreachable, self.sent = failures, unreachable, []

    def send(self, identity: ChannelIdentity, messages: list[Outbound], key: str) -> None:
        if self.failures:
            self.failures -= 1
            raise DeliveryError("network down", unreachable=self.unreachable)
        self.sent.append((identity.external_id, key, messages[0].text))


def queue_paid_push(sessions) -> int:
    with UnitOfWork(sessions) as uow:
        identity = identify(uow.session, "web", "push-user")
        params = {"number": "CS100001", "total": 9900, "currency": "CNY"}
        outbox.enqueue(
            uow.session, identity.id, "order_paid", params, "en", "order_paid:1", utcnow()
        )
        outbox.enqueue(
            uow.session, identity.id, "order_paid", params, "en", "order_paid:1", utcnow()
        )
        uow.commit()
        return identity.id


def transcript(sessions) -> list[str]:
    with UnitOfWork(sessions) as uow:
        return [m.text for m in uow.session.scalars(select(Message).order_by(Message.id))]


def row(sessions) -> OutboxMessage:
    with UnitOfWork(sessions) as uow:
        return uow.session.scalars(select(OutboxMessage)).one()


def test_a_push_is_queued_once_and_delivered_once(sessions) -> None:
    queue_paid_push(sessions)
    channel = FlakyChannel()
    assert dispatch_due(sessions, {"web": channel}) == 1
    assert dispatch_due(sessions, {"web": channel}) == 0
    assert len(channel.sent) == 1 and "CS100001" in channel.sent[0][2]
    assert len(transcript(sessions)) == 1 and row(sessions).status == OutboxStatus.SENT


def test_failed_delivery_backs_off_and_is_retried(sessions) -> None:
    queue_paid_push(sessions)
    channel = FlakyChannel(failures=1)
    assert dispatch_due(sessions, {"web": channel}) == 0
    pending = row(sessions)
    assert pending.status == OutboxStatus.PENDING and pending.next_attempt_at > utcnow()
    later = pending.next_attempt_at + timedelta(seconds=1)
    assert dispatch_due(sessions, {"web": channel}, clock=lambda: later) == 1
    assert row(sessions).status == OutboxStatus.SENT


def test_unreachable_customer_is_not_retried(sessions) -> None:
    identity_id = queue_paid_push(sessions)
    dispatch_due(sessions, {"web": FlakyChannel(failures=1, unreachable=True)})
    assert row(sessions).status == OutboxStatus.DEAD
    with UnitOfWork(sessions) as uow:
        assert uow.session.get(ChannelIdentity, identity_id).reachable is False


def test_a_worker_that_dies_mid_send_leaves_the_push_to_be_sent_after_the_lease(sessions) -> None:
    queue_paid_push(sessions)
    # a worker claims the row and dies before sending
    with UnitOfWork(sessions) as uow:
        assert len(outbox.claim_due(uow.session, utcnow(), ["web"])) == 1
        uow.commit()
    channel = FlakyChannel()
    assert dispatch_due(sessions, {"web": channel}) == 0  # still leased
    after_lease = utcnow() + outbox.LEASE + timedelta(seconds=1)
    assert dispatch_due(sessions, {"web": channel}, clock=lambda: after_lease) == 1
    assert len(channel.sent) == 1 and len(transcript(sessions)) == 1


def queue_pushes(sessions, channel: str, chat: str, numbers: list[str]) -> int:
    with UnitOfWork(sessions) as uow:
        identity = identify(uow.session, channel, chat)
        for number in numbers:
            params = {"number": number, "total": 100, "currency": "CNY"}
            outbox.enqueue(
                uow.session, identity.id, "order_paid", params, "en", f"paid:{number}", utcnow()
            )
        uow.commit()
        return identity.id


def test_a_failed_push_holds_back_the_later_ones_to_the_same_customer(sessions) -> None:
    queue_pushes(sessions, "web", "ordered", ["CS1", "CS2", "CS3"])
    channel = FlakyChannel(failures=1)
    assert dispatch_due(sessions, {"web": channel}) == 0  # CS1 failed, CS2 and CS3 not tried
    assert channel.sent == []
    assert dispatch_due(sessions, {"web": channel}) == 0  # still backing off: nothing jumps ahead
    later = utcnow() + timedelta(minutes=5)
    assert dispatch_due(sessions, {"web": channel}, clock=lambda: later) == 3
    assert [text.split()[5] for _, _, text in channel.sent] == ["CS1", "CS2", "CS3"]


def test_only_the_named_channels_rows_are_claimed(sessions) -> None:
    queue_pushes(sessions, "telegram", "42", ["CS9"])
    assert dispatch_due(sessions, {"web": FlakyChannel()}) == 0
    with UnitOfWork(sessions) as uow:
        assert len(outbox.claim_due(uow.session, utcnow(), ["telegram"])) == 1
