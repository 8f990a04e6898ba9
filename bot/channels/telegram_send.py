"""Delivers Telegram outbox rows, paced to Telegram's limits.

Telegram allows about 30 messages a second per bot and about one a second per chat (short
bursts are tolerated). Rows are claimed through the shared dispatcher steps; each chat's rows
go out in order on their own task, so one slow or rate-limited chat never holds up the rest.
A 429 pauses that chat for `retry_after` and reschedules the row where it stopped; a network
error backs off; a chat that blocked the bot (403) stops receiving and is marked unreachable."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import NamedTuple

from sqlalchemy.orm import Session, sessionmaker
from telegram import Bot, InputFile, LabeledPrice, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError
from telegram.warnings import PTBDeprecationWarning

from bot.channels.media import media_file
from bot.channels.pacing import Pace
from bot.channels.telegram_render import Part, Pressed, plan
from dialogs.i18n import money, t
from scheduler import dispatcher
from scheduler.dispatcher import Claimed
from store import orders, payments
from store.errors import DomainError
from store.models import utcnow
from store.payments import TelegramPayments
from store.uow import UnitOfWork

log = logging.getLogger(__name__)

PER_CHAT_CLAIM = 10  # rows a chat takes per claim, so a long queue cannot outlive its lease


class Invoice(NamedTuple):
    token: str  # the payment's token, which Telegram hands back as invoice_payload
    title: str
    description: str
    label: str
    amount: int
    currency: str


class TelegramSender:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        bot: Bot,
        media_dir: Path,
        *,
        link_buttons: bool,
        provider_token: str,
        payments: TelegramPayments,
        interval_s: float = 1.0,
        per_second: float = 30.0,
    ) -> None:
        self._sessions, self._bot, self._media = sessions, bot, media_dir
        self._link_buttons, self._provider_token = link_buttons, provider_token
        self._interval = interval_s
        self._wake = asyncio.Event()
        self._delivered: list[Claimed] = []  # marked sent in batches, one transaction each
        self._flush = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()  # one delivery per chat
        self._loops: list[asyncio.Task[None]] = []
        self._file_ids: dict[str, str] = {}  # media path → Telegram file_id (a cache)
        self.pace = Pace(per_second)
        self._payments = payments

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._loops = [
            asyncio.create_task(self._dispatch_forever()),
            asyncio.create_task(self._mark_delivered()),
        ]

    async def stop(self, timeout_s: float = 5.0) -> None:
        """Stop claiming, let deliveries in flight finish briefly, record what was delivered.
        Anything cut off stays leased, and is sent again when the lease runs out."""
        for loop in self._loops:
            loop.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout_s)
        for task in list(self._tasks):
            task.cancel()
        await self._flush_delivered()

    async def _dispatch_forever(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.dispatch()
            except Exception:  # the loop must outlive a database hiccup
                log.exception("telegram dispatch failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)

    async def dispatch(self) -> None:
        """Claim what is due and start one delivery task per chat."""
        claimed = await asyncio.to_thread(
            dispatcher.claim, self._sessions, ["telegram"], utcnow(), 100
        )
        for group in dispatcher.by_chat(claimed):
            now, later = group[:PER_CHAT_CLAIM], group[PER_CHAT_CLAIM:]
            if later:
                await asyncio.to_thread(dispatcher.release, self._sessions, later, utcnow())
            self._spawn(now)

    def deliver_now(self, row: Claimed) -> None:
        """A reply leased to this process as it was written: no claim needed."""
        self._spawn([row])

    def _spawn(self, rows: list[Claimed]) -> None:
        task = asyncio.create_task(self._deliver_chat(rows))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _mark_delivered(self) -> None:
        """Under load one commit covers many deliveries; when idle, each goes at once."""
        while True:
            await self._flush.wait()
            self._flush.clear()
            try:
                await self._flush_delivered()
            except Exception:  # their leases run out and they are sent again: logged loudly
                log.exception("could not mark telegram deliveries as sent")

    async def _flush_delivered(self) -> None:
        batch, self._delivered = self._delivered, []
        if batch:
            await asyncio.to_thread(dispatcher.sent, self._sessions, batch, utcnow())
            self.wake()  # the chats' next pushes are claimable now

    async def _deliver_chat(self, group: list[Claimed]) -> None:
        try:
            for i, row in enumerate(group):
                if not await self._deliver(row):
                    await asyncio.to_thread(
                        dispatcher.release, self._sessions, group[i + 1 :], utcnow()
                    )
                    break
        except Exception:  # e.g. the database is down: the lease runs out and it is retried
            log.exception("telegram delivery to a chat failed")
        self.wake()  # what queued for this chat meanwhile is claimable now

    async def _deliver(self, row: Claimed) -> bool:
        parts = self._plan(row)
        for index in range(row.progress, len(parts)):
            try:
                part: Part | None = parts[index]
                while part is not None:  # an edit that cannot be made goes out as a new message
                    async with self.pace.slot(row.chat_id):
                        part = await self._call(int(row.chat_id), part)
            except RetryAfter as error:
                wait = retry_seconds(error)
                self.pace.chat(row.chat_id).pause(wait)
                when = utcnow() + timedelta(seconds=wait)
                await self._finish(dispatcher.retry_at, row, when, index, str(error))
                return False
            except Forbidden as error:
                await self._finish(dispatcher.failed, row, str(error), utcnow(), unreachable=True)
                return False
            except BadRequest as error:
                if "chat not found" in error.message.lower():
                    await self._finish(
                        dispatcher.failed, row, str(error), utcnow(), unreachable=True
                    )
                    return False
                # Retrying cannot fix a refused message; skip it loudly, deliver the rest.
                log.error("telegram refused part %d of outbox %s: %s", index, row.outbox_id, error)
            except TelegramError as error:  # network trouble: back off and retry
                await self._finish(dispatcher.failed, row, str(error), utcnow(), progress=index)
                return False
        self._delivered.append(row)
        self._flush.set()
        return True

    async def _finish(self, step: Callable[..., None], row: Claimed, *args, **kwargs) -> None:
        await asyncio.to_thread(step, self._sessions, row, *args, **kwargs)

    def _plan(self, row: Claimed) -> list[Part]:
        return plan(
            row.messages,
            Pressed.decode(row.params.get("pressed")),
            row.language,
            link_buttons=self._link_buttons,
            invoices=bool(self._provider_token),
        )

    async def _call(self, chat_id: int, part: Part) -> Part | None:
        """One Bot API call; an edit that cannot be made comes back to be sent anew."""
        if part.kind == "invoice":
            await self._send_invoice(chat_id, part.order)
        elif part.kind == "clear_markup":
            await _tolerant(self._bot.edit_message_reply_markup(chat_id, part.edit))
        elif part.edit is not None:
            edited = (
                self._bot.edit_message_text(
                    part.html,
                    chat_id,
                    part.edit,
                    parse_mode=ParseMode.HTML,
                    reply_markup=part.markup,
                )
                if part.kind == "text"
                else self._bot.edit_message_caption(
                    chat_id,
                    part.edit,
                    caption=part.html,
                    parse_mode=ParseMode.HTML,
                    reply_markup=part.markup,
                )
            )
            if not await _tolerant(edited):
                return replace(part, edit=None)
        elif part.kind == "photo":
            await self._send_photo(chat_id, part)
        else:
            await self._send_text(chat_id, part)
        return None

    async def _send_text(self, chat_id: int, part: Part) -> None:
        await self._bot.send_message(
            chat_id, part.html, parse_mode=ParseMode.HTML, reply_markup=part.markup
        )

    async def _send_photo(self, chat_id: int, part: Part) -> None:
        cached = self._file_ids.get(part.image)
        if cached:
            photo: str | InputFile = cached
        elif part.image.startswith(("http://", "https://")):
            photo = part.image  # Telegram fetches it; our server does not
        elif path := media_file(self._media, part.image):
            photo = InputFile(path.read_bytes(), filename=path.name)
        else:
            log.warning("product image %s is missing; sending the text alone", part.image)
            await self._send_text(chat_id, part)
            return
        sent: Message = await self._bot.send_photo(
            chat_id, photo, caption=part.html, parse_mode=ParseMode.HTML, reply_markup=part.markup
        )
        if sent.photo and not part.image.startswith(("http://", "https://")):
            self._file_ids[part.image] = sent.photo[-1].file_id

    async def _send_invoice(self, chat_id: int, number: str) -> None:
        invoice = await asyncio.to_thread(self._invoice_for, number)
        if invoice is None:
            return  # paid or cancelled meanwhile: no invoice to offer
        await self._bot.send_invoice(
            chat_id,
            title=invoice.title,
            description=invoice.description,
            payload=invoice.token,
            currency=invoice.currency,
            prices=[LabeledPrice(invoice.label, invoice.amount)],
            provider_token=self._provider_token,
        )

    def _invoice_for(self, number: str) -> Invoice | None:
        """Start (or reuse) the Telegram payment of an order; None if it is not payable."""
        with UnitOfWork(self._sessions) as uow:
            s = uow.session
            now = utcnow()
            try:
                order = orders.get_order(s, None, number)
                payment = payments.start_payment(s, self._payments, order, now)
            except DomainError:
                return None
            lang = order.language
            lines = ", ".join(
                t(
                    lang,
                    "invoice.line",
                    name=line.name_zh if lang == "zh" else line.name_en,
                    qty=line.quantity,
                )
                for line in order.lines
            )
            total = money(order.total, order.currency)
            result = Invoice(
                token=payment.token,
                title=t(lang, "invoice.title", number=order.number)[:32],
                description=t(lang, "invoice.description", lines=lines, total=total)[:255],
                label=t(lang, "invoice.label", number=order.number),
                amount=payment.amount,
                currency=payment.currency,
            )
            uow.commit()
            return result


async def _tolerant(call: Awaitable[object]) -> bool:
    """An edit: True when done or nothing to change; False when the message cannot be edited
    (gone, or of another kind), so the caller sends a new one instead."""
    try:
        await call
    except BadRequest as error:
        if "not modified" in error.message.lower():
            return True
        if "to edit not found" in error.message.lower() or "no text" in error.message.lower():
            return False
        if "no caption" in error.message.lower() or "can't be edited" in error.message.lower():
            return False
        raise
    return True


def retry_seconds(error: RetryAfter) -> float:
    with warnings.catch_warnings():  # an int in v22, a timedelta from v23: take either
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
