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
from store import customers, payments
from store.models import Variant, utcnow
from store.pay_methods import PayMethods
from store.uow import UnitOfWork
from tests import fuzzing
from tests.conftest import make_shop
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


@pytest.fixture(scope="module")
def telegram_http(telegram) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=telegram.url) as client:  # one connection, not one per input
        yield client


@pytest.fixture(scope="module")
def wechat_http(wechat) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=wechat.url) as client:
        yield client


@FUZZ
@given(r=st.randoms(use_true_random=False))
def test_malformed_telegram_updates_get_no_server_error(
    telegram, telegram_http, tracebacks, r
) -> None:
    body = fuzzing.telegram_update(r, next(UPDATE_IDS))
    answer = telegram_http.post(
        "/webhooks/telegram",
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
def test_malformed_wechat_pushes_get_no_server_error(wechat, wechat_http, tracebacks, r) -> None:
    xml = fuzzing.wechat_push(r, wechat.fake.app_id)
    answer = wechat_http.post(
        "/webhooks/wechat",
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
def test_malformed_wechat_pay_notifications_get_no_server_error(
    wechat, wechat_http, trades, tracebacks, r
) -> None:
    pay = wechat.pay
    fields = fuzzing.wechat_pay_notification(r, trades, wechat.fake.app_id, pay.mch_id)
    sign_type = r.choice(["MD5", "HMAC-SHA256"])
    fields["sign"] = pay_signature(fields, pay.api_key, sign_type)
    answer = wechat_http.post("/pay/notify/wechatpay", content=to_xml(fields).encode(), timeout=30)
    assert answer.status_code < 500, (fields, answer.status_code)
    no_errors(tracebacks)


@pytest.fixture(scope="module")
def trades(wechat) -> list[str]:
    """Unpaid WeChat Pay trades (their out_trade_no), so fuzzed notifications name real ones."""
    app = wechat.app
    assert app.wechat_pay is not None
    tokens = []
    with UnitOfWork(app.sessions) as uow:
        identity = customers.identify(uow.session, "wechat", "o_fuzz_buyer")
        sku = uow.session.scalars(select(Variant.sku).where(Variant.stock > 5)).first()
        for _ in range(3):
            shop = make_shop(
                uow.session, identity.customer_id, identity.id, PayMethods(app.wechat_pay)
            )
            shop.add_to_cart(sku, 1)
            order = shop.place_order("王小明", "13912345678", "北京市朝阳区建国路88号", "zh")
            tokens.append(
                payments.start_payment(uow.session, app.wechat_pay, order, utcnow()).token
            )
        uow.commit()
    return tokens
