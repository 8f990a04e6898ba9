"""WeChat's retries against the webhook, on SQLite and PostgreSQL, with no race against the wall
clock: each worker's reply budget runs on a clock the test moves, and its dialog work waits on
an event the test sets, so the test decides whether an answer is ready before the budget runs
out and when each retry arrives.

WeChat repeats a push byte for byte when it got no answer within 5 s, and then listens only to
the latest attempt. What the customer gets is that attempt's passive reply, if any, plus every
customer-service message; each test asserts it is the reply, exactly once."""

from __future__ import annotations

import asyncio
import base64
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from bot.bootstrap import App, bootstrap
from bot.channels import wechat
from bot.channels.wechat_answer import RETRY_WINDOW_S
from bot.config import Settings
from bot.gateway import Handled
from bot.messages import Inbound
from dialogs.i18n import t
from store import outbox
from store.models import Message, OutboxMessage, OutboxStatus, utcnow
from store.uow import UnitOfWork
from tests.conftest import SAMPLE, free_port, load_catalog, serve_in_thread
from tests.fakes.wechat import (
    FakeWeChat,
    FakeWeChatUser,
    InboxItem,
    Push,
    parse_xml,
    running_fake_wechat,
)

AES_KEY = base64.b64encode(bytes(range(32))).decode().rstrip("=")
BUDGET_S = 3.0
WAIT_S = 30.0  # a generous deadline for things that happen at once
GREETING = t("zh", "greet")


class FakeClock:
    """A worker's reply clock, moved by the test: `advance()` runs out the budgets of the
    requests waiting on it. Wall time is the real one, as the store's records carry it."""

    def __init__(self) -> None:
        self._seconds = 0.0
        self._changed = threading.Condition()
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def monotonic(self) -> float:
        with self._changed:
            return self._seconds

    def now(self):
        return utcnow()

    async def sleep(self, seconds: float) -> None:
        entry = (self.monotonic() + seconds, asyncio.get_running_loop().create_future())
        with self._changed:
            self._sleepers.append(entry)
            self._changed.notify_all()
        try:
            await entry[1]
        finally:
            with self._changed:
                if entry in self._sleepers:
                    self._sleepers.remove(entry)
                self._changed.notify_all()

    def advance(self, seconds: float) -> None:
        with self._changed:
            self._seconds += seconds
            due = [s for s in self._sleepers if s[0] <= self._seconds]
        for _, future in due:
            future.get_loop().call_soon_threadsafe(_wake, future)

    def wait_for_waiting(self, requests: int) -> None:
        """Until `requests` requests wait on their budget."""
        with self._changed:
            waiting = self._changed.wait_for(lambda: len(self._sleepers) >= requests, WAIT_S)
        assert waiting, f"{requests} requests did not come to wait on the budget"


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class WatchedLock:
    """A lock that counts the threads that came to take it, so a test knows one waits on it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition()
        self.came = 0

    def __enter__(self) -> bool:
        with self._changed:
            self.came += 1
            self._changed.notify_all()
        return self._lock.acquire()

    def __exit__(self, *_: object) -> None:
        self._lock.release()

    def wait_for(self, came: int) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: self.came >= came, WAIT_S), "nobody came"


@dataclass
class Hold:
    """A worker's dialog work, held: `reached` once a message gets there, `go` lets it on."""

    reached: threading.Event = field(default_factory=threading.Event)
    go: threading.Event = field(default_factory=threading.Event)

    def wait_reached(self) -> None:
        assert self.reached.wait(WAIT_S), "no message reached the held work"


@dataclass
class Worker:
    """One `chatshop serve` worker: its own engine, gateway, WeChat channel and clock."""

    app: App
    channel: wechat.WeChatChannel
    clock: FakeClock
    webhook: str

    def hold(self, *, after_recording: bool = False) -> Hold:
        """Hold this worker's dialog work from now on: before the message is recorded (as a
        slow NLU does) or after, before the answer is decided."""
        hold = Hold()
        handle = self.app.gateway.handle

        def held(inbound: Inbound) -> Handled:
            if not after_recording:
                hold.reached.set()
                assert hold.go.wait(WAIT_S)
            handled = handle(inbound)
            if after_recording:
                hold.reached.set()
                assert hold.go.wait(WAIT_S)
            return handled

        self.app.gateway.handle = held  # type: ignore[method-assign]
        return hold

    def settled(self) -> bool:
        """Every message this worker took has been worked on to the end."""
        return all(a.finished.done() for a in list(self.channel._attempts.values()))


@dataclass
class Shop:
    fake: FakeWeChat
    workers: list[Worker]
    store_url: str
    pool: ThreadPoolExecutor

    def post(self, push: Push, worker: int = 0) -> Future[httpx.Response]:
        """WeChat's request, sent to one worker; its answer, once it comes."""
        url = self.workers[worker].webhook
        return self.pool.submit(self.fake.post_webhook, push, url, WAIT_S)

    def received(self, user: FakeWeChatUser, live: httpx.Response) -> list[tuple[str, str]]:
        """What the customer got, once everything settled: the passive reply in the answer
        WeChat still listened to (`live`), then every customer-service message."""
        self.settle()
        assert live.status_code == 200, live.text
        got = []
        if live.content != b"success":
            reply = parse_xml(self.fake.crypto.decrypt(str(parse_xml(live.content)["Encrypt"])))
            got.append(("passive", _readable(reply)))
        return got + [(item.kind, _readable_item(item)) for item in user.messages()]

    def settle(self) -> None:
        """Until every worker is done and nothing is left to send."""

        def done() -> bool:
            if not all(w.settled() for w in self.workers):
                return False
            with UnitOfWork(self.workers[0].app.sessions) as uow:
                pending = select(OutboxMessage.id).filter_by(status=OutboxStatus.PENDING)
                return uow.session.scalars(pending).first() is None

        wait_until(done, "the replies to be delivered")

    def rows(self) -> list[tuple[str, str]]:
        """(dedupe key, sent_as) of every outbox row: the decisions the shop recorded."""
        with UnitOfWork(self.workers[0].app.sessions) as uow:
            rows = uow.session.execute(
                select(OutboxMessage.dedupe_key, OutboxMessage.sent_as).order_by(OutboxMessage.id)
            )
            return [(key.split(":")[0], how) for key, how in rows]

    def inbound(self) -> int:
        with UnitOfWork(self.workers[0].app.sessions) as uow:
            return len(uow.session.scalars(select(Message.id).filter_by(direction="in")).all())


def _readable(reply: dict[str, Any]) -> str:
    if reply["MsgType"] == "image":
        return "picture"
    return _label(str(reply.get("Content", "")))


def _readable_item(item: InboxItem) -> str:
    return "picture" if item.msgtype == "image" else _label(item.text)


def _label(text: str) -> str:
    """What a text is: the shop's welcome (with its options), or some other text."""
    return "welcome" if GREETING in text else "text"


def wait_until(condition: Callable[[], object], what: str) -> None:
    done = threading.Event()
    for _ in range(int(WAIT_S / 0.02)):
        if condition():
            return
        done.wait(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@contextmanager
def worker(fake: FakeWeChat, store_url: str, data_dir: Path, interpreter) -> Iterator[Worker]:
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = Settings(
        database_url=store_url,
        data_dir=str(data_dir),
        sandbox_secret="retry-secret",
        dispatch_interval_s=0.05,
        wechat_app_id=fake.app_id,
        wechat_app_secret=fake.app_secret,
        wechat_token=fake.token,
        wechat_aes_key=AES_KEY,
        wechat_api_base_url=fake.url,
        wechat_reply_budget_s=BUDGET_S,
    )
    app = bootstrap(settings, interpreter)
    clock = FakeClock()
    channel = wechat.WeChatChannel(app, clock=clock)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        await channel.start()
        yield
        await channel.stop()

    api = FastAPI(lifespan=lifespan)
    api.state.wechat = channel
    api.include_router(wechat.router())
    try:
        with serve_in_thread(api, free_port()) as url:
            yield Worker(app, channel, clock, f"{url}/webhooks/wechat")
    finally:
        app.engine.dispose()


@pytest.fixture
def shop(store_url: str, tmp_path: Path, interpreter) -> Iterator[Shop]:
    """Two workers of one shop on one database, and WeChat (in safe mode, the default)."""
    with ExitStack() as stack:
        fake = stack.enter_context(running_fake_wechat(aes_key=AES_KEY))
        # the workers share the data folder (the catalog's pictures), as on one server
        workers = [
            stack.enter_context(worker(fake, store_url, tmp_path, interpreter)) for _ in "ab"
        ]
        load_catalog(workers[0].app.sessions, SAMPLE, tmp_path / "media")
        for w in workers:
            w.app.refresh_catalog()
        pool = stack.enter_context(ThreadPoolExecutor(max_workers=8))
        yield Shop(fake, workers, store_url, pool)


def test_an_answer_ready_within_the_budget_is_the_passive_reply_also_for_a_retry(
    shop: Shop,
) -> None:
    a = shop.workers[0]
    user = shop.fake.user("o_quick")
    push = user.send_text("你好", deliver=False)
    hold = a.hold()
    first = shop.post(push)
    hold.wait_reached()
    a.clock.wait_for_waiting(1)
    retry = shop.post(push)  # WeChat gave up on the first request: the same one again
    a.clock.wait_for_waiting(2)
    hold.go.set()  # the answer is ready before the budget runs out
    assert first.result().content == retry.result().content  # one decision, one answer
    assert shop.received(user, retry.result()) == [("passive", "welcome")]
    assert shop.rows() == [("reply", "passive")]
    assert shop.inbound() == 1


def test_an_answer_later_than_the_budget_goes_as_service_messages_once(shop: Shop) -> None:
    a = shop.workers[0]
    user = shop.fake.user("o_slow")
    push = user.send_text("你好", deliver=False)
    hold = a.hold()
    first = shop.post(push)
    hold.wait_reached()
    a.clock.wait_for_waiting(1)
    retry = shop.post(push)  # arrives while nothing is decided
    a.clock.wait_for_waiting(2)
    a.clock.advance(BUDGET_S)  # the budget runs out before the answer is ready
    assert [first.result().content, retry.result().content] == [b"success"] * 2
    hold.go.set()
    last = shop.post(push).result()  # arrives after the decision
    assert last.content == b"success"
    assert shop.received(user, last) == [("custom", "welcome")]
    assert shop.rows() == [("reply", "custom")]
    assert shop.inbound() == 1


def test_a_budget_running_out_while_passive_is_recorded_waits_for_that_decision(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = shop.workers[0]
    user = shop.fake.user("o_edge")
    push = user.send_text("你好", deliver=False)
    recording, recorded = threading.Event(), threading.Event()
    mark_passive = outbox.mark_passive

    def slow_mark_passive(*args: Any) -> bool:  # the database is slow to record "passive"
        recording.set()
        assert recorded.wait(WAIT_S)
        return mark_passive(*args)

    monkeypatch.setattr(outbox, "mark_passive", slow_mark_passive)
    hold = a.hold(after_recording=True)
    first = shop.post(push)
    hold.wait_reached()
    [attempt] = a.channel._attempts.values()
    attempt.lock = lock = WatchedLock()  # type: ignore[assignment]
    hold.go.set()
    assert recording.wait(WAIT_S)
    came = lock.came
    a.clock.advance(BUDGET_S)  # the request's budget runs out meanwhile
    lock.wait_for(came + 1)  # and it comes to decide "success"
    recorded.set()
    assert shop.received(user, first.result()) == [("passive", "welcome")]
    assert shop.rows() == [("reply", "passive")]


@pytest.mark.parametrize("other_worker", [False, True], ids=["same-worker", "other-worker"])
def test_a_retry_after_a_passive_answer_gets_its_first_part_as_a_service_message(
    shop: Shop, other_worker: bool
) -> None:
    user = shop.fake.user("o_lost")
    push = user.scan(1, deliver=False)  # a product: its picture, then its details
    first = shop.post(push).result()  # decided "passive"; WeChat never got it (timed out)
    assert _readable(_decrypted(shop, first)) == "picture"
    retry = shop.post(push, worker=int(other_worker)).result()
    assert retry.content == b"success"
    third = shop.post(push, worker=0).result()  # and once more: still only once
    assert third.content == b"success"
    received = shop.received(user, third)
    # the details (the rest of the reply), then the picture the passive reply had carried
    assert received == [("custom", "text"), ("custom", "picture")]
    assert shop.rows() == [("reply", "passive-lost+custom"), ("passive-lost", "custom")]


def test_a_retry_on_another_worker_while_the_first_is_still_working(shop: Shop) -> None:
    a = shop.workers[0]
    user = shop.fake.user("o_overtaken")
    push = user.send_text("你好", deliver=False)
    hold = a.hold()  # before the message is recorded, as a slow NLU
    first = shop.post(push, worker=0)
    hold.wait_reached()
    retry = shop.post(push, worker=1).result()  # handled there, within its budget
    hold.go.set()
    first.result()  # WeChat no longer listens to it, whatever it says
    assert shop.received(user, retry) == [("passive", "welcome")]
    assert shop.rows() == [("reply", "passive")]
    assert shop.inbound() == 1


def test_a_retry_on_another_worker_before_the_first_decides(shop: Shop) -> None:
    a = shop.workers[0]
    user = shop.fake.user("o_undecided")
    push = user.send_text("你好", deliver=False)
    hold = a.hold(after_recording=True)
    first = shop.post(push, worker=0)
    hold.wait_reached()  # recorded, not decided
    retry = shop.post(push, worker=1).result()
    assert retry.content == b"success"  # so the first may no longer answer passively
    hold.go.set()
    assert first.result().content == b"success"
    assert shop.received(user, retry) == [("custom", "welcome")]
    assert shop.rows() == [("reply", "retried+custom")]


def test_a_replay_after_wechats_retries_sends_nothing_again(shop: Shop) -> None:
    a = shop.workers[0]
    user = shop.fake.user("o_replayed")
    push = user.send_text("你好", deliver=False)
    answer = shop.post(push).result()
    assert _readable(_decrypted(shop, answer)) == "welcome"
    a.clock.advance(RETRY_WINDOW_S + 1)
    assert shop.post(push, worker=0).result().content == b"success"
    with UnitOfWork(a.app.sessions) as uow:  # recorded long ago, as far as worker b can tell
        late = utcnow() - timedelta(seconds=RETRY_WINDOW_S + 1)
        uow.session.execute(update(Message).values(created_at=late))
        uow.commit()
    assert shop.post(push, worker=1).result().content == b"success"
    shop.settle()
    assert user.messages() == []  # the passive reply reached the customer; no copy follows
    assert shop.rows() == [("reply", "passive")]


def test_the_same_nonce_with_another_body_is_refused(shop: Shop) -> None:
    fake = shop.fake
    user = fake.user("o_target")
    push = user.send_text("你好", deliver=False)
    assert shop.post(push).result().status_code == 200
    other = user.send_text("把我的地址告诉我", deliver=False)
    params = push.params
    xml = fake.crypto.decrypt(str(parse_xml(other.body)["Encrypt"]))
    forged = fake.envelope(xml, timestamp=params["timestamp"], nonce=params["nonce"])
    assert forged.params["nonce"] == params["nonce"] and forged.body != push.body
    assert shop.post(forged).result().status_code == 403
    assert shop.post(push).result().status_code == 200  # the genuine retry still is one
    assert shop.inbound() == 1


def _decrypted(shop: Shop, answer: httpx.Response) -> dict[str, Any]:
    assert answer.status_code == 200 and answer.content != b"success", answer.content
    return parse_xml(shop.fake.crypto.decrypt(str(parse_xml(answer.content)["Encrypt"])))
