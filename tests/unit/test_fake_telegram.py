"""The fake Telegram Bot API, driven by the real python-telegram-bot client."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, LabeledPrice
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.request import HTTPXRequest

from tests.conftest import free_port, serve_in_thread
from tests.fakes.telegram import FakeTelegram, parse_text, running_fake_telegram, tiny_png

# PTB 22 warns whenever a RetryAfter is made: its retry_after will become a timedelta.
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")

KEYBOARD = InlineKeyboardMarkup(
    [
        [
            InlineKeyboardButton("Add", callback_data="add:TEE-1"),
            InlineKeyboardButton("Site", url="https://example.com"),
        ]
    ]
)


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with running_fake_telegram(enforce_rate_limits=False) as fake:
        yield fake


def run(fake: FakeTelegram, scenario, **bot_kw):
    """Run `scenario(bot)` with a real PTB Bot pointed at the fake."""

    async def main():
        async with Bot(**fake.bot_kwargs(), **bot_kw) as bot:
            return await scenario(bot)

    return asyncio.run(main())


def seconds(value: int | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else value


def test_get_me_token_and_protocol(fake: FakeTelegram) -> None:
    me = run(fake, lambda bot: bot.get_me())
    assert (me.username, me.is_bot, me.id) == ("chatshop_test_bot", True, 123)

    async def wrong_token():
        async with Bot("999:WRONG", base_url=f"{fake.url}/bot") as bot:
            await bot.get_me()

    with pytest.raises(InvalidToken):
        asyncio.run(wrong_token())
    api = f"{fake.url}/bot{fake.token}"
    assert httpx.get(f"{api}/noSuchMethod").json() == {
        "ok": False, "error_code": 404, "description": "Not Found"
    }  # fmt: skip
    fake.user(1001)
    # Query string, JSON body and case-insensitive method names all work.
    sent = httpx.get(f"{api}/SENDMESSAGE", params={"chat_id": "1001", "text": "123"}).json()
    assert sent["ok"] and sent["result"]["text"] == "123"
    markup = {"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]}
    body = {"chat_id": 1001, "text": "hi", "reply_markup": markup}
    assert httpx.post(f"{api}/sendMessage", json=body).json()["result"]["reply_markup"] == markup
    assert fake.calls[-1].params["reply_markup"] == markup and fake.calls[-1].chat_id == 1001


def test_send_message_html_and_limits(fake: FakeTelegram) -> None:
    user = fake.user(1001)

    async def scenario(bot: Bot):
        sent = await bot.send_message(
            1001,
            "  <b>Tee</b> &amp; <i>socks</i> 😀<a href='https://x.y'>go</a>\n",
            parse_mode="HTML",
        )
        assert sent.text == "Tee & socks 😀go"
        assert [(e.type, e.offset, e.length) for e in sent.entities] == [
            ("bold", 0, 3), ("italic", 6, 5), ("text_link", 14, 2)
        ]  # fmt: skip
        failures = {}
        for label, text, mode in [
            ("lt", "price < 5", "HTML"),
            ("amp", "R&D", "HTML"),
            ("unclosed", "<b>bold", "HTML"),
            ("mismatched", "<b><i>x</b></i>", "HTML"),
            ("tag", "<p>para</p>", "HTML"),
            ("long", "x" * 5000, None),
            ("long16", "😀" * 2049, None),
            ("empty", "<b> </b>", "HTML"),
            ("markdown", "*bold*", "MarkdownV2"),
        ]:
            with pytest.raises(BadRequest) as error:
                await bot.send_message(1001, text, parse_mode=mode)
            failures[label] = error.value.message
        await bot.send_message(1001, "😀" * 2048)  # 4096 UTF-16 units: the limit
        with pytest.raises(BadRequest, match="Chat not found"):
            await bot.send_message(4242, "who?")
        return failures

    failures = {label: message.lower() for label, message in run(fake, scenario).items()}
    assert failures["lt"] == 'can\'t parse entities: unsupported start tag "" at byte offset 6'
    assert failures["amp"] == 'can\'t parse entities: unsupported html entity "&d" at byte offset 1'
    assert 'can\'t find end tag corresponding to start tag "b"' in failures["unclosed"]
    assert 'expected "</i>", found "</b>"' in failures["mismatched"]
    assert 'unsupported start tag "p"' in failures["tag"]
    assert failures["long"] == failures["long16"] == "message is too long"
    assert failures["empty"] == "message text is empty"
    assert "only html" in failures["markdown"]
    assert len(user.messages) == 2 and user.messages[0].raw.startswith("  <b>Tee</b>")
    assert [c.status for c in fake.calls_to("sendMessage")] == [200] + [400] * 9 + [200, 400]


def test_parse_text_entities() -> None:
    text, entities = parse_text(
        '<pre><code class="language-py">x = 1</code></pre>&#33;&#x21;&quot;', "HTML"
    )
    assert text == 'x = 1!!"' and entities == [
        {"type": "pre", "language": "py", "offset": 0, "length": 5}
    ]
    text, entities = parse_text(
        "<tg-spoiler>s</tg-spoiler><span class='tg-spoiler'>t</span>", "html"
    )
    assert [e["type"] for e in entities] == ["spoiler", "spoiler"]


def test_send_photo_upload_and_download(fake: FakeTelegram) -> None:
    user = fake.user(1001)
    png = tiny_png(3, 2)

    async def scenario(bot: Bot):
        sent = await bot.send_photo(
            1001, png, caption="<b>Tee</b> 79", parse_mode="HTML", reply_markup=KEYBOARD
        )
        assert sent.caption == "Tee 79" and sent.caption_entities[0].type == "bold"
        assert (sent.photo[-1].width, sent.photo[-1].height) == (3, 2)
        file = await bot.get_file(sent.photo[-1].file_id)
        assert bytes(await file.download_as_bytearray()) == png
        again = await bot.send_photo(1001, sent.photo[-1].file_id)  # by file_id
        assert again.photo[-1].file_id == sent.photo[-1].file_id
        with pytest.raises(BadRequest, match="Message caption is too long"):
            await bot.send_photo(1001, png, caption="x" * 1100)
        with pytest.raises(BadRequest, match="Image_process_failed"):
            await bot.send_photo(1001, b"not an image")
        too_long = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="d" * 65)]])
        with pytest.raises(BadRequest, match="Button_data_invalid"):
            await bot.send_photo(1001, png, reply_markup=too_long)

    run(fake, scenario)
    first = user.messages[0]
    assert first.kind == "photo" and first.text == "Tee 79"
    assert [b["text"] for b in first.buttons] == ["Add", "Site"]
    assert len(user.messages) == 2


def test_edits(fake: FakeTelegram) -> None:
    user = fake.user(1001)

    async def scenario(bot: Bot):
        text = await bot.send_message(1001, "Cart: 1", reply_markup=KEYBOARD)
        photo = await bot.send_photo(1001, tiny_png(), caption="old")
        edited = await bot.edit_message_text(
            "Cart: <b>2</b>", 1001, text.message_id, parse_mode="HTML", reply_markup=KEYBOARD
        )
        assert edited.text == "Cart: 2" and edited.edit_date
        with pytest.raises(BadRequest, match="Message is not modified"):
            await bot.edit_message_text(
                "Cart: <b>2</b>", 1001, text.message_id, parse_mode="HTML", reply_markup=KEYBOARD
            )
        # Without reply_markup the keyboard goes away, as on Telegram.
        await bot.edit_message_text("Cart: <b>2</b>", 1001, text.message_id, parse_mode="HTML")
        await bot.edit_message_reply_markup(1001, text.message_id, reply_markup=KEYBOARD)
        with pytest.raises(BadRequest, match="Message is not modified"):
            await bot.edit_message_reply_markup(1001, text.message_id, reply_markup=KEYBOARD)
        await bot.edit_message_caption(1001, photo.message_id, caption="new")
        with pytest.raises(BadRequest, match="There is no text in the message to edit"):
            await bot.edit_message_text("x", 1001, photo.message_id)
        with pytest.raises(BadRequest, match="There is no caption in the message to edit"):
            await bot.edit_message_caption(1001, text.message_id, caption="x")
        with pytest.raises(BadRequest, match="Message to edit not found"):
            await bot.edit_message_text("x", 1001, 999)
        return text.message_id

    message_id = run(fake, scenario)
    cart, photo = user.messages
    assert (cart.message_id, cart.text, cart.edits, len(cart.history)) == (
        message_id,
        "Cart: 2",
        3,
        3,
    )
    assert [h["text"] for h in cart.history] == ["Cart: 1", "Cart: 2", "Cart: 2"]
    assert "reply_markup" not in cart.history[2] and cart.buttons
    assert (photo.text, photo.edits) == ("new", 1)


def test_press_callback_via_get_updates(fake: FakeTelegram) -> None:
    user = fake.user(1001, first_name="Li")

    async def scenario(bot: Bot):
        await bot.send_message(1001, "Classic Tee", reply_markup=KEYBOARD)
        with pytest.raises(AssertionError, match="add:TEE-1"):
            user.press("Remove")
        user.send_text("/start p12")
        user.press("Add")
        updates = await bot.get_updates(timeout=1)
        assert [u.update_id for u in updates] == [700_000, 700_001]
        command, press = updates
        assert (
            command.message.text == "/start p12"
            and command.message.entities[0].type == "bot_command"
        )
        assert command.message.entities[0].length == 6
        query = press.callback_query
        assert (query.data, query.from_user.first_name, query.message.text) == (
            "add:TEE-1",
            "Li",
            "Classic Tee",
        )
        assert await bot.answer_callback_query(query.id, text="Added")
        with pytest.raises(BadRequest, match="Query is too old"):
            await bot.answer_callback_query(query.id)
        assert fake.updates_pending() == 2
        assert await bot.get_updates(offset=press.update_id + 1) == ()
        assert fake.updates_pending() == 0
        # A long poll returns as soon as an update arrives: this one may wait 50 s, the update
        # is sent once it waits, and it must come back well before its timeout would end it.
        waiting = fake.polls_started + 1
        threading.Thread(target=send_when_polled, args=(fake, waiting, user, "hello")).start()
        long_poll = bot.get_updates(offset=press.update_id + 1, timeout=50)
        (hello,) = await asyncio.wait_for(long_poll, timeout=40)
        assert hello.message.text == "hello"

    run(fake, scenario)
    assert user.callback_answers[0]["text"] == "Added"
    undelivered = user.press("add:TEE-1", deliver=False)
    assert undelivered["callback_query"]["data"] == "add:TEE-1" and fake.updates_pending() == 1


def send_when_polled(fake: FakeTelegram, polls: int, user, text: str) -> None:
    """Send `text` from `user` once the fake has received its `polls`-th getUpdates call."""
    deadline = time.monotonic() + 10
    while fake.polls_started < polls and time.monotonic() < deadline:
        time.sleep(0.01)
    user.send_text(text)


def test_late_callback_answer() -> None:
    with running_fake_telegram(callback_timeout_s=0.1) as fake:
        user = fake.user(1001)

        async def scenario(bot: Bot):
            await bot.send_message(1001, "Tee", reply_markup=KEYBOARD)
            query_id = user.press("Add")["callback_query"]["id"]
            await asyncio.sleep(0.2)
            with pytest.raises(BadRequest, match="Query is too old"):
                await bot.answer_callback_query(query_id)

        run(fake, scenario)


def test_injected_faults_and_blocking(fake: FakeTelegram) -> None:
    user = fake.user(1001)

    async def scenario(bot: Bot):
        fake.fail_next("sendMessage", "429", retry_after=7)
        with pytest.raises(RetryAfter) as limited:
            await bot.send_message(1001, "one")
        assert seconds(limited.value.retry_after) == 7
        fake.fail_next("sendMessage", "502")
        with pytest.raises(NetworkError) as gateway:
            await bot.send_message(1001, "two")
        assert "Bad Gateway" in str(gateway.value)
        user.block()
        with pytest.raises(Forbidden, match="bot was blocked by the user"):
            await bot.send_message(1001, "three")
        user.unblock()
        await bot.send_message(1001, "four")

    run(fake, scenario)
    assert user.texts() == ["four"]
    assert [c.status for c in fake.calls_to("sendMessage")] == [429, 502, 403, 200]
    assert [u["my_chat_member"]["new_chat_member"]["status"] for u in fake.updates] == [
        "kicked",
        "member",
    ]


def test_timeout_fault(fake: FakeTelegram) -> None:
    user = fake.user(1001)
    fake.fail_next("sendMessage", "timeout", seconds=0.6)

    async def scenario(bot: Bot):
        with pytest.raises(TimedOut):
            await bot.send_message(1001, "slow", read_timeout=0.2)

    run(fake, scenario, request=HTTPXRequest(read_timeout=5))
    assert user.messages == []


def test_rate_limits() -> None:
    with running_fake_telegram(per_chat_burst=3, per_chat_per_s=1.0) as fake:
        fake.user(1001)
        fake.user(1002)

        async def scenario(bot: Bot):
            for n in range(3):
                await bot.send_message(1001, f"m{n}")
            with pytest.raises(RetryAfter) as limited:
                await bot.send_message(1001, "m3")
            await bot.send_message(1002, "other chat is fine")
            return limited.value

        error = run(fake, scenario)
        assert 1 <= seconds(error.retry_after) <= 3
        (violation,) = fake.rate_limited
        assert (violation.chat_id, violation.scope) == (1001, "chat")
        assert len(fake.messages[1001]) == 3


def test_invoice_and_payment(fake: FakeTelegram) -> None:
    user = fake.user(1001)

    async def answer_precheckouts(bot: Bot, count: int) -> list:
        seen, offset = [], 0
        while len(seen) < count:
            for update in await bot.get_updates(offset=offset, timeout=1):
                offset = update.update_id + 1
                seen.append(update)
                if update.pre_checkout_query:
                    await bot.answer_pre_checkout_query(update.pre_checkout_query.id, ok=True)
        await bot.get_updates(offset=offset)
        return seen

    async def scenario(bot: Bot):
        prices = [LabeledPrice("Tee", 7900), LabeledPrice("Shipping", 1000)]
        invoice = await bot.send_invoice(
            1001, "Order #12", "2 items", "order:12", "CNY", prices, provider_token="TEST:1"
        )
        assert invoice.invoice.total_amount == 8900
        for bad, match in [
            ({"prices": []}, "There must be at least one price"),
            ({"currency": "cny"}, "Currency_invalid"),
            ({"title": "t" * 33}, "title"),
            ({"payload": "p" * 129}, "Invoice_payload_invalid"),
        ]:
            kw = {
                "title": "T",
                "description": "D",
                "payload": "p",
                "currency": "CNY",
                "prices": prices,
            } | bad
            with pytest.raises(BadRequest, match=match):
                await bot.send_invoice(1001, provider_token="TEST:1", **kw)
        paying = asyncio.create_task(asyncio.to_thread(user.pay))
        updates = await answer_precheckouts(bot, 2)
        result = await paying
        return updates, result

    updates, result = run(fake, scenario)
    precheckout, paid = updates
    assert precheckout.pre_checkout_query.invoice_payload == "order:12"
    assert precheckout.pre_checkout_query.total_amount == 8900
    assert result.ok and result.update_id == paid.update_id
    payment = paid.message.successful_payment
    assert (payment.total_amount, payment.invoice_payload) == (8900, "order:12")
    assert (
        payment.telegram_payment_charge_id
        == result.successful_payment["telegram_payment_charge_id"]
    )
    assert user.precheckout_answers == [
        {
            "pre_checkout_query_id": precheckout.pre_checkout_query.id,
            "ok": True,
            "error_message": None,
        }
    ]
    duplicate = user.resend_successful_payment(result)
    assert duplicate["update_id"] > paid.update_id
    assert duplicate["message"]["successful_payment"] == result.successful_payment


def test_late_precheckout_answer() -> None:
    with running_fake_telegram(precheckout_timeout_s=0.3, enforce_rate_limits=False) as fake:
        user = fake.user(1001)

        async def scenario(bot: Bot):
            await bot.send_invoice(
                1001, "T", "D", "p", "XTR", [LabeledPrice("Stars", 50)], provider_token=""
            )
            result = await asyncio.to_thread(user.pay)
            (update,) = await bot.get_updates()
            with pytest.raises(BadRequest, match="Query is too old"):
                await bot.answer_pre_checkout_query(update.pre_checkout_query.id, ok=True)
            with pytest.raises(BadRequest, match='Parameter "error_message" is required'):
                await bot.answer_pre_checkout_query(update.pre_checkout_query.id, ok=False)
            return result

        result = run(fake, scenario)
        assert (result.ok, result.answered, result.successful_payment) == (False, False, None)


def test_webhook_delivery_with_secret_and_retry() -> None:
    received: list[tuple[str | None, dict]] = []

    async def webhook(request: Request) -> JSONResponse:
        received.append(
            (request.headers.get("x-telegram-bot-api-secret-token"), await request.json())
        )
        return JSONResponse({}, status_code=500 if len(received) == 1 else 200)

    hook_app = Starlette(routes=[Route("/tg", webhook, methods=["POST"])])
    with (
        running_fake_telegram(webhook_retry_delays=(0.05, 0.1)) as fake,
        serve_in_thread(hook_app, free_port()) as hook,
    ):
        user = fake.user(1001)

        async def scenario(bot: Bot):
            assert await bot.set_webhook(f"{hook}/tg", secret_token="s3cr3t-token_1")
            with pytest.raises(BadRequest, match="Secret token contains unallowed characters"):
                await bot.set_webhook(f"{hook}/tg", secret_token="no spaces")
            user.send_text("/start")
            await asyncio.to_thread(fake.wait_idle, 5)
            with pytest.raises(Conflict, match="webhook is active"):
                await bot.get_updates()
            info = await bot.get_webhook_info()
            assert (info.url, info.pending_update_count) == (f"{hook}/tg", 0)
            assert "500" in info.last_error_message
            assert await bot.delete_webhook()
            user.send_text("after")
            (update,) = await bot.get_updates()
            assert update.message.text == "after"

        run(fake, scenario)
        assert [secret for secret, _ in received] == ["s3cr3t-token_1"] * 2
        assert received[0][1] == received[1][1] and received[0][1]["message"]["text"] == "/start"
        assert [(a.update_id, a.status) for a in fake.webhook_attempts] == [
            (700_000, 500),
            (700_000, 200),
        ]


def test_commands_and_chat_action(fake: FakeTelegram) -> None:
    fake.user(1001)

    async def scenario(bot: Bot):
        assert await bot.set_my_commands([("start", "Start shopping"), ("cart", "My cart")])
        assert await bot.set_my_commands([("start", "开始")], language_code="zh")
        assert [c.command for c in await bot.get_my_commands()] == ["start", "cart"]
        assert [c.description for c in await bot.get_my_commands(language_code="zh")] == ["开始"]
        with pytest.raises(BadRequest, match="Bot_command_invalid"):
            await bot.set_my_commands([("Start", "caps are not allowed")])
        assert await bot.delete_my_commands()
        assert await bot.get_my_commands() == ()
        assert await bot.send_chat_action(1001, "typing")
        with pytest.raises(BadRequest, match="Chat not found"):
            await bot.send_chat_action(5, "typing")

    run(fake, scenario)


def test_user_side_helpers(fake: FakeTelegram) -> None:
    user = fake.user(1001)
    photo = user.send_photo(caption="this one")
    contact = user.share_contact("+8613800000000", deliver=False)
    assert contact["message"]["contact"]["user_id"] == 1001 and fake.updates_pending() == 1

    async def scenario(bot: Bot):
        file = await bot.get_file(photo["message"]["photo"][-1]["file_id"])
        assert bytes(await file.download_as_bytearray()) == tiny_png()
        threading.Timer(0.1, lambda: asyncio.run(delayed_reply())).start()

    async def delayed_reply():
        async with Bot(**fake.bot_kwargs()) as bot:
            await bot.send_message(1001, "Got your <b>photo</b>", parse_mode="HTML")

    run(fake, scenario)
    assert user.wait_for("photo", timeout=5).raw == "Got your <b>photo</b>"
    with pytest.raises(AssertionError, match="Got your photo"):
        user.wait_for("nothing like this", timeout=0.1)
