"""Telegram, on python-telegram-bot's `Bot`: updates in by polling (development) or by our own
webhook (production), each turned into one `Inbound` for the gateway; replies and pushes out
through the outbox (`telegram_send`). Telegram Payments invoices are checked at pre-checkout
and captured once per charge id.

Updates are handled one at a time per chat, in update_id order. A webhook update is answered
only after it was handled, and polling confirms an offset only after its batch was handled,
so an update Telegram still holds (a `successful_payment`, say) is never lost to a crash;
the gateway's de-duplication makes the redelivery harmless."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request, Response
from telegram import (
    Bot,
    BotCommand,
    ChatMember,
    ChatMemberUpdated,
    Message,
    PreCheckoutQuery,
    Update,
)
from telegram.error import BadRequest, Conflict, InvalidToken, RetryAfter, TelegramError
from telegram.request import HTTPXRequest

from bot.channels.body import read_at_most
from bot.channels.sequencer import Sequencer
from bot.channels.telegram_render import LIST_MARK, QUESTION_MARK, Pressed, public_https
from bot.channels.telegram_send import TelegramSender, retry_seconds
from bot.messages import Inbound, payload
from dialogs.i18n import LANGUAGES, t
from store import customers, orders, payments
from store.errors import DomainError
from store.models import utcnow
from store.payments import TelegramPayments
from store.uow import UnitOfWork

if TYPE_CHECKING:
    from bot.bootstrap import App
    from bot.config import Settings

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ["message", "callback_query", "pre_checkout_query", "my_chat_member"]
COMMANDS = ("start", "help", "cart", "orders", "lang")
POLL_TIMEOUT_S = 20
MAX_BODY = 1_000_000


class TelegramChannel:
    name = "telegram"

    def __init__(self, app: App) -> None:
        settings = app.settings
        self.app = app
        self.bot = make_bot(settings)
        self.webhook_mode = bool(settings.telegram_webhook_url)
        self.payments = TelegramPayments()
        self.sender = TelegramSender(
            app.sessions,
            self.bot,
            Path(settings.media_dir),
            link_buttons=public_https(settings.base_url),
            provider_token=settings.telegram_payment_provider_token,
            payments=self.payments,
            interval_s=settings.dispatch_interval_s,
            per_second=settings.telegram_messages_per_s,
        )
        self.sequencer = Sequencer()
        self.ready = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Connect in the background, so a Telegram outage never keeps the shop from starting."""
        self._tasks.append(asyncio.create_task(self._connect()))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.ready.is_set():
            await self.sender.stop()
            await self.bot.shutdown()

    async def _connect(self) -> None:
        delay = 1.0
        while True:
            try:
                await self.bot.initialize()  # getMe: checks the token
                await register_commands(self.bot, self.app.settings.default_language)
                if not self.webhook_mode:  # Telegram refuses getUpdates while a webhook is set
                    await self.bot.delete_webhook(drop_pending_updates=False)
                break
            except InvalidToken:
                log.error("Telegram refused TELEGRAM_BOT_TOKEN; the Telegram channel is off")
                return
            except TelegramError as error:
                log.warning("cannot reach Telegram (%s); retrying in %.0f s", error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60)
        log.info("Telegram bot @%s connected (%s)", self.bot.username, self.mode)
        self.ready.set()
        self.sender.start()
        if not self.webhook_mode:
            self._tasks.append(asyncio.create_task(self.poll()))

    @property
    def mode(self) -> str:
        return "webhook" if self.webhook_mode else "polling"

    async def poll(self) -> None:
        """Long-poll getUpdates; confirm a batch (the next offset) only once it is handled."""
        offset, delay = None, 1.0
        while True:
            try:
                updates = await self.bot.get_updates(
                    offset=offset, timeout=POLL_TIMEOUT_S, allowed_updates=ALLOWED_UPDATES
                )
                delay = 1.0
            except RetryAfter as error:
                await asyncio.sleep(retry_seconds(error))
                continue
            except Conflict:
                log.error("another process is polling this bot, or a webhook is set; waiting")
                await asyncio.sleep(10)
                continue
            except TelegramError as error:
                log.warning("getUpdates failed (%s); retrying in %.0f s", error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30)
                continue
            if not updates:
                continue
            outcomes = await asyncio.gather(
                *(self.process(u) for u in updates), return_exceptions=True
            )
            failures = [o for o in outcomes if isinstance(o, BaseException)]
            if failures:
                # Not confirmed, so Telegram sends the batch again; what was handled is
                # de-duplicated, and a payment is never dropped because the database hiccupped.
                log.error("telegram updates failed, retrying", exc_info=failures[0])
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30)
                continue
            offset = updates[-1].update_id + 1

    async def process(self, update: Update) -> None:
        chat_id = _chat_of(update)
        if chat_id is None:
            return  # not something a shop answers (edits, group chats, channel posts)
        await self.sequencer.run(chat_id, update.update_id, lambda: self._handle(update))

    async def _handle(self, update: Update) -> None:
        if update.pre_checkout_query:
            await self._precheck(update.pre_checkout_query)
            return
        if update.my_chat_member:
            await asyncio.to_thread(self._member_changed, update.my_chat_member)
            return
        message = update.message
        if message is not None and message.successful_payment:
            await asyncio.to_thread(self._capture, message)
            self.sender.wake()
            return
        if update.callback_query:
            try:  # first, so the button stops spinning whatever happens next
                await self.bot.answer_callback_query(update.callback_query.id)
            except TelegramError:
                log.debug("callback query already answered or too old")
        inbound = to_inbound(update)
        if inbound is not None:
            handled = await asyncio.to_thread(self.app.gateway.handle, inbound)
            if handled.leased:
                self.sender.deliver_now(handled.leased)
            else:
                self.sender.wake()

    async def _precheck(self, query: PreCheckoutQuery) -> None:
        """Telegram waits 10 s for this answer before the money moves."""
        refusal = await asyncio.to_thread(self._refusal, query)
        try:
            await self.bot.answer_pre_checkout_query(
                query.id, refusal is None, error_message=refusal
            )
        except BadRequest as error:  # answered already (a redelivery) or too late
            log.warning("pre-checkout answer refused: %s", error)

    def _refusal(self, query: PreCheckoutQuery) -> str | None:
        with UnitOfWork(self.app.sessions) as uow:
            try:
                payments.check_payable(
                    uow.session,
                    self.payments.name,
                    query.invoice_payload,
                    query.total_amount,
                    query.currency,
                    utcnow(),
                )
            except DomainError as error:
                lang = (
                    orders.language_of(uow.session, str(error.params.get("number", "")))
                    or _language(query.from_user.language_code)
                    or "en"
                )
                log.info("pre-checkout refused: %s", error.code)
                return t(lang, f"errors.{error.code}", **error.params)
        return None

    def _member_changed(self, change: ChatMemberUpdated) -> None:
        blocked = change.new_chat_member.status == ChatMember.BANNED
        with UnitOfWork(self.app.sessions) as uow:
            customers.set_reachable(uow.session, "telegram", str(change.chat.id), not blocked)
            uow.commit()

    def _capture(self, message: Message) -> None:
        paid = message.successful_payment
        assert paid is not None
        body = json.dumps(paid.to_dict()).encode()
        with UnitOfWork(self.app.sessions) as uow:
            try:
                outcome = payments.handle_notification(
                    uow.session, self.payments, body, {}, utcnow()
                )
            except DomainError as error:  # unreadable: retrying would not make it readable
                log.error("telegram successful_payment not applied: %s", error)
                return
            uow.commit()
        log.info("telegram payment: %s", outcome)


def make_bot(settings: Settings) -> Bot:
    base = settings.telegram_api_base_url.rstrip("/")
    return Bot(
        settings.telegram_bot_token,
        base_url=f"{base}/bot",
        base_file_url=f"{base}/file/bot",
        request=HTTPXRequest(connection_pool_size=8),
        get_updates_request=HTTPXRequest(read_timeout=POLL_TIMEOUT_S + 10),
    )


async def register_commands(bot: Bot, default_language: str) -> None:
    """The bot's menu in each language, and in the shop's default language for the rest."""
    for language in (*LANGUAGES, None):
        lang = language or default_language
        commands = [BotCommand(c, t(lang, f"commands.{c}")) for c in COMMANDS]
        await bot.set_my_commands(commands, language_code=language)


async def set_webhook(settings: Settings) -> dict[str, object]:
    """Point Telegram at our webhook (the `chatshop telegram set-webhook` command)."""
    async with make_bot(settings) as bot:
        await bot.set_webhook(
            settings.telegram_webhook_url,
            secret_token=settings.telegram_webhook_secret,
            allowed_updates=ALLOWED_UPDATES,
            drop_pending_updates=False,  # they may carry a successful_payment
        )
        await register_commands(bot, settings.default_language)
        info = await bot.get_webhook_info()
        return {"url": info.url, "pending_update_count": info.pending_update_count}


def to_inbound(update: Update) -> Inbound | None:
    """A customer's update as the channel-neutral message the gateway takes."""
    query = update.callback_query
    if query is not None:
        data = query.data or ""
        marks = {LIST_MARK: "list", QUESTION_MARK: "question"}
        kind = marks.get(data[:2], "text")
        message = query.message if isinstance(query.message, Message) else None
        if message is not None and message.photo:
            kind = "photo"
        pressed = Pressed(message.message_id, kind).encode() if message else None  # type: ignore[arg-type]
        return Inbound(
            "telegram",
            str(query.from_user.id),
            str(update.update_id),
            payload=(data[2:] if data[:2] in marks else data)[:200] or None,
            display_name=query.from_user.full_name,
            pressed=pressed,
            language=_language(query.from_user.language_code),
        )
    message = update.message
    if message is None:
        return None
    sender = message.from_user
    base = {
        "channel": "telegram",
        "chat_id": str(message.chat.id),
        "message_id": str(update.update_id),
        "display_name": sender.full_name if sender else "",
        "language": _language(sender.language_code if sender else None),
    }
    if message.contact:
        return Inbound(**base, contact_phone=message.contact.phone_number)
    if message.photo:
        evidence = (f"telegram:{message.photo[-1].file_id}",)
        return Inbound(**base, text=message.caption or "", attachments=evidence)
    text = message.text or ""
    if text.startswith("/") and (command := _command(text)):
        return Inbound(**base, payload=command)
    return Inbound(**base, text=text)


def _command(text: str) -> str | None:
    """/start (with a deep-link parameter such as p12), /help, /cart, /orders, /lang [en]."""
    head, _, argument = text.partition(" ")
    name = head[1:].split("@", 1)[0].lower()
    argument = argument.strip()
    if name == "start":
        product = argument.removeprefix("p").removeprefix("_")
        return (
            payload("start", p=product)
            if argument.startswith("p") and product.isdigit()
            else "start"
        )
    if name == "lang":
        return payload("lang", to=argument.lower()) if argument else "lang"
    return {"help": "help", "cart": "view_cart", "orders": "orders"}.get(name)


def _language(code: str | None) -> str | None:
    code = (code or "").lower()
    return next((lang for lang in LANGUAGES if code.startswith(lang)), None)


def _chat_of(update: Update) -> str | None:
    if update.pre_checkout_query:
        return str(update.pre_checkout_query.from_user.id)
    if update.callback_query:
        return str(update.callback_query.from_user.id)
    if update.message and update.message.chat.type == "private":
        return str(update.message.chat.id)
    if update.my_chat_member and update.my_chat_member.chat.type == "private":
        return str(update.my_chat_member.chat.id)
    return None


def router() -> APIRouter:
    api = APIRouter()

    @api.post("/webhooks/telegram", include_in_schema=False)
    async def webhook(request: Request) -> Response:
        channel: TelegramChannel | None = request.app.state.telegram
        if channel is None or not channel.webhook_mode:
            return Response(status_code=404)
        secret = channel.app.settings.telegram_webhook_secret.encode()
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, secret):
            return Response(status_code=403)
        if not channel.ready.is_set():
            return Response(status_code=503)  # Telegram retries until we are connected
        body = await read_at_most(request, MAX_BODY)
        if body is None:
            return Response(status_code=413)
        try:
            data = json.loads(body)
            update = Update.de_json(data, channel.bot) if isinstance(data, dict) else None
        except (ValueError, TypeError, KeyError):
            update = None
        if update is None:
            return Response(status_code=400)
        await channel.process(update)
        return Response(status_code=200)

    return api
