"""What one planned part becomes at the Bot API: a message, a photo (uploaded once, then sent
by file_id), an invoice, or an edit in place. `hand_over` is awaited just before each call
that makes a message (see telegram_send), and not before an edit: an edit made twice shows
nothing twice."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker
from telegram import Bot, InputFile, LabeledPrice, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest

from bot.channels.media import media_file
from bot.channels.telegram_invoice import invoice_for
from bot.channels.telegram_render import Part
from store.payments import TelegramPayments

log = logging.getLogger(__name__)

HandOver = Callable[[], Awaitable[None]]


class TelegramCalls:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        bot: Bot,
        media_dir: Path,
        provider_token: str,
        payments: TelegramPayments,
    ) -> None:
        self._sessions, self._bot, self._media = sessions, bot, media_dir
        self._provider_token, self._payments = provider_token, payments
        self._file_ids: dict[str, str] = {}  # media path → Telegram file_id (a cache)

    async def call(self, chat_id: int, part: Part, hand_over: HandOver) -> Part | None:
        """One Bot API call; an edit that cannot be made comes back to be sent anew."""
        if part.kind == "invoice":
            await self._send_invoice(chat_id, part.order, hand_over)
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
            await self._send_photo(chat_id, part, hand_over)
        else:
            await self._send_text(chat_id, part, hand_over)
        return None

    async def _send_text(self, chat_id: int, part: Part, hand_over: HandOver) -> None:
        await hand_over()
        await self._bot.send_message(
            chat_id, part.html, parse_mode=ParseMode.HTML, reply_markup=part.markup
        )

    async def _send_photo(self, chat_id: int, part: Part, hand_over: HandOver) -> None:
        cached = self._file_ids.get(part.image)
        if cached:
            photo: str | InputFile = cached
        elif part.image.startswith(("http://", "https://")):
            photo = part.image  # Telegram fetches it; our server does not
        elif path := media_file(self._media, part.image):
            photo = InputFile(path.read_bytes(), filename=path.name)
        else:
            log.warning("product image %s is missing; sending the text alone", part.image)
            await self._send_text(chat_id, part, hand_over)
            return
        await hand_over()
        sent: Message = await self._bot.send_photo(
            chat_id, photo, caption=part.html, parse_mode=ParseMode.HTML, reply_markup=part.markup
        )
        if sent.photo and not part.image.startswith(("http://", "https://")):
            self._file_ids[part.image] = sent.photo[-1].file_id

    async def _send_invoice(self, chat_id: int, number: str, hand_over: HandOver) -> None:
        invoice = await asyncio.to_thread(invoice_for, self._sessions, self._payments, number)
        if invoice is None:
            return  # paid or cancelled meanwhile: no invoice to offer
        await hand_over()
        await self._bot.send_invoice(
            chat_id,
            title=invoice.title,
            description=invoice.description,
            payload=invoice.token,
            currency=invoice.currency,
            prices=[LabeledPrice(invoice.label, invoice.amount)],
            provider_token=self._provider_token,
        )


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
