"""The storefront in Telegram: the real python-telegram-bot client against a local fake Bot API
server, through real HTTP, in polling and in webhook mode."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, update

from bot.bootstrap import App, bootstrap
from bot.channels.sequencer import Sequencer
from bot.channels.telegram import SECRET_HEADER, TelegramChannel, set_webhook
from bot.server import create_app
from dialogs.i18n import t
from store import orders
from store.models import (
    ChannelIdentity,
    Message,
    Order,
    OrderEvent,
    OrderStatus,
    OutboxMessage,
    OutboxStatus,
    Payment,
    PaymentStatus,
    Variant,
)
from store.uow import UnitOfWork
from tests.conftest import free_port, serve_in_thread
from tests.e2e.conftest import sample_shop_settings, wait_until
from tests.fakes.telegram import BotMessage, FakeTelegram, FakeUser, running_fake_telegram

SECRET = "e2e-webhook-secret-0123456789"
PROVIDER_TOKEN = "284685063:TEST:chatshop"


@dataclass
class TelegramShop:
    fake: FakeTelegram
    app: App
    url: str
    channel: TelegramChannel

    def count(self, model, *where) -> int:
        with UnitOfWork(self.app.sessions) as uow:
            return uow.session.scalar(select(func.count()).select_from(model).where(*where))

    def orders_of(self, user: FakeUser) -> list[Order]:
        with UnitOfWork(self.app.sessions) as uow:
            identity = uow.session.scalars(
                select(ChannelIdentity).filter_by(channel="telegram", external_id=str(user.id))
            ).one()
            found = uow.session.scalars(
                select(Order).filter_by(identity_id=identity.id).order_by(Order.id)
            ).all()
            uow.session.expunge_all()
            return list(found)


@contextmanager
def telegram_shop(
    sample_db: Path,
    tmp_path: Path,
    interpreter,
    *,
    webhook: bool,
    before_start: Callable[[FakeTelegram], None] = lambda fake: None,
    fake_kw: dict | None = None,
    **more: object,
) -> Iterator[TelegramShop]:
    with running_fake_telegram(**(fake_kw or {})) as fake:
        before_start(fake)
        port = free_port()
        settings = sample_shop_settings(
            sample_db,
            tmp_path,
            port,
            telegram_bot_token=fake.token,
            telegram_api_base_url=fake.url,
            telegram_payment_provider_token=PROVIDER_TOKEN,
            telegram_webhook_url=f"http://127.0.0.1:{port}/webhooks/telegram" if webhook else "",
            telegram_webhook_secret=SECRET if webhook else "",
            **more,
        )
        app = bootstrap(settings, interpreter)
        app.refresh_catalog()
        api = create_app(app)
        with serve_in_thread(api, port) as url:
            wait_until(api.state.telegram.ready.is_set, "the bot to connect")
            if webhook:
                asyncio.run(set_webhook(settings))
            yield TelegramShop(fake, app, url, api.state.telegram)
        app.engine.dispose()


@pytest.fixture
def polling_shop(sample_db, tmp_path, interpreter) -> Iterator[TelegramShop]:
    with telegram_shop(sample_db, tmp_path, interpreter, webhook=False) as shop:
        yield shop


@pytest.fixture
def webhook_shop(sample_db, tmp_path, interpreter) -> Iterator[TelegramShop]:
    with telegram_shop(sample_db, tmp_path, interpreter, webhook=True) as shop:
        yield shop


def has_button(label: str) -> Callable[[BotMessage], bool]:
    return lambda m: any(b["text"] == label for b in m.buttons)


def data_starting(prefix: str) -> Callable[[BotMessage], bool]:
    return lambda m: any((b.get("callback_data") or "").startswith(prefix) for b in m.buttons)


def shop_until_order_placed(user: FakeUser, lang: str, *, type_phone: bool = False) -> BotMessage:
    """Buttons all the way: menu → category → details → variant → quantity → checkout; the
    phone number shared with the contact button, or typed."""

    def say(key: str, **params) -> str:
        return t(lang, key, **params)

    user.send_text("/start")
    menu = user.wait_for(has_button(say("buttons.categories")))
    user.press(say("buttons.categories"), menu)
    categories = user.wait_for(lambda m: say("search.categories") in m.text, fresh=True)
    user.press(categories.buttons[0]["text"], categories)
    listing = user.wait_for(data_starting("L|detail"), fresh=True)

    # paging edits the list in place
    shown = len(user.messages)
    user.press(say("buttons.more"), listing)
    paged = user.wait_for(lambda m: m.message_id == listing.message_id and m.edits, fresh=True)
    assert paged.text != listing.text and len(user.messages) == shown
    user.press(f"1. {say('buttons.details')}", paged)
    card = user.wait_for(lambda m: m.kind == "photo" and data_starting("variant?")(m), fresh=True)
    variant = next(b for b in card.buttons if b["callback_data"].startswith("variant?"))
    user.press(variant["text"], card)
    how_many = user.wait_for(data_starting("Q|add?"), fresh=True)
    user.press("1", how_many)
    added = user.wait_for(has_button(say("buttons.view_cart")), fresh=True)
    assert not next(m for m in user.messages if m.message_id == how_many.message_id).buttons

    # the cart's −/+ change the cart message in place
    user.press(say("buttons.view_cart"), added)
    cart = user.wait_for(lambda m: say("cart.quantity", qty=1) in m.text, fresh=True)
    user.press("1. +", cart)
    cart = user.wait_for(
        lambda m: m.message_id == cart.message_id and say("cart.quantity", qty=2) in m.text,
        fresh=True,
    )
    user.press(say("buttons.checkout"), cart)
    user.wait_for(lambda m: say("checkout.ask_name") in m.text, fresh=True)
    user.send_text("张伟" if lang == "zh" else "Alice Smith")
    user.wait_for(lambda m: say("checkout.ask_phone").split("（")[0][:12] in m.text, fresh=True)
    assert user.keyboard and user.keyboard["keyboard"][0][0].get("request_contact")
    if type_phone:
        user.send_text("138 1234 5678")
    else:
        user.share_contact("+8613812345678")
    user.wait_for(lambda m: say("checkout.ask_address")[:8] in m.text, fresh=True)
    assert user.keyboard is None  # the phone is known: "share my phone number" is gone
    user.send_text(
        "上海市浦东新区世纪大道100号" if lang == "zh" else "12 Harbour Road, Wan Chai, Hong Kong"
    )
    summary = user.wait_for(has_button(say("buttons.confirm")), fresh=True)
    user.press(say("buttons.confirm"), summary)
    return user.wait_for(lambda m: m.kind == "invoice", fresh=True)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_customer_buys_with_buttons_and_pays_the_invoice(polling_shop, lang) -> None:
    user = polling_shop.fake.user(
        1001, "Li" if lang == "zh" else "Alice", "zh-hans" if lang == "zh" else "en"
    )
    invoice = shop_until_order_placed(user, lang)

    [order] = polling_shop.orders_of(user)
    assert invoice.json["invoice"]["total_amount"] == order.total
    assert invoice.json["invoice"]["currency"] == order.currency
    placed = user.wait_for(lambda m: order.number in m.text and m.kind == "text")
    assert "/pay/" in placed.text  # the sandbox link stays available

    result = user.pay(invoice)
    assert result.ok, result.error_message
    user.wait_for(
        lambda m: (
            t(lang, "notifications.order_paid", number=order.number, total="").split("（")[0][:10]
            in m.text
        )
    )
    [order] = polling_shop.orders_of(user)
    assert order.status == OrderStatus.PAID
    assert polling_shop.fake.rate_limited == []  # paced within Telegram's limits
    assert all(answer for answer in user.callback_answers)
    assert len(user.callback_answers) == len(polling_shop.fake.calls_to("answerCallbackQuery"))


def test_the_phone_keyboard_goes_with_the_next_message_once_the_phone_is_typed(
    polling_shop,
) -> None:
    user = polling_shop.fake.user(1005, "Alice", "en")
    shop_until_order_placed(user, "en", type_phone=True)
    sent = [
        c.params.get("reply_markup") or {}
        for c in polling_shop.fake.calls
        if c.chat_id == user.id and c.method in ("sendMessage", "sendPhoto") and c.status == 200
    ]
    asked = next(i for i, markup in enumerate(sent) if "keyboard" in markup)
    assert sent[asked + 1].get("remove_keyboard") is True
    [order] = polling_shop.orders_of(user)
    assert order.ship_phone.replace(" ", "").endswith("13812345678")


def test_bot_menu_is_registered_in_chinese_and_english(polling_shop) -> None:
    fake = polling_shop.fake
    # in the background once connected: the menu is optional, it never holds up the bot
    wait_until(lambda: len(fake.calls_to("setMyCommands")) >= 3, "the menu")
    calls = fake.calls_to("setMyCommands")
    languages = {c.params.get("language_code") for c in calls}
    assert {"zh", "en", None} <= languages
    zh = next(c for c in calls if c.params.get("language_code") == "zh")
    assert [c["command"] for c in zh.params["commands"]] == [
        "start",
        "help",
        "cart",
        "orders",
        "lang",
    ]
    assert zh.params["commands"][2]["description"] == t("zh", "commands.cart")


def test_a_duplicated_successful_payment_captures_once(polling_shop) -> None:
    user = polling_shop.fake.user(1002, "Li", "zh-hans")
    invoice = shop_until_order_placed(user, "zh")
    result = user.pay(invoice)
    assert result.ok
    user.resend_successful_payment(result)
    user.resend_successful_payment(result)
    polling_shop.fake.wait_idle()
    [order] = polling_shop.orders_of(user)
    wait_until(
        lambda: (
            polling_shop.count(OutboxMessage, OutboxMessage.status == OutboxStatus.PENDING) == 0
        ),
        "the outbox",
    )
    assert polling_shop.count(Payment, Payment.status == PaymentStatus.CAPTURED) == 1
    assert (
        polling_shop.count(OrderEvent, OrderEvent.order_id == order.id, OrderEvent.type == "paid")
        == 1
    )
    confirmations = [m for m in user.messages if "已收到付款" in m.text]
    assert len(confirmations) == 1


def test_pre_checkout_is_refused_when_the_order_expired_and_its_stock_sold(polling_shop) -> None:
    user = polling_shop.fake.user(1003, "Li", "zh-hans")
    invoice = shop_until_order_placed(user, "zh")
    [order] = polling_shop.orders_of(user)
    # the payment time runs out, the order is cancelled, and someone else buys the stock
    with UnitOfWork(polling_shop.app.sessions) as uow:
        orders.cancel_expired(uow.session, order.pay_by + (order.pay_by - order.created_at))
        uow.session.execute(
            update(Variant).where(Variant.id == order.lines[0].variant_id).values(stock=0)
        )
        uow.commit()

    result = user.pay(invoice)
    assert result.answered and not result.ok
    assert result.error_message == t("zh", "errors.order_expired", number=order.number)
    assert result.successful_payment is None
    [order] = polling_shop.orders_of(user)
    assert order.status == OrderStatus.CANCELLED
    assert polling_shop.count(Payment, Payment.status == PaymentStatus.CAPTURED) == 0


def test_pre_checkout_is_refused_for_a_changed_amount(polling_shop) -> None:
    user = polling_shop.fake.user(1004, "Alice", "en")
    invoice = shop_until_order_placed(user, "en")
    result = user.pay(invoice, total_amount=invoice.json["invoice"]["total_amount"] - 1)
    assert not result.ok and "no longer matches" in result.error_message


# --- webhook mode ----------------------------------------------------------------------


def post_update(shop: TelegramShop, update: dict, secret: str | None = SECRET) -> httpx.Response:
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    return httpx.post(f"{shop.url}/webhooks/telegram", json=update, headers=headers, timeout=10)


def test_webhook_purchase_in_english(webhook_shop) -> None:
    user = webhook_shop.fake.user(2001, "Alice", "en")
    invoice = shop_until_order_placed(user, "en")
    assert user.pay(invoice).ok
    user.wait_for(lambda m: "Payment received" in m.text)
    assert all(a.status == 200 for a in webhook_shop.fake.webhook_attempts)


def test_webhook_refuses_a_wrong_or_missing_secret_and_records_nothing(webhook_shop) -> None:
    user = webhook_shop.fake.user(2002, "Li", "zh-hans")
    update = user.send_text("你好", deliver=False)
    assert post_update(webhook_shop, update, secret="wrong-secret").status_code == 403
    assert post_update(webhook_shop, update, secret=None).status_code == 403
    assert webhook_shop.count(Message) == 0
    assert post_update(webhook_shop, update).status_code == 200
    assert webhook_shop.count(Message, Message.direction == "in") == 1


def test_a_duplicate_update_is_handled_once(webhook_shop) -> None:
    user = webhook_shop.fake.user(2003, "Li", "zh-hans")
    update = user.send_text("红色T恤", deliver=False)
    assert post_update(webhook_shop, update).status_code == 200
    assert post_update(webhook_shop, update).status_code == 200
    user.wait_for("红")
    wait_until(
        lambda: webhook_shop.count(OutboxMessage, OutboxMessage.status != OutboxStatus.SENT) == 0,
        "every reply to be delivered",
    )
    assert webhook_shop.count(Message, Message.direction == "in") == 1
    assert len([m for m in user.messages if "件" in m.text]) == 1


def test_updates_of_one_chat_delivered_out_of_order_are_handled_in_order(webhook_shop) -> None:
    # an earlier update is waited for however late it is, so the test needs no timing
    sequencer = webhook_shop.channel.sequencer = Sequencer(gap_wait_s=60)
    user = webhook_shop.fake.user(2004, "Alice", "en")
    user.send_text("hello")
    user.wait_for("welcome")
    first = user.send_text("red t-shirt", deliver=False)
    second = user.send_text("my cart", deliver=False)
    # the later update arrives first (and is known to have), the earlier one after it
    late = threading.Thread(target=post_update, args=(webhook_shop, second))
    late.start()
    wait_until(lambda: sequencer.arrived(second["update_id"]), "the later update to arrive")
    assert post_update(webhook_shop, first).status_code == 200
    late.join()
    with UnitOfWork(webhook_shop.app.sessions) as uow:
        texts = uow.session.scalars(
            select(Message.text).where(Message.direction == "in").order_by(Message.id)
        ).all()
    assert texts[-2:] == ["red t-shirt", "my cart"]


# --- delivery faults -------------------------------------------------------------------


def test_a_429_is_waited_out_and_the_reply_arrives_once(polling_shop) -> None:
    user = polling_shop.fake.user(3001, "Alice", "en")
    polling_shop.fake.fail_next("sendMessage", error="429", retry_after=1, chat_id=user.id)
    started = time.monotonic()
    user.send_text("/help")
    reply = user.wait_for(
        lambda m: "what I can do" in m.text.lower() or "here's what" in m.text.lower()
    )
    assert time.monotonic() - started >= 1.0
    assert len([m for m in user.messages if m.text == reply.text]) == 1


def test_a_customer_who_blocked_the_bot_is_marked_unreachable_and_not_retried(polling_shop) -> None:
    user = polling_shop.fake.user(3002, "Alice", "en")
    user.block(notify=False)  # Telegram only tells us with a 403 on the next send
    user.send_text("/help")
    wait_until(
        lambda: polling_shop.count(OutboxMessage, OutboxMessage.status == OutboxStatus.DEAD) == 1,
        "the reply to be given up",
    )
    with UnitOfWork(polling_shop.app.sessions) as uow:
        identity = uow.session.scalars(select(ChannelIdentity).filter_by(external_id="3002")).one()
        assert identity.reachable is False
    tries = len([c for c in polling_shop.fake.calls_to("sendMessage") if c.chat_id == user.id])
    time.sleep(1.0)
    assert (
        len([c for c in polling_shop.fake.calls_to("sendMessage") if c.chat_id == user.id])
        == tries
        == 1
    )

    user.unblock(notify=False)
    user.send_text("/help")  # writing again means they unblocked the bot
    user.wait_for("what I can do")


def test_a_network_error_mid_reply_resends_only_what_was_missing(polling_shop) -> None:
    user = polling_shop.fake.user(3003, "Li", "zh-hans")
    polling_shop.fake.fail_next("sendInvoice", error="502", chat_id=user.id)
    invoice = shop_until_order_placed(user, "zh")  # waits through the retry's backoff
    [order] = polling_shop.orders_of(user)
    placed = [m for m in user.messages if order.number in m.text and m.kind == "text"]
    invoices = [m for m in user.messages if m.kind == "invoice"]
    assert len(placed) == 1 and invoices == [invoice]
    assert [c.status for c in polling_shop.fake.calls_to("sendInvoice")] == [502, 200]


def test_a_photo_is_kept_as_evidence_and_a_deep_link_opens_the_product(polling_shop) -> None:
    user = polling_shop.fake.user(3004, "Alice", "en")
    user.send_photo(caption=None)
    user.wait_for(t("en", "media.received")[:20])
    with UnitOfWork(polling_shop.app.sessions) as uow:
        photo = uow.session.scalars(select(Message).where(Message.direction == "in")).one()
        [evidence] = photo.body["attachments"]
    assert evidence.startswith("telegram:")

    user.send_text("/start p1")
    card = user.wait_for(lambda m: m.kind == "photo", fresh=True)
    assert data_starting("variant?")(card)


def test_updates_sent_while_the_shop_was_down_are_handled_on_start(
    sample_db, tmp_path, interpreter
) -> None:
    def customer_writes_first(fake: FakeTelegram) -> None:
        fake.user(4001, "Alice", "en").send_text("/help")

    with telegram_shop(
        sample_db, tmp_path, interpreter, webhook=False, before_start=customer_writes_first
    ) as shop:
        user = shop.fake.user(4001)
        user.wait_for("what I can do")
        shop.fake.wait_idle()
        assert shop.fake.updates_pending() == 0


def test_webhook_refuses_an_oversized_or_malformed_body(webhook_shop) -> None:
    url, headers = f"{webhook_shop.url}/webhooks/telegram", {SECRET_HEADER: SECRET}
    huge = httpx.post(url, content=b"{" + b" " * 2_000_000 + b"}", headers=headers, timeout=10)
    assert huge.status_code == 413
    assert httpx.post(url, content=b"not json", headers=headers, timeout=10).status_code == 400
    assert httpx.post(url, json=[1, 2], headers=headers, timeout=10).status_code == 400
    assert webhook_shop.count(Message) == 0


def test_a_page_whose_message_is_gone_arrives_as_a_new_message(webhook_shop) -> None:
    user = webhook_shop.fake.user(2005, "Alice", "en")
    user.send_text("t-shirts")
    listing = user.wait_for(data_starting("L|more"))
    press = user.press(t("en", "buttons.more"), listing, deliver=False)
    press["callback_query"]["message"]["message_id"] = 999_999  # deleted by the customer
    assert post_update(webhook_shop, press).status_code == 200
    page = user.wait_for(
        lambda m: m.message_id != listing.message_id and "L|page" in str(m.buttons)
    )
    assert page.edits == 0 and user.messages[0].text == listing.text
