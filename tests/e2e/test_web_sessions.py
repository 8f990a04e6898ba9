"""Web chat sessions are the server's to issue: a client cannot pick one, guess one or read
another customer's transcript with one, and the chat API is rate-limited."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import func, select

from bot.bootstrap import bootstrap
from bot.channels.web_session import COOKIE
from bot.ratelimit import RateLimits
from bot.server import create_app
from dialogs.i18n import t
from store.models import Message
from store.uow import UnitOfWork
from tests.conftest import free_port, serve_in_thread
from tests.e2e.conftest import LiveShop, WebChatCustomer, sample_shop_settings

API = "/chat/api/messages"


@pytest.fixture
def strict_shop(sample_db, tmp_path, interpreter) -> Iterator[LiveShop]:
    port = free_port()
    limits = {"rate_limit_messages": "3/minute", "rate_limit_new_sessions": "2/minute"}
    settings = sample_shop_settings(sample_db, tmp_path, port, **limits)
    app = bootstrap(settings, interpreter)
    app.refresh_catalog()
    with serve_in_thread(create_app(app), port) as url:
        yield LiveShop(url, app)
    app.engine.dispose()


def recorded(shop: LiveShop) -> int:
    with UnitOfWork(shop.app.sessions) as uow:
        return uow.session.scalar(select(func.count()).select_from(Message))


def test_the_page_gets_an_unguessable_http_only_session_cookie(live_shop) -> None:
    page = httpx.get(live_shop.url + "/")
    cookie = page.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    session = page.cookies[COOKIE].split(".")[0]
    assert len(session) >= 22  # at least 128 random bits, base64url
    again = httpx.get(live_shop.url + "/", cookies={COOKIE: page.cookies[COOKIE]})
    assert "set-cookie" not in again.headers  # a valid session is kept


def test_a_session_the_client_made_up_reads_and_writes_nothing(live_shop) -> None:
    victim = WebChatCustomer(live_shop.url)
    victim.send("我叫王小明，电话13912345678")
    raw = victim.http.cookies[COOKIE].split(".")[0]
    before = recorded(live_shop)
    for invented in ["zhcust001", raw, raw + ".forged", "x" * 500, ""]:
        http = httpx.Client(base_url=live_shop.url, cookies={COOKIE: invented})
        history = http.get(API, params={"after": 0})
        assert history.status_code == 401 and "13912345678" not in history.text
        body = {"client_id": uuid.uuid4().hex, "text": "hi", "session": raw}
        assert http.post(API, json=body).status_code == 401
    assert recorded(live_shop) == before
    assert t("en", "web.no_session") in history.json()["detail"]


def test_the_session_in_the_request_body_is_ignored(live_shop) -> None:
    victim, intruder = WebChatCustomer(live_shop.url), WebChatCustomer(live_shop.url)
    victim.send("hello")
    raw = victim.http.cookies[COOKIE].split(".")[0]
    body = {"client_id": uuid.uuid4().hex, "text": "my orders", "session": raw}
    assert intruder.http.post(API, json=body).status_code == 200
    assert "hello" not in str(intruder.poll())


def test_too_many_messages_from_one_session_are_refused_politely(strict_shop) -> None:
    customer = WebChatCustomer(strict_shop.url)
    for text in ["hi", "你好", "red t-shirt"]:
        customer.send(text)
    before = recorded(strict_shop)
    refused = customer.http.post(API, json={"client_id": "late", "text": "more"})
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    detail = refused.json()["detail"]
    assert t("zh", "web.rate_limited") in detail and t("en", "web.rate_limited") in detail
    assert recorded(strict_shop) == before
    assert WebChatCustomer(strict_shop.url).send("hi")  # another customer is not held up


def test_new_sessions_are_limited_per_address(strict_shop) -> None:
    answers = [httpx.post(strict_shop.url + "/chat/api/session") for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert COOKIE in answers[0].cookies and COOKIE not in answers[2].cookies


def test_workers_sharing_redis_share_the_buckets() -> None:
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", 6379)) != 0:
            pytest.skip("Redis is not running on 127.0.0.1:6379")
    uri = "redis://127.0.0.1:6379"
    key = uuid.uuid4().hex
    first, second = (RateLimits(uri, {"messages": "3/minute"}) for _ in range(2))

    async def hits() -> list[float | None]:
        return [await w.hit("messages", key) for w in (first, second, first, second)]

    allowed = asyncio.run(hits())
    assert allowed[:3] == [None, None, None] and allowed[3] is not None
