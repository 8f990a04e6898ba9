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
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request, Response
from telegram import Bot, BotCommand
from telegram.error import BadRequest, InvalidToken, RetryAfter, TelegramError
from telegram.request import HTTPXRequest

from bot.channels.body import read_at_most
from bot.channels.sequencer import Sequencer
from bot.channels.telegram_inbound import (
    BANNED,
    ChatMemberUpdated,
    MalformedUpdate,
    Message,
    NotAnUpdate,
    PreCheckoutQuery,
    Update,
    chat_of,
    language_of,
    read_update,
    to_inbound,
)
from bot.channels.telegram_poll import ALLOWED_UPDATES, POLL_TIMEOUT_S, Poller
from bot.channels.telegram_render import public_https
from bot.channels.telegram_send import TelegramSender, retry_seconds
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
COMMANDS = ("start", "help", "cart", "orders", "lang")
MENU_ATTEMPTS = 5
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
                if not self.webhook_mode:
                    await self._clear_webhook()
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
        self._tasks.append(asyncio.create_task(self._offer_menu()))
        if not self.webhook_mode:
            poller = Poller(self.bot, self._handle_batch)
            self._tasks.append(asyncio.create_task(poller.run()))

    async def _clear_webhook(self) -> None:
        """Telegram refuses getUpdates while a webhook is set. A server that does not know the
        method (an emulator without webhooks) has none set: no reason to stay off."""
        try:
            await self.bot.delete_webhook(drop_pending_updates=False)
        except (InvalidToken, BadRequest) as error:  # PTB reads a 404 as InvalidToken
            log.warning("deleteWebhook refused (%s); polling anyway", error)

    async def _offer_menu(self) -> None:
        """The command menu is a convenience: tried a few times in the background, and never
        a reason to keep the channel from working."""
        delay = 1.0
        for _ in range(MENU_ATTEMPTS):
            try:
                await register_commands(self.bot, self.app.settings.default_language)
                return
            except (BadRequest, InvalidToken) as error:  # refused, or a server without it
                log.warning("Telegram refused the command menu (%s); going on without it", error)
                return
            except RetryAfter as error:
                await asyncio.sleep(retry_seconds(error))
            except TelegramError as error:
                log.warning("cannot set the command menu (%s); retrying in %.0f s", error, delay)
                await asyncio.sleep(delay)
                delay *= 2
        log.warning("gave up setting the command menu; the bot works without it")

    @property
    def mode(self) -> str:
        return "webhook" if self.webhook_mode else "polling"

    async def _handle_batch(self, updates: list[Update]) -> bool:
        """A polled batch, each chat in order; whether all of it was handled."""
        outcomes = await asyncio.gather(*map(self.process, updates), return_exceptions=True)
        failures = [o for o in outcomes if isinstance(o, BaseException)]
        if failures:
            log.error("telegram updates failed, retrying", exc_info=failures[0])
        return not failures

    async def process(self, update: Update) -> None:
        chat_id = chat_of(update)
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
                    or language_of(query.from_user.language_code)
                    or "en"
                )
                log.info("pre-checkout refused: %s", error.code)
                return t(lang, f"errors.{error.code}", **error.params)
        return None

    def _member_changed(self, change: ChatMemberUpdated) -> None:
        blocked = change.new_chat_member.status == BANNED
        with UnitOfWork(self.app.sessions) as uow:
            customers.set_reachable(uow.session, "telegram", str(change.chat.id), not blocked)
            uow.commit()

    def _capture(self, message: Message) -> None:
        paid = message.successful_payment
        assert paid is not None
        body = paid.model_dump_json().encode()
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
        try:
            await register_commands(bot, settings.default_language)
            menu = True
        except TelegramError as error:  # optional: the webhook works without it
            log.warning("Telegram refused the command menu (%s)", error)
            menu = False
        info = await bot.get_webhook_info()
        return {"url": info.url, "pending_update_count": info.pending_update_count, "menu": menu}


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
            update = read_update(body)
        except NotAnUpdate:
            return Response(status_code=400)
        except MalformedUpdate as bad:
            # Shaped like an update but unreadable: answered 200, because Telegram redelivers
            # anything else for hours and it could never be read; nothing of it is kept.
            log.warning("telegram update %s ignored: malformed %s", bad.update_id, bad.problems)
            return Response(status_code=200)
        await channel.process(update)
        return Response(status_code=200)

    return api
