"""The shop in a WeChat Official Account, end to end: the fake WeChat platform pushes signed
(and, in safe mode, encrypted) XML to our webhook with its 5 s timeout and retries, the real
wechatpy client calls the fake's API, and the fake WeChat Pay notifies our endpoint."""

from __future__ import annotations

import asyncio
import base64
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.bootstrap import App, bootstrap
from bot.channels.wechat import push_menu
from bot.server import create_app
from dialogs.i18n import t
from scheduler.jobs import close_abandoned_trades, refund_unapplied_payments
from store import orders, outbox
from store.models import (
    ChannelIdentity,
    Message,
    Order,
    OrderEvent,
    OrderStatus,
    OutboxMessage,
    Payment,
    PaymentStatus,
    utcnow,
)
from store.uow import UnitOfWork
from tests.conftest import free_port, serve_in_thread
from tests.e2e.conftest import sample_shop_settings, wait_until
from tests.fakes.wechat import (
    FakeWeChat,
    FakeWeChatUser,
    InboxItem,
    render_xml,
    running_fake_wechat,
)
from tests.fakes.wechat_pay import FakeWeChatPay, running_fake_wechat_pay

AES_KEY = base64.b64encode(bytes(range(32))).decode().rstrip("=")
PAID_TEMPLATE = "TPL_ORDER_PAID"
TEMPLATES = {
    "order_paid": {
        "id": PAID_TEMPLATE,
        "fields": {"thing1": "title", "character_string2": "number", "amount3": "total"},
    }
}


@dataclass
class WeChatShop:
    fake: FakeWeChat
    pay: FakeWeChatPay
    app: App
    url: str
    server: object

    @property
    def webhook(self) -> str:
        return f"{self.url}/webhooks/wechat"

    def app_channel(self):
        return self.server.state.wechat

    def count(self, model, **where) -> int:
        with UnitOfWork(self.app.sessions) as uow:
            return uow.session.scalar(select(func.count()).select_from(model).filter_by(**where))

    def orders_of(self, openid: str) -> list[Order]:
        with UnitOfWork(self.app.sessions) as uow:
            identity = uow.session.scalars(
                select(ChannelIdentity).filter_by(channel="wechat", external_id=openid)
            ).one()
            return orders.list_orders(uow.session, identity.customer_id)


@contextmanager
def wechat_shop(
    sample_db: Path, data_dir: Path, interpreter, *, aes: bool = True, fake_kw=None, **more
) -> Iterator[WeChatShop]:
    fake_args = {"aes_key": AES_KEY if aes else None, **(fake_kw or {})}
    with running_fake_wechat(**fake_args) as fake, running_fake_wechat_pay() as pay:
        fake.add_template(PAID_TEMPLATE, ["thing1", "character_string2", "amount3"])
        port = free_port()
        settings = sample_shop_settings(
            sample_db,
            data_dir,
            port,
            wechat_app_id=fake.app_id,
            wechat_app_secret=fake.app_secret,
            wechat_token=fake.token,
            wechat_aes_key=AES_KEY if aes else "",
            wechat_api_base_url=fake.url,
            wechat_templates=TEMPLATES,
            wechat_pay_mch_id=pay.mch_id,
            wechat_pay_api_key=pay.api_key,
            wechat_pay_api_base_url=pay.url,
            **more,
        )
        app = bootstrap(settings, interpreter)
        app.refresh_catalog()
        push_menu(settings, app.sessions)  # what `chatshop wechat menu` does
        server = create_app(app)
        with serve_in_thread(server, port) as url:
            fake.set_webhook(f"{url}/webhooks/wechat")
            yield WeChatShop(fake, pay, app, url, server)
        app.engine.dispose()


@pytest.fixture
def shop(sample_db, tmp_path, interpreter) -> Iterator[WeChatShop]:
    with wechat_shop(sample_db, tmp_path, interpreter) as live:
        yield live


def option(item: InboxItem, label: str) -> str:
    """The number shown in front of an option whose label contains `label` (a message menu,
    which a reply sent as a service message may be, numbers its items by their ids)."""
    if item.msgtype == "msgmenu":
        for entry in item.content["msgmenu"]["list"]:
            if label in entry["content"]:
                return str(entry["id"])
    for line in item.text.splitlines():
        found = re.match(r"\s*(\d+)\.\s*(.*)", line)
        if found and label in found.group(2):
            return found.group(1)
    raise AssertionError(f"no option {label!r} in {item.text!r}")


def has(text: str) -> Callable[[InboxItem], bool]:
    return lambda item: text in item.text


def buy(shop: WeChatShop, user: FakeWeChatUser) -> tuple[Order, Payment]:
    """Menu → category → details → variant → quantity → checkout → confirm, all by replying
    with the numbers shown; ends when the WeChat Pay QR code arrives."""
    welcome = user.subscribe()
    assert welcome.ok and welcome.reply is not None  # the welcome is the passive reply
    user.click("browse_categories")
    user.wait_for(has(t("zh", "search.categories")), fresh=True)
    user.send_text("1")  # the first category
    listing = user.wait_for(has(t("zh", "buttons.more")), fresh=True)
    assert listing.kind == "passive"
    user.send_text("1")  # the first product's details
    user.wait_for(lambda item: item.msgtype == "image", fresh=True)  # its picture
    user.wait_for(has(t("zh", "product.choose")), fresh=True)
    user.send_text("1")  # the first variant
    how_many = user.wait_for(
        lambda item: "1." in item.text or item.msgtype == "msgmenu", fresh=True
    )
    user.send_text(option(how_many, "1"))
    added = user.wait_for(has(t("zh", "buttons.checkout")), fresh=True)
    user.send_text(option(added, t("zh", "buttons.checkout")))
    user.wait_for(has(t("zh", "checkout.ask_name")), fresh=True)
    user.send_text("张伟")
    user.wait_for(has(t("zh", "checkout.ask_phone")[:6]), fresh=True)
    user.send_text("13812345678")
    user.wait_for(has(t("zh", "checkout.ask_address")[:6]), fresh=True)
    user.send_text("上海市浦东新区世纪大道100号")
    summary = user.wait_for(has(t("zh", "buttons.confirm")), fresh=True)
    user.send_text(option(summary, t("zh", "buttons.confirm")))
    qr = user.wait_for(lambda item: item.msgtype == "image", fresh=True, timeout=15)
    assert qr.kind == "custom"
    [order] = shop.orders_of(user.openid)
    with UnitOfWork(shop.app.sessions) as uow:
        payment = uow.session.scalars(
            select(Payment).filter_by(order_id=order.id, provider="wechatpay")
        ).one()
    return order, payment


def paid_text(order: Order) -> str:
    """The start of the payment confirmation, which names the order and the amount."""
    return t("zh", "notifications.order_paid", number=order.number, total="")[:14]


def test_a_customer_buys_in_chinese_and_pays_by_native_qr(shop: WeChatShop) -> None:
    user = shop.fake.user("o_buyer")
    order, payment = buy(shop, user)
    assert order.status == OrderStatus.PENDING_PAYMENT
    trade = shop.pay.order(payment.token)
    assert int(trade.total_fee) == order.total and trade.trade_type == "NATIVE"

    paid = shop.pay.pay(payment.token)
    assert paid.attempts[-1].acknowledged
    user.wait_for(has(paid_text(order)), timeout=15)
    [order] = shop.orders_of("o_buyer")
    assert order.status == OrderStatus.PAID
    assert shop.count(OrderEvent, order_id=order.id, type="paid") == 1
    errors = [c for c in shop.fake.calls if c.errcode not in (0, None)]
    assert errors == []  # never over quota, never outside the window


def test_the_pay_link_opens_a_checkout_inside_wechat(shop: WeChatShop) -> None:
    user = shop.fake.user("o_jsapi")
    order, _ = buy(shop, user)
    link = re.search(r'href="([^"]+/pay/wechat/[^"]+)"', "\n".join(user.texts()))
    assert link, user.texts()
    page = httpx.get(link[1], timeout=10)
    assert page.status_code == 200 and 'id="wechat-pay-request"' in page.text
    script = httpx.get(link[1].split("/pay/")[0] + "/static/pay-wechat.js", timeout=10)
    assert "getBrandWCPayRequest" in script.text
    token = link[1].rsplit("/", 1)[1]
    trade = shop.pay.order(token)
    assert trade.trade_type == "JSAPI" and trade.params["openid"] == "o_jsapi"

    shop.pay.pay(token)
    user.wait_for(has(paid_text(order)), timeout=15)
    [order] = shop.orders_of("o_jsapi")
    assert order.status == OrderStatus.PAID
    assert "已付款" in httpx.get(link[1], timeout=10).text


def expire(shop: WeChatShop, order: Order) -> None:
    """The order's time to pay runs out, and the scheduler's job cancels it."""
    with UnitOfWork(shop.app.sessions) as uow:
        uow.session.get(Order, order.id).pay_by = utcnow() - timedelta(seconds=1)
        assert orders.cancel_expired(uow.session, utcnow()) == [order.number]
        uow.commit()


def test_an_expired_order_closes_its_wechat_pay_trade(shop: WeChatShop) -> None:
    user = shop.fake.user("o_late")
    order, payment = buy(shop, user)
    expire(shop, order)
    close_abandoned_trades(shop.app)
    assert shop.pay.order(payment.token).trade_state == "CLOSED"
    with UnitOfWork(shop.app.sessions) as uow:
        statuses = uow.session.scalars(select(Payment.status).filter_by(order_id=order.id))
        assert set(statuses) == {PaymentStatus.VOIDED}  # the QR trade and the unused link
    user.wait_for(has(t("zh", "notifications.order_expired", number=order.number)[:16]), timeout=15)


def test_money_for_a_cancelled_order_is_refunded_once(shop: WeChatShop) -> None:
    user = shop.fake.user("o_too_late")
    order, payment = buy(shop, user)
    expire(shop, order)
    shop.pay.pay(payment.token)  # the customer scanned the QR before its trade was closed
    user.wait_for(has(t("zh", "notifications.payment_not_applied", number=order.number)[:20]))
    assert shop.orders_of("o_too_late")[0].status == OrderStatus.CANCELLED

    refund_unapplied_payments(shop.app)
    refund_unapplied_payments(shop.app)  # a second run (or worker) gives nothing more back
    refunds = [c for c in shop.pay.calls if c.path.endswith("/refund")]
    assert len(refunds) == 1 and int(refunds[0].params["refund_fee"]) == order.total
    user.wait_for(
        has(t("zh", "notifications.payment_refunded", number=order.number, total="")[:12])
    )
    with UnitOfWork(shop.app.sessions) as uow:
        assert uow.session.get(Payment, payment.id).status == PaymentStatus.REFUNDED


def test_a_slow_answer_reaches_the_customer_once(sample_db, tmp_path, interpreter) -> None:
    # given an NLU backend that takes 6 s, and WeChat retrying after 2 s; the races between
    # the budget and WeChat's timeout are tested without a clock in test_wechat_retries
    with (
        slow_rasa(seconds=6) as rasa_url,
        wechat_shop(
            sample_db,
            tmp_path,
            interpreter,
            fake_kw={"reply_timeout_s": 2.0},
            nlu="rasa",
            rasa_url=rasa_url,
            rasa_timeout_s=10,
        ) as live,
    ):
        user = live.fake.user("o_patient")
        delivery = user.send_text("你好")
        # WeChat gave up on the first attempt and sent it again, byte for byte, while we were
        # still working; that retry got "success", and the answer came later
        assert delivery.ok and delivery.attempts[-1].body == b"success"
        assert len({(a.sent, str(a.params)) for a in delivery.attempts}) == 1
        wait_until(lambda: live.count(OutboxMessage, status="sent") == 1, "the reply sent", 30)
        assert [m.kind for m in user.messages()] == ["custom"]
        assert live.count(OutboxMessage) == 1
        assert live.count(Message, direction="in") == 1


def test_a_duplicate_msgid_acts_once(shop: WeChatShop) -> None:
    fake = shop.fake
    user = fake.user("o_twice")
    push = user.send_text("看看购物车", deliver=False)
    xml = fake.crypto.decrypt(re.search(r"<Encrypt><!\[CDATA\[(.*?)\]\]>", push.body.decode())[1])
    answers = [fake.post_webhook(push)]
    # WeChat sends it again (here signed anew): it did not get the passive reply
    answers.append(fake.post_webhook(fake.envelope(xml, openid="o_twice")))  # same worker
    shop.app_channel()._attempts.clear()  # as if the retry reached another worker
    answers.append(fake.post_webhook(fake.envelope(xml, openid="o_twice")))
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert b"<Encrypt>" in answers[0].content
    assert [a.content for a in answers[1:]] == [b"success", b"success"]
    # so the reply the passive answer carried comes once, as a service message
    wait_until(lambda: shop.count(OutboxMessage, status="sent") == 2, "the reply sent again")
    assert [m.kind for m in user.messages()] == ["custom"]
    assert shop.count(Message, direction="in") == 1
    assert shop.count(OutboxMessage) == 2  # the reply, and its first part once more


def test_an_expired_token_or_a_frequency_limit_loses_nothing(shop: WeChatShop) -> None:
    user = shop.fake.user("o_tokens")
    user.send_text("你好")
    issued = len(shop.fake.tokens_issued)
    shop.fake.expire_tokens()  # WeChat answers 42001 until the shop fetches a new token
    detail = user.scan(1)  # its picture must be uploaded: a call that needs the token
    assert detail.ok and detail.reply["MsgType"] == "image"
    user.wait_for(has(t("zh", "product.choose")), fresh=True)
    assert len(shop.fake.tokens_issued) == issued + 1

    shop.fake.fail_next("message/custom/send", errcode=45009)
    with UnitOfWork(shop.app.sessions) as uow:
        identity = uow.session.scalars(
            select(ChannelIdentity).filter_by(external_id="o_tokens")
        ).one()
        outbox.enqueue(
            uow.session, identity.id, "order_paid",
            {"number": "CS700001", "total": 100, "currency": "CNY"}, "zh", "test-45009", utcnow(),
        )  # fmt: skip
        uow.commit()

    def tried() -> OutboxMessage | None:
        with UnitOfWork(shop.app.sessions) as uow:
            row = uow.session.scalars(select(OutboxMessage).filter_by(dedupe_key="test-45009"))
            return next((r for r in row if r.last_error), None)

    wait_until(tried, "the push to be tried", 10)
    row = tried()
    # backed off for a minute without spending an attempt; nothing reached the customer
    assert "45009" in row.last_error and row.status == "pending" and row.attempts == 0
    assert row.next_attempt_at - utcnow() > timedelta(seconds=45)
    assert "CS700001" not in "\n".join(user.texts())


def test_a_push_outside_the_window_or_quota_becomes_a_template(shop: WeChatShop) -> None:
    user = shop.fake.user("o_quiet")
    user.send_text("你好")
    with UnitOfWork(shop.app.sessions) as uow:
        identity = uow.session.scalars(
            select(ChannelIdentity).filter_by(external_id="o_quiet")
        ).one()
        # five pushes use the quota up, the sixth must not be a service message
        for n in range(6):
            outbox.enqueue(
                uow.session,
                identity.id,
                "order_paid",
                {"number": f"CS90000{n}", "total": 9900, "currency": "CNY"},
                "zh",
                f"test-paid:{n}",
                utcnow(),
            )
        uow.commit()
    wait_until(lambda: shop.fake.template_messages.get("o_quiet"), "a template message", 15)
    assert len(shop.fake.custom_messages.get("o_quiet", [])) == 5
    [template] = shop.fake.template_messages["o_quiet"]
    assert template["template_id"] == PAID_TEMPLATE
    assert template["data"]["character_string2"]["value"] == "CS900005"

    # a customer silent for 49 hours gets templates only
    shop.fake.advance(hours=49)
    with UnitOfWork(shop.app.sessions) as uow:
        identity = uow.session.scalars(
            select(ChannelIdentity).filter_by(external_id="o_quiet")
        ).one()
        identity.window_until = utcnow()
        outbox.enqueue(
            uow.session, identity.id, "order_paid",
            {"number": "CS800001", "total": 100, "currency": "CNY"}, "zh", "test-late", utcnow(),
        )  # fmt: skip
        uow.commit()
    user.wait_for(lambda item: item.kind == "template" and "CS800001" in item.text, timeout=15)
    assert len(shop.fake.custom_messages["o_quiet"]) == 5
    assert [c for c in shop.fake.calls if c.errcode in (45015, 45047)] == []

    def kinds() -> list[str]:  # "sent" is recorded just after WeChat accepted the template
        with UnitOfWork(shop.app.sessions) as uow:
            return sorted(
                uow.session.scalars(
                    select(OutboxMessage.sent_as).where(OutboxMessage.template == "order_paid")
                )
            )

    wait_until(lambda: kinds() == ["custom"] * 5 + ["template"] * 2, "every push recorded", 15)


@pytest.mark.parametrize(
    "attack", ["bad_signature", "bad_aes", "replay", "malformed", "bomb", "oversized", "stale"]
)
def test_forged_or_broken_pushes_are_refused_and_leave_no_trace(shop: WeChatShop, attack) -> None:
    fake = shop.fake
    user = fake.user("o_target")
    push = user.send_text("你好", deliver=False)
    if attack == "bad_signature":
        push = (fake.bad_signature(push.params), push.body)
    elif attack == "bad_aes":
        garbage = base64.b64encode(b"\x00" * 64).decode()
        push = fake.envelope("<xml/>")
        params = fake.signed_params(encrypt=garbage)
        push = (
            params,
            f"<xml><ToUserName>x</ToUserName><Encrypt>{garbage}</Encrypt></xml>".encode(),
        )
    elif attack == "replay":  # the same nonce with another message: not WeChat's retry
        assert fake.post_webhook(push).status_code == 200
        before = shop.count(Message)
        other = fake.crypto.encrypt(render_xml(user_fields(fake, "o_target", "退款")))
        forged = fake.signed_params(
            timestamp=push.params["timestamp"], nonce=push.params["nonce"], encrypt=other
        )
        body = render_xml({"ToUserName": fake.original_id, "Encrypt": other}).encode()
        assert fake.post_webhook((forged, body)).status_code == 403
        assert fake.post_webhook(push).status_code == 200  # the same request is a retry
        assert shop.count(Message) == before
        return
    elif attack == "malformed":
        encrypted = fake.envelope("<xml><MsgType>text</MsgType><Content>oops")
        push = encrypted
    elif attack == "bomb":
        push = fake.xml_bomb()
    elif attack == "oversized":
        push = fake.oversized_body(100_000)
    elif attack == "stale":
        push = fake.envelope(
            {"ToUserName": fake.original_id, "FromUserName": "o_target", "CreateTime": 1,
             "MsgType": "text", "Content": "hi", "MsgId": 1},
            timestamp=int(time.time()) - 3600,
        )  # fmt: skip
    answer = fake.post_webhook(push)
    assert answer.status_code in (403, 413)
    assert shop.count(Message) == 0 and shop.count(ChannelIdentity) == 0


def test_the_url_check_answers_echostr_only_when_signed(shop: WeChatShop) -> None:
    assert shop.fake.verify_url().ok
    assert shop.fake.verify_url(signature="0" * 40).status == 403


def test_plain_mode_voice_image_a_product_qr_and_unsubscribing(
    sample_db, tmp_path, interpreter
) -> None:
    with wechat_shop(sample_db, tmp_path, interpreter, aes=False) as live:
        user = live.fake.user("o_plain")
        spoken = user.send_voice(recognition="你好")
        assert spoken.ok and spoken.reply and spoken.reply["MsgType"] == "text"
        mumbled = user.send_voice()
        assert mumbled.reply["Content"] == t("zh", "media.voice")
        photo = user.send_image()
        assert photo.reply["Content"] == t("zh", "media.received")
        with UnitOfWork(live.app.sessions) as uow:
            evidence = uow.session.scalars(select(Message.body).where(Message.direction == "in"))
            assert any(b.get("attachments", [""])[0].startswith("wechat:") for b in evidence)
        scanned = user.scan(1)  # a product's QR code: its picture and details
        assert scanned.ok and scanned.reply["MsgType"] == "image"
        user.wait_for(has(t("zh", "product.choose")), fresh=True)

        user.unsubscribe()
        with UnitOfWork(live.app.sessions) as uow:
            identity = uow.session.scalars(
                select(ChannelIdentity).filter_by(external_id="o_plain")
            ).one()
            assert identity.reachable is False


def test_pay_notifications_capture_once_and_refuse_forgeries(shop: WeChatShop) -> None:
    user = shop.fake.user("o_payer")
    order, payment = buy(shop, user)
    pay, token = shop.pay, payment.token
    notify_url = f"{shop.url}/pay/notify/wechatpay"
    forged = pay.notification(token, bad_signature=True)
    refused = pay.send_notification(token, forged, retry=False, url=notify_url)
    assert not refused.attempts[-1].acknowledged
    wrong = pay.notification(token, total_fee=1)
    refused = pay.send_notification(token, wrong, retry=False, url=notify_url)
    assert not refused.attempts[-1].acknowledged
    assert shop.orders_of("o_payer")[0].status == OrderStatus.PENDING_PAYMENT

    pay.pay(token)
    answers = pay.resend(token, times=5)
    assert all(a.acknowledged for a in answers)
    [order] = shop.orders_of("o_payer")
    assert order.status == OrderStatus.PAID
    assert shop.count(OrderEvent, order_id=order.id, type="paid") == 1
    user.wait_for(has(paid_text(order)), timeout=15)


def user_fields(fake: FakeWeChat, openid: str, text: str) -> dict:
    return {"ToUserName": fake.original_id, "FromUserName": openid, "CreateTime": int(time.time()),
            "MsgType": "text", "Content": text, "MsgId": 99}  # fmt: skip


@contextmanager
def slow_rasa(seconds: float) -> Iterator[str]:
    """A Rasa server whose /model/parse answers after `seconds`."""

    async def parse(request: Request) -> JSONResponse:
        body = await request.json()
        await asyncio.sleep(seconds)
        text = body.get("text", "")
        return JSONResponse({"text": text, "intent": {"name": "greet", "confidence": 0.99},
                             "entities": [], "intent_ranking": []})  # fmt: skip

    api = Starlette(routes=[Route("/model/parse", parse, methods=["POST"])])
    port = free_port()
    with serve_in_thread(api, port) as url:
        yield url
