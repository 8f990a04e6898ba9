"""WeChat Pay v2 over real HTTP (FakeWeChatPay) with a real database: what the merchant sends,
what the customer's payment does to the order, and what forged or hostile notifications cannot."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from store import payments
from store.errors import DomainError, ErrorCode
from store.models import Order, OrderEvent, OrderStatus, Payment, PaymentStatus, utcnow
from store.uow import UnitOfWork
from store.wechat_pay import WeChatPayError, WeChatPayProvider
from tests.conftest import free_port, new_customer, serve_in_thread
from tests.fakes.wechat_pay import FakeWeChatPay, from_xml, running_fake_wechat_pay, to_xml
from tests.unit.test_fake_wechat import documented_sign
from tests.unit.test_services import place

BOMB = b"""<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa">
<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
<!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;"><!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
<!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;"><!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;">
<!ENTITY h "&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;"><!ENTITY i "&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;">
]><xml><return_code>SUCCESS</return_code><attach>&i;</attach></xml>"""


@dataclass
class Shop:
    """The merchant: a provider pointed at the fake, and its notify_url endpoint."""

    provider: WeChatPayProvider
    sessions: sessionmaker[Session]
    fake: FakeWeChatPay
    sign_type: str
    notify_url: str
    outcomes: list[str] = field(default_factory=list)  # what the endpoint made of each notify

    def checkout(self, openid: str | None = None) -> tuple[Order, Payment]:
        """An order and its WeChat Pay order: JSAPI for `openid`, else NATIVE (a QR code)."""
        order = place(self.sessions, new_customer(self.sessions), {"TEE-1-RED-M": 1})
        with UnitOfWork(self.sessions) as uow:
            payment = payments.start_payment(
                uow.session, self.provider, uow.session.get(Order, order.id), utcnow()
            )
            uow.commit()
        body, expires = f"Order {order.number}", order.pay_by
        if openid:  # no network call inside a database transaction
            data = self.provider.create_jsapi(payment.token, payment.amount, body, openid, expires)
        else:
            data = self.provider.create_native(
                payment.token, payment.amount, body, order.number, expires
            )
        with UnitOfWork(self.sessions) as uow:
            payment = uow.session.get(Payment, payment.id)
            payment.data = data
            uow.commit()
        return order, payment

    def state(self, order: Order) -> tuple[str, str, int]:
        """(order status, payment status, how many "paid" events)."""
        with UnitOfWork(self.sessions) as uow:
            row = uow.session.get(Order, order.id)
            paid = select(func.count()).where(
                OrderEvent.order_id == order.id, OrderEvent.type == "paid"
            )
            return row.status, row.payment_status, uow.session.scalar(paid)


@pytest.fixture
def fake() -> Iterator[FakeWeChatPay]:
    with running_fake_wechat_pay(notify_retry_delays=(0.01, 0.01, 0.01)) as fake:
        yield fake


@pytest.fixture(params=["MD5", "HMAC-SHA256"])
def shop(request: pytest.FixtureRequest, fake: FakeWeChatPay, sql_sessions) -> Iterator[Shop]:
    port = free_port()
    notify_url = f"http://127.0.0.1:{port}/wechatpay/notify"
    provider = WeChatPayProvider(fake.app_id, fake.mch_id, fake.api_key, fake.url, notify_url,
                                 "https://shop.test", sign_type=request.param, timeout_s=5)  # fmt: skip
    shop = Shop(provider, sql_sessions, fake, request.param, notify_url)

    async def notify(request: Request) -> Response:
        body = await request.body()
        try:
            with UnitOfWork(sql_sessions) as uow:
                outcome = payments.handle_notification(
                    uow.session, provider, body, request.headers, utcnow()
                )
                uow.commit()
        except DomainError as error:
            assert error.code == ErrorCode.BAD_NOTIFICATION
            shop.outcomes.append(f"rejected: {error.params['reason']}")
            return Response(provider.ack(False, "rejected"), media_type="text/xml")
        shop.outcomes.append(outcome)
        return Response(provider.ack(True), media_type="text/xml")

    with serve_in_thread(
        Starlette(routes=[Route("/wechatpay/notify", notify, methods=["POST"])]), port
    ):
        yield shop


def resigned(xml: bytes, key: str, algorithm: str = "MD5", **change: str | None) -> bytes:
    """The notification with fields changed (None: removed), correctly signed again."""
    fields = {k: v for k, v in (from_xml(xml) | change).items() if v is not None}
    return to_xml(fields | {"sign": documented_sign(fields, key, algorithm)}).encode()


def test_native_order_carries_what_the_merchant_asked_for(shop: Shop) -> None:
    order, payment = shop.checkout()
    sent = shop.fake.order(payment.token)
    assert sent.code_url and sent.code_url.startswith("weixin://wxpay/bizpayurl?pr=")
    assert payment.data == {"code_url": sent.code_url, "sign_type": shop.sign_type,
                            "trade_type": "NATIVE"}  # fmt: skip
    china = (order.pay_by + timedelta(hours=8)).strftime("%Y%m%d%H%M%S")
    assert {k: sent.params[k] for k in ("total_fee", "fee_type", "out_trade_no", "notify_url",
                                        "product_id", "time_expire", "sign_type")} == {
        "total_fee": "7900", "fee_type": "CNY", "out_trade_no": payment.token,
        "notify_url": shop.notify_url, "product_id": order.number, "time_expire": china,
        "sign_type": shop.sign_type,
    }  # fmt: skip
    assert sent.sign_type == shop.sign_type and "time_start" not in sent.params
    # a retry after a crash places nothing new and gets the same QR code
    args = (payment.token, 7900, f"Order {order.number}", order.number, order.pay_by)
    assert shop.provider.create_native(*args) == payment.data
    assert list(shop.fake.orders) == [payment.token]
    with pytest.raises(WeChatPayError) as error:  # the same out_trade_no for another amount
        shop.provider.create_native(payment.token, 7901, *args[2:])
    assert (error.value.err_code, error.value.trade_state) == ("OUT_TRADE_NO_USED", "NOTPAY")
    assert "OUT_TRADE_NO_USED" in str(error.value)


def test_jsapi_bridge_is_signed_for_weixin_js_bridge(shop: Shop) -> None:
    _, payment = shop.checkout(openid="o_buyer")
    bridge, sent = payment.data["bridge"], shop.fake.order(payment.token)
    assert (payment.data["trade_type"], sent.params["openid"]) == ("JSAPI", "o_buyer")
    assert payment.data["prepay_id"] == sent.prepay_id
    assert bridge["package"] == f"prepay_id={sent.prepay_id}"
    assert (bridge["appId"], bridge["signType"]) == (shop.fake.app_id, shop.sign_type)
    signed = {k: v for k, v in bridge.items() if k != "paySign"}
    assert bridge["paySign"] == documented_sign(signed, shop.fake.api_key, shop.sign_type)


def test_paid_exactly_once_however_often_wechat_notifies(shop: Shop) -> None:
    order, payment = shop.checkout()
    delivery = shop.fake.pay(payment.token)
    assert [a.acknowledged for a in delivery.attempts] == [True]
    assert all(a.acknowledged for a in shop.fake.resend(payment.token, times=5))
    assert shop.outcomes == ["captured"] + ["duplicate"] * 5
    assert shop.state(order) == (OrderStatus.PAID, PaymentStatus.CAPTURED, 1)
    with UnitOfWork(shop.sessions) as uow:
        captured = uow.session.get(Payment, payment.id)
        assert captured.provider_ref == shop.fake.order(payment.token).transaction_id


def test_forged_or_wrong_amount_notifications_change_nothing(shop: Shop) -> None:
    order, payment = shop.checkout()
    fake, token = shop.fake, payment.token
    forged = fake.send_notification(token, fake.notification(token, bad_signature=True))
    assert not forged.acknowledged  # WeChat Pay would retry; it never verifies
    assert fake.send_notification(token, fake.notification(token, total_fee=1)).acknowledged
    assert shop.outcomes == ["rejected: signature"] * len(forged.attempts) + ["amount_mismatch"]
    assert shop.state(order) == (OrderStatus.PENDING_PAYMENT, PaymentStatus.PENDING, 0)


def test_md5_and_hmac_notifications_verify_and_say_how(shop: Shop) -> None:
    _, payment = shop.checkout()
    fake, verify = shop.fake, shop.provider.verify
    for sign_type in ("MD5", "HMAC-SHA256"):
        note = verify(fake.notification(payment.token, sign_type=sign_type), {}, utcnow())
        assert (note.sign_type, note.payment_token, note.amount, note.currency, note.succeeded) == (
            sign_type, payment.token, 7900, "CNY", True,
        )  # fmt: skip
    xml = fake.notification(payment.token, sign_type="MD5")
    assert verify(resigned(xml, fake.api_key, sign_type=None), {}, utcnow()).sign_type == "MD5"
    refused = {
        "signature": resigned(xml, fake.api_key, sign_type="SHA1"),  # MD5-signed, claims SHA1
        "merchant": resigned(xml, fake.api_key, mch_id="1900000999"),
        "malformed": resigned(xml, fake.api_key, total_fee="79.00"),
    }
    for reason, body in refused.items():
        with pytest.raises(DomainError) as error:
            verify(body, {}, utcnow())
        assert (error.value.code, error.value.params) == (
            ErrorCode.BAD_NOTIFICATION,
            {"reason": reason},
        )


def test_hostile_bodies_are_rejected_without_expanding_anything(shop: Shop, tmp_path) -> None:
    order, payment = shop.checkout()
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    entity = f'<!DOCTYPE xml [<!ENTITY x SYSTEM "file://{secret}">]><xml><attach>&x;</attach></xml>'
    signed = shop.fake.notification(payment.token)
    oversize = resigned(signed, shop.fake.api_key, shop.sign_type, attach="x" * 70_000)
    for body in (BOMB, entity.encode(), oversize):
        delivery = shop.fake.send_notification(payment.token, body, retry=False)
        # answered at all: a billion laughs expanded would not finish before the fake gives up
        [attempt] = delivery.attempts
        assert attempt.status == 200 and attempt.error is None, attempt.error
        assert not delivery.acknowledged and b"TOP-SECRET" not in attempt.answer
    assert shop.outcomes == ["rejected: malformed"] * 2 + ["rejected: too_large"]
    assert shop.state(order) == (OrderStatus.PENDING_PAYMENT, PaymentStatus.PENDING, 0)


def test_close_and_refund(shop: Shop) -> None:
    provider, fake = shop.provider, shop.fake
    _, unpaid = shop.checkout()
    assert provider.close(unpaid.token) == "closed"
    assert provider.close(unpaid.token) == "closed"  # WeChat says ORDERCLOSED: still closed
    assert provider.trade_state(unpaid.token) == "CLOSED"
    order, paid = shop.checkout()
    fake.pay(paid.token)
    assert provider.close(paid.token) == "paid"  # too late: the customer paid first
    refund_no = f"R-{order.number}"
    refund_id = provider.refund(paid.token, refund_no, 7900, 2000, "wrong size")
    assert provider.refund(paid.token, refund_no, 7900, 2000, "wrong size") == refund_id
    assert [(r.refund_id, r.refund_fee) for r in fake.order(paid.token).refunds] == [
        (refund_id, 2000)
    ]
    refunds = [c for c in fake.calls if c.path == "/secapi/pay/refund"]
    assert [c.params["out_refund_no"] for c in refunds] == [refund_no] * 2
    assert provider.trade_state(paid.token) == "REFUND"


def test_failures_are_one_readable_error_without_the_key(
    shop: Shop, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _, payment = shop.checkout()
    fake = shop.fake
    fake.fail_next("/pay/orderquery", http_status=502)
    fake.fail_next("/pay/orderquery", "SYSTEMERROR")
    wrong_key = WeChatPayProvider(fake.app_id, fake.mch_id, "0" * 32, fake.url, shop.notify_url,
                                  "https://shop.test", sign_type=shop.sign_type)  # fmt: skip
    nobody = WeChatPayProvider(fake.app_id, fake.mch_id, fake.api_key, f"http://127.0.0.1:{free_port()}",
                               shop.notify_url, "https://shop.test", timeout_s=2)  # fmt: skip
    messages = []
    for provider, expected in [
        (shop.provider, "HTTP 502"),
        (shop.provider, "SYSTEMERROR"),
        (wrong_key, "签名错误"),
        (nobody, "ConnectionError"),
    ]:
        with pytest.raises(WeChatPayError, match=expected) as error:
            provider.trade_state(payment.token)
        messages.append(str(error.value))
    assert shop.provider.trade_state(payment.token) == "NOTPAY"  # the faults were one-offs
    assert fake.api_key not in "\n".join(messages) + caplog.text
