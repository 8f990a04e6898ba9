"""Property: authenticated but malformed pushes from Telegram, WeChat and WeChat Pay never get
a 5xx or leave a traceback, and the channel still serves a customer afterwards."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from bot.channels.telegram import SECRET_HEADER
from store.models import Payment
from store.uow import UnitOfWork
from tests import fuzzing
from tests.e2e.conftest import FUZZ, no_errors
from tests.e2e.test_telegram import SECRET, TelegramShop, telegram_shop
from tests.e2e.test_wechat import WeChatShop, wechat_shop
from tests.fakes.wechat_pay import pay_signature, to_xml

UPDATE_IDS = itertools.count(10_000)


@pytest.fixture(scope="module")
def telegram(sample_db, tmp_path_factory, interpreter) -> Iterator[TelegramShop]:
    data_dir = tmp_path_factory.mktemp("fuzz-telegram")
    with telegram_shop(sample_db, data_dir, interpreter, webhook=True) as shop:
        yield shop


@pytest.fixture(scope="module")
def wechat(sample_db, tmp_path_factory, interpreter) -> Iterator[WeChatShop]:
    data_dir = tmp_path_factory.mktemp("fuzz-wechat")
    with wechat_shop(sample_db, data_dir, interpreter, aes=False) as shop:
        yield shop


@FUZZ
@given(r=st.randoms(use_true_random=False))
def test_malformed_telegram_updates_get_no_server_error(telegram, tracebacks, r) -> None:
    body = fuzzing.telegram_update(r, next(UPDATE_IDS))
    answer = httpx.post(
        telegram.url + "/webhooks/telegram",
        content=body,
        headers={SECRET_HEADER: SECRET, "content-type": "application/json"},
        timeout=30,
    )
    assert answer.status_code < 500, (body[:300], answer.status_code)
    no_errors(tracebacks)


def test_the_telegram_channel_still_serves_after_the_fuzzing(telegram) -> None:
    user = telegram.fake.user(7001, "After", "en")
    user.send_text("/start")
    user.wait_for(lambda m: bool(m.buttons))


@FUZZ
@given(r=st.randoms(use_true_random=False))
def test_malformed_wechat_pushes_get_no_server_error(wechat, tracebacks, r) -> None:
    xml = fuzzing.wechat_push(r, wechat.fake.app_id)
    answer = httpx.post(
        wechat.webhook,
        params=wechat.fake.signed_params(),
        content=xml.encode("utf-8", "surrogatepass"),
        timeout=30,
    )
    assert answer.status_code < 500, (xml[:300], answer.status_code)
    no_errors(tracebacks)


def test_the_wechat_channel_still_serves_after_the_fuzzing(wechat) -> None:
    user = wechat.fake.user("o_after_fuzz")
    delivery = user.send_text("你好")
    assert delivery.ok, delivery.error


@FUZZ
@given(r=st.randoms(use_true_random=False))
def test_malformed_wechat_pay_notifications_get_no_server_error(wechat, tracebacks, r) -> None:
    pay = wechat.pay
    fields = fuzzing.wechat_pay_notification(r, _trades(wechat), wechat.fake.app_id, pay.mch_id)
    sign_type = r.choice(["MD5", "HMAC-SHA256"])
    fields["sign"] = pay_signature(fields, pay.api_key, sign_type)
    answer = httpx.post(
        wechat.url + "/pay/notify/wechatpay", content=to_xml(fields).encode(), timeout=30
    )
    assert answer.status_code < 500, (fields, answer.status_code)
    no_errors(tracebacks)


def _trades(shop: WeChatShop) -> list[str]:
    with UnitOfWork(shop.app.sessions) as uow:
        return list(uow.session.scalars(select(Payment.token).limit(10)))
