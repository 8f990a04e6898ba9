"""Telegram pushes through the real sender and python-telegram-bot against the fake Bot API
server, on an SQLite file and on PostgreSQL: a worker that dies (or stalls) between Telegram
making a message and our record of it never makes the customer see it twice, and a push that
can never be delivered dies at once with its reason instead of retrying for ever."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, update
from starlette.requests import Request
from starlette.responses import Response
from telegram import Bot

from bot.channels.telegram_send import TelegramSender
from bot.messages import Outbound
from dialogs.notifications import REPLY
from store import outbox
from store.customers import identify
from store.models import OutboxMessage, OutboxStatus, utcnow
from store.payments import TelegramPayments
from store.uow import UnitOfWork
from tests.fakes.common import serving
from tests.fakes.telegram import FakeTelegram

CHAT = 1001
PARTS = ["Your parcel left the warehouse.", "It arrives on Friday."]


class SlowToAnswer(FakeTelegram):
    """Makes the first sendMessage (the customer sees it) and holds back its answer until
    released, as a slow network or a dying worker would never hear it."""

    def __init__(self) -> None:
        super().__init__()
        self.made, self.release = threading.Event(), threading.Event()

    async def _endpoint(self, request: Request) -> Response:
        response = await super()._endpoint(request)
        if request.path_params["method"] == "sendMessage" and not self.made.is_set():
            self.made.set()
            await asyncio.to_thread(self.release.wait, 30)
        return response


@pytest.fixture
def fake() -> Iterator[SlowToAnswer]:
    with serving(SlowToAnswer()) as fake:
        fake.user(CHAT, language_code="en")
        yield fake
        fake.release.set()


def queue(sessions, chat: str, template: str, params: dict, key: str) -> int:
    with UnitOfWork(sessions) as uow:
        identity = identify(uow.session, "telegram", chat)
        row = outbox.enqueue(uow.session, identity.id, template, params, "en", key, utcnow())
        uow.commit()
        return row.id


def two_part_push(sessions) -> int:
    messages = [Outbound(text=text).to_dict() for text in PARTS]
    return queue(sessions, str(CHAT), REPLY, {"messages": messages}, "reply:1")


def paid_push(sessions, chat: str, number: str) -> int:
    params = {"number": number, "total": 9900, "currency": "CNY"}
    return queue(sessions, chat, "order_paid", params, f"order_paid:{number}")


def row(sessions, outbox_id: int) -> OutboxMessage:
    with UnitOfWork(sessions) as uow:
        return uow.session.get(OutboxMessage, outbox_id)


def lease_runs_out(sessions) -> None:
    """As if the leases of every claimed row had run out (a minute later)."""
    with UnitOfWork(sessions) as uow:
        uow.session.execute(update(OutboxMessage).values(next_attempt_at=utcnow()))
        uow.commit()


async def settled(sessions, *outbox_ids: int) -> None:
    def done() -> bool:
        return all(row(sessions, i).status != OutboxStatus.PENDING for i in outbox_ids)

    deadline = time.monotonic() + 30
    while not await asyncio.to_thread(done):
        assert time.monotonic() < deadline, "the pushes did not settle"
        await asyncio.sleep(0.05)


def run(sessions, fake: FakeTelegram, scenario: Callable[..., Awaitable[None]]) -> None:
    """`scenario(new_worker)`; each worker is what a (re)started process makes, with its own
    python-telegram-bot client."""
    bots: list[Bot] = []

    async def new_worker() -> TelegramSender:
        bots.append(Bot(**fake.bot_kwargs()))
        await bots[-1].initialize()
        return TelegramSender(
            sessions, bots[-1], Path("."), link_buttons=False, provider_token="",
            payments=TelegramPayments(), interval_s=0.1,
        )  # fmt: skip

    async def main() -> None:
        try:
            await scenario(new_worker)
        finally:
            for bot in bots:
                await bot.shutdown()

    asyncio.run(main())


def test_a_worker_killed_after_telegram_made_a_message_never_shows_it_twice(
    sql_sessions, fake
) -> None:
    pushed = two_part_push(sql_sessions)

    async def scenario(new_worker) -> None:
        dying = await new_worker()
        await dying.dispatch()
        await asyncio.to_thread(fake.made.wait, 30)  # the customer has the first part …
        await dying.stop(timeout_s=0)  # … and the worker dies before hearing so
        fake.release.set()
        lease_runs_out(sql_sessions)
        restarted = await new_worker()
        restarted.start()
        await settled(sql_sessions, pushed)
        await restarted.stop()

    run(sql_sessions, fake, scenario)
    assert fake.users[CHAT].texts() == PARTS
    delivered = row(sql_sessions, pushed)
    assert delivered.status == OutboxStatus.SENT
    assert "part 1 of 2 may not have reached the customer" in delivered.last_error


def test_a_stalled_worker_and_the_one_that_took_over_never_both_send(sql_sessions, fake) -> None:
    pushed = two_part_push(sql_sessions)

    async def scenario(new_worker) -> None:
        stalled = await new_worker()
        await stalled.dispatch()
        await asyncio.to_thread(fake.made.wait, 30)  # first part made, its answer held back
        lease_runs_out(sql_sessions)
        other = await new_worker()
        other.start()  # takes the row over and sends what is left
        await settled(sql_sessions, pushed)
        fake.release.set()  # the stalled worker hears back and would go on
        await stalled.stop()
        await other.stop()

    run(sql_sessions, fake, scenario)
    assert fake.users[CHAT].texts() == PARTS


def test_a_push_to_a_chat_id_that_is_not_a_number_dies_at_once_with_its_reason(
    sql_sessions, fake, caplog
) -> None:
    pushed = paid_push(sql_sessions, "not-a-chat", "CS100001")

    async def scenario(new_worker) -> None:
        worker = await new_worker()
        worker.start()
        await settled(sql_sessions, pushed)
        await worker.stop()

    with caplog.at_level(logging.WARNING):
        run(sql_sessions, fake, scenario)
    dead = row(sql_sessions, pushed)
    assert dead.status == OutboxStatus.DEAD and dead.attempts == 1
    assert "'not-a-chat' is not a Telegram chat id" in dead.last_error
    assert not [r for r in caplog.records if r.exc_info]  # a known cause needs no traceback


def test_a_push_that_cannot_be_shown_dies_at_once_and_the_next_one_to_the_chat_arrives(
    sql_sessions, fake, caplog
) -> None:
    broken = queue(sql_sessions, str(CHAT), "order_shipped_v9", {"number": "CS1"}, "shipped:1")
    after = paid_push(sql_sessions, str(CHAT), "CS100002")
    fake.release.set()

    async def scenario(new_worker) -> None:
        worker = await new_worker()
        worker.start()
        await settled(sql_sessions, broken, after)
        await worker.stop()

    with caplog.at_level(logging.WARNING):
        run(sql_sessions, fake, scenario)
    dead = row(sql_sessions, broken)
    assert dead.status == OutboxStatus.DEAD and "cannot be rendered" in dead.last_error
    assert row(sql_sessions, after).status == OutboxStatus.SENT
    assert ["CS100002" in text for text in fake.users[CHAT].texts()] == [True]
    assert len([r for r in caplog.records if r.exc_info]) == 1
    with UnitOfWork(sql_sessions) as uow:
        assert uow.session.scalars(select(OutboxMessage.attempts)).all() == [1, 1]
