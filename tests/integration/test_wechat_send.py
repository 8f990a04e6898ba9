"""WeChat customer-service pushes through the real sender and wechatpy against the fake WeChat
platform, on an SQLite file and on PostgreSQL: a worker that stalls between WeChat sending a
message and our record of it, and the worker that takes its row over, never both send."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update
from starlette.requests import Request
from starlette.responses import Response

from bot.bootstrap import App, bootstrap
from bot.channels.wechat_client import WeChatApi
from bot.channels.wechat_send import WeChatSender
from bot.config import Settings
from bot.messages import Outbound
from dialogs.notifications import REPLY
from scheduler import dispatcher
from store import customers, outbox
from store.models import OutboxMessage, OutboxStatus, utcnow
from store.uow import UnitOfWork
from tests.fakes.common import serving, tiny_png
from tests.fakes.wechat import FakeWeChat

OPENID = "o_slow_answer"


class SlowToAnswer(FakeWeChat):
    """Sends the first customer-service message (the customer sees it) and holds back the
    answer until released, as for a worker that stalls or dies waiting for it."""

    def __init__(self) -> None:
        super().__init__()
        self.made, self.release = threading.Event(), threading.Event()

    async def _endpoint(self, request: Request) -> Response:
        response = await super()._endpoint(request)
        if request.path_params["path"] == "message/custom/send" and not self.made.is_set():
            self.made.set()
            await asyncio.to_thread(self.release.wait, 30)
        return response


@pytest.fixture
def fake() -> Iterator[SlowToAnswer]:
    with serving(SlowToAnswer()) as fake:
        fake.user(OPENID).send_text("我的包裹到哪了", deliver=False)  # opens the 48 h window
        yield fake
        fake.release.set()


@pytest.fixture
def app(store_url: str, tmp_path: Path, fake: SlowToAnswer, interpreter) -> Iterator[App]:
    settings = Settings(
        database_url=store_url, data_dir=str(tmp_path), wechat_app_id=fake.app_id,
        wechat_app_secret=fake.app_secret, wechat_token="token", wechat_api_base_url=fake.url,
        dispatch_interval_s=0.1,
    )  # fmt: skip
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "parcel.png").write_bytes(tiny_png())
    app = bootstrap(settings, interpreter)
    yield app
    app.engine.dispose()


def worker(app: App, fake: FakeWeChat) -> WeChatSender:
    """What each (re)started process makes."""
    return WeChatSender(app, WeChatApi(fake.app_id, fake.app_secret, fake.url, app.sessions))


def picture_and_text_push(app: App) -> int:
    messages = [Outbound(text="Your parcel left the warehouse.", image="parcel.png")]
    with UnitOfWork(app.sessions) as uow:
        identity = customers.identify(uow.session, "wechat", OPENID)
        customers.note_inbound(identity, utcnow(), (5, 48 * 3600))
        params = {"messages": [m.to_dict() for m in messages]}
        row = outbox.enqueue(uow.session, identity.id, REPLY, params, "en", "reply:1", utcnow())
        uow.commit()
        return row.id


def status(app: App, outbox_id: int) -> OutboxStatus:
    with UnitOfWork(app.sessions) as uow:
        return uow.session.get(OutboxMessage, outbox_id).status


def test_a_stalled_worker_and_the_one_that_took_over_never_both_send(app, fake) -> None:
    pushed = picture_and_text_push(app)
    stalled, other = worker(app, fake), worker(app, fake)
    [claimed] = dispatcher.claim(app.sessions, ["wechat"], utcnow())
    stalled.deliver_now(claimed)
    assert fake.made.wait(30)  # the picture was sent; its answer is held back
    with UnitOfWork(app.sessions) as uow:  # the stalled worker's lease runs out
        uow.session.execute(update(OutboxMessage).values(next_attempt_at=utcnow()))
        uow.commit()
    other.start()  # takes the row over and sends what is left
    deadline = time.monotonic() + 30
    while status(app, pushed) == OutboxStatus.PENDING:
        assert time.monotonic() < deadline, "the push was not delivered"
        time.sleep(0.05)
    fake.release.set()  # the stalled worker hears back and would go on
    stalled.stop()
    other.stop()
    received = [(item.kind, item.msgtype) for item in fake.users[OPENID].inbox]
    assert received == [("custom", "image"), ("custom", "text")]
