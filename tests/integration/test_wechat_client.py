"""WeChatApi shares one access_token between worker processes through the database: real HTTP
against the fake WeChat API, on an SQLite file and on PostgreSQL. Two clients with their own
engines stand for two worker processes."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
import requests
from sqlalchemy.orm import Session, sessionmaker
from wechatpy.exceptions import APILimitedException, WeChatClientException

from bot.channels.wechat_client import WeChatApi
from store.db import make_engine, make_session_factory
from store.models import PlatformToken, utcnow
from store.uow import UnitOfWork
from tests.conftest import free_port
from tests.fakes.wechat import FakeWeChat, running_fake_wechat

OPENID = "o1"
THREADS = 8  # per client


@pytest.fixture
def fake() -> Iterator[FakeWeChat]:
    with running_fake_wechat() as fake:
        fake.user(OPENID)
        yield fake


@pytest.fixture
def factories(store_url: str) -> Iterator[list[sessionmaker[Session]]]:
    """Two session factories on separate engines (connection pools), as two processes have."""
    engines = [make_engine(store_url) for _ in range(2)]
    yield [make_session_factory(engine) for engine in engines]
    for engine in engines:
        engine.dispose()


@pytest.fixture
def urls() -> list[str]:
    """Every URL the clients requested (the fake records only the paths it serves)."""
    return []


@pytest.fixture
def clients(
    fake: FakeWeChat, factories: list[sessionmaker[Session]], urls: list[str]
) -> list[WeChatApi]:
    return [client(fake, sessions, urls) for sessions in factories]


def client(fake: FakeWeChat, sessions: sessionmaker[Session], urls: list[str]) -> WeChatApi:
    assert fake.url
    api = WeChatApi(fake.app_id, fake.app_secret, fake.url, sessions, timeout_s=5)
    api._http.trust_env = False  # a proxy in the environment must not catch 127.0.0.1
    api._http.hooks["response"].append(lambda res, **_: urls.append(res.url))
    api._http.hooks["response"].append(slow_token)
    return api


def slow_token(res: requests.Response, **_: Any) -> None:
    """A token answer takes a while, as over the internet: widens the window for a race."""
    if "/cgi-bin/token" in res.url:
        time.sleep(0.1)


def stored(sessions: sessionmaker[Session], app_id: str) -> PlatformToken | None:
    with UnitOfWork(sessions) as uow:
        return uow.session.get(PlatformToken, f"wechat:{app_id}")


def all_at_once(clients: list[WeChatApi], call: Callable[[WeChatApi], Any]) -> list[Any]:
    """THREADS threads per client, released together, each making `call`."""
    jobs = [c for c in clients for _ in range(THREADS)]
    start = threading.Barrier(len(jobs))

    def run(c: WeChatApi) -> Any:
        start.wait(timeout=10)
        return call(c)

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return list(pool.map(run, jobs))


def user_info(c: WeChatApi) -> str:
    return c.user.get(OPENID)["openid"]


def tokens_used(fake: FakeWeChat, path: str = "user/info") -> list[str]:
    return [call.params["access_token"] for call in fake.calls_to(path)]


def test_concurrent_first_calls_from_two_processes_fetch_one_token(fake, clients, factories):
    results = all_at_once(clients, user_info)

    assert results == [OPENID] * 2 * THREADS
    assert len(fake.tokens_issued) == 1
    token = fake.tokens_issued[0].token
    assert set(tokens_used(fake)) == {token}
    row = stored(factories[0], fake.app_id)
    assert row is not None and row.token == token
    assert row.expires_at is not None
    assert timedelta(hours=1.9) < row.expires_at - utcnow() <= timedelta(hours=2)


def test_expired_token_is_replaced_once_while_both_processes_call(fake, clients, factories):
    user_info(clients[0])
    fake.expire_tokens()

    results = all_at_once(clients, user_info)

    assert results == [OPENID] * 2 * THREADS
    assert len(fake.tokens_issued) == 2
    assert any(call.errcode == 42001 for call in fake.calls_to("user/info"))
    row = stored(factories[1], fake.app_id)
    assert row is not None and row.token == fake.tokens_issued[1].token


def test_a_token_stored_by_one_process_is_used_by_the_other(fake, clients):
    a, b = clients
    user_info(a)
    user_info(b)

    assert len(fake.tokens_issued) == 1
    assert tokens_used(fake) == [fake.tokens_issued[0].token] * 2


def test_a_token_about_to_expire_is_refreshed_before_use(fake, clients, factories):
    a, b = clients
    user_info(a)
    with UnitOfWork(factories[0]) as uow:
        row = uow.session.get(PlatformToken, f"wechat:{fake.app_id}")
        assert row is not None
        row.expires_at = utcnow() + timedelta(seconds=60)  # inside the 300 s margin
        uow.commit()

    user_info(b)

    first, second = (issue.token for issue in fake.tokens_issued)
    assert tokens_used(fake) == [first, second]  # never sent with the old one, no error seen
    assert all(call.errcode == 0 for call in fake.calls)
    row = stored(factories[0], fake.app_id)
    assert row is not None and row.token == second and row.expires_at is not None
    assert row.expires_at - utcnow() > timedelta(hours=1.9)


def test_a_request_rejected_with_a_token_already_replaced_takes_the_replacement(fake, clients):
    a, b = clients
    user_info(a)
    old = fake.tokens_issued[0].token
    b.fetch_access_token()  # "another process" replaced it
    fake.advance(minutes=6)  # past the old token's grace period: 40001

    # a request still carrying the old token fails, then is retried with B's token, unfetched
    result = a.get("user/info", params={"openid": OPENID, "access_token": old})

    assert result["openid"] == OPENID
    assert len(fake.tokens_issued) == 2
    assert [c.errcode for c in fake.calls_to("user/info")] == [0, 40001, 0]
    assert tokens_used(fake)[-1] == fake.tokens_issued[1].token


def test_a_rejected_current_token_is_replaced_and_the_call_retried_once(fake, clients):
    a, _ = clients
    user_info(a)
    fake.fail_next("user/info", errcode=40001)

    assert user_info(a) == OPENID
    assert len(fake.tokens_issued) == 2

    # a second rejection in a row is not retried again
    fake.fail_next("user/info", errcode=40001)
    fake.fail_next("user/info", errcode=40001)
    with pytest.raises(WeChatClientException) as error:
        user_info(a)
    assert error.value.errcode == 40001
    assert len(fake.tokens_issued) == 3


def test_frequency_limit_propagates_and_breaks_nothing(fake, clients, factories):
    a, b = clients

    # on the token endpoint: nothing is stored
    fake.fail_next("token", errcode=45009)
    with pytest.raises(APILimitedException):
        user_info(a)
    assert fake.tokens_issued == []
    row = stored(factories[0], fake.app_id)
    assert row is None or not row.token

    # on an API call: the token stays
    assert user_info(b) == OPENID
    fake.fail_next("user/info", errcode=45009)
    with pytest.raises(APILimitedException):
        user_info(a)
    assert user_info(a) == OPENID
    assert len(fake.tokens_issued) == 1

    # on the token endpoint while the stored token is expired: the old row is left alone
    fake.expire_tokens()
    fake.fail_next("token", errcode=45009)
    with pytest.raises(APILimitedException):
        user_info(b)
    row = stored(factories[0], fake.app_id)
    assert row is not None and row.token == fake.tokens_issued[0].token
    assert user_info(b) == OPENID
    assert len(fake.tokens_issued) == 2


def test_every_request_goes_to_the_configured_base_url(fake, clients, urls):
    b = clients[1]
    all_at_once(clients, user_info)
    # APIs that wechatpy addresses with absolute https://api.weixin.qq.com/ URLs are rebased too
    with pytest.raises(WeChatClientException):
        b.customservice.add_account("kf1@shop", "客服", "password")  # the fake has no such API
    with pytest.raises(WeChatClientException):
        b.datacube.get_user_summary("2024-01-01", "2024-01-02")

    assert fake.url
    assert urls and all(url.startswith(f"{fake.url}/") for url in urls)
    assert any("/customservice/kfaccount/add" in url for url in urls)
    assert any("/datacube/getusersummary" in url for url in urls)
    assert not any("weixin.qq.com" in url for url in urls)
    assert {call.path for call in fake.calls} == {"/cgi-bin/token", "/cgi-bin/user/info"}


def test_token_fetch_errors_are_readable_and_never_show_the_secret(fake, factories, caplog):
    # (urllib3 logs request URLs, queries included, at DEBUG: that is left to logging config)
    for name in ("bot.channels.wechat_client", "wechatpy"):
        caplog.set_level(logging.DEBUG, logger=name)
    assert fake.url
    wrong = WeChatApi(fake.app_id, "wrong-secret-0123456789", fake.url, factories[0])
    wrong._http.trust_env = False
    with pytest.raises(WeChatClientException) as refused:
        user_info(wrong)
    assert refused.value.errcode == 40125
    assert "invalid appsecret" in str(refused.value)

    nowhere = WeChatApi(fake.app_id, fake.app_secret, f"http://127.0.0.1:{free_port()}",
                        factories[0], timeout_s=2)  # fmt: skip
    nowhere._http.trust_env = False
    with pytest.raises(WeChatClientException) as unreachable:
        user_info(nowhere)
    assert "ConnectionError" in str(unreachable.value)
    assert isinstance(unreachable.value.__context__, requests.ConnectionError)

    good = WeChatApi(fake.app_id, fake.app_secret, fake.url, factories[0])
    good._http.trust_env = False
    user_info(good)
    shown = [str(refused.value), str(unreachable.value), caplog.text]
    for secret in ("wrong-secret-0123456789", fake.app_secret, fake.tokens_issued[0].token):
        assert not any(secret in text for text in shown)
