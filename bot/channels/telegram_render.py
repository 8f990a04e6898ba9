"""Outbound → the Telegram calls that show it: product lists as one text message with an
inline keyboard (paged by editing it in place), pictures as photo + caption + keyboard,
payment links as URL buttons plus an invoice. Text is HTML-escaped and split at Telegram's
limits (4096 per message, 1024 per caption, counted in UTF-16 code units as Telegram does)."""

from __future__ import annotations

import html
import logging
import re
from dataclasses import dataclass, replace
from typing import Literal
from urllib.parse import urlsplit

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)

from bot.messages import Button, Card, Outbound
from dialogs.i18n import t

log = logging.getLogger(__name__)

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
DATA_LIMIT = 64  # bytes of callback_data
# callback_data prefixes saying where a button sits: on a list (which paging edits in place)
# or on a one-time question (whose buttons are retired once it is answered)
LIST_MARK, QUESTION_MARK = "L|", "Q|"
Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove


@dataclass(frozen=True)
class Part:
    """One Bot API call. `edit` is the message to change in place instead of sending anew."""

    kind: Literal["text", "photo", "invoice", "clear_markup"]
    html: str = ""
    image: str = ""
    markup: Markup | None = None
    order: str = ""
    edit: int | None = None


@dataclass(frozen=True)
class Pressed:
    """The message whose inline button the customer pressed."""

    message_id: int
    kind: Literal["text", "photo", "list", "question"]

    def encode(self) -> str:
        return f"{self.kind}:{self.message_id}"

    @classmethod
    def decode(cls, raw: str | None) -> Pressed | None:
        kind, _, number = (raw or "").partition(":")
        if kind in ("text", "photo", "list", "question") and number.isdigit():
            return cls(int(number), kind)  # type: ignore[arg-type]
        return None


def plan(
    messages: list[Outbound],
    pressed: Pressed | None,
    language: str,
    *,
    link_buttons: bool,
    invoices: bool,
) -> list[Part]:
    """The calls for a reply or push, in order."""
    parts: list[Part] = []
    for message in _merge_picture_and_choice(messages):
        parts += _parts(message, language, link_buttons, invoices)
    if pressed is not None and parts:
        parts = _answering(parts, messages[0].replace, pressed)
    if any(m.contact_done for m in messages):
        parts = _withdraw_contact(parts, language)
    return parts


def _answering(parts: list[Part], replaces: bool, pressed: Pressed) -> list[Part]:
    """A reply to a pressed button: an updated view edits that message in place."""
    first = parts[0]
    if replaces and pressed.kind != "photo" and first.kind == "text":
        return [replace(first, edit=pressed.message_id), *parts[1:]]
    if replaces and pressed.kind == "photo" and first.kind == "photo":
        return [replace(first, edit=pressed.message_id), *parts[1:]]
    if pressed.kind == "question":
        # Answered (confirm, how many, which address): its buttons must not be pressed again.
        return [Part("clear_markup", edit=pressed.message_id), *parts]
    return parts


def _withdraw_contact(parts: list[Part], language: str) -> list[Part]:
    """The "share my phone number" keyboard stays until a new message takes it away. The next
    new message does, unless it carries inline buttons (a message has one keyboard) or is an
    invoice: then a short acknowledgement goes before it and does."""
    at = next((i for i, p in enumerate(parts) if p.edit is None), len(parts))
    if at < len(parts) and parts[at].kind in ("text", "photo") and parts[at].markup is None:
        return [*parts[:at], replace(parts[at], markup=ReplyKeyboardRemove()), *parts[at + 1 :]]
    noted = html.escape(t(language, "telegram.contact_done"), quote=False)
    return [*parts[:at], Part("text", html=noted, markup=ReplyKeyboardRemove()), *parts[at:]]


def _merge_picture_and_choice(messages: list[Outbound]) -> list[Outbound]:
    """A picture followed by its choices ("which size?") becomes one photo card."""
    merged: list[Outbound] = []
    for message in messages:
        last = merged[-1] if merged else None
        if (
            last is not None
            and last.image
            and not (last.buttons or last.cards or last.link)
            and not (message.image or message.cards or message.link or message.ask_contact)
            and _units(f"{last.text}\n\n{message.text}") <= CAPTION_LIMIT
        ):
            merged[-1] = replace(
                last, text=f"{last.text}\n\n{message.text}", buttons=message.buttons
            )
        else:
            merged.append(message)
    return merged


def _parts(message: Outbound, language: str, link_buttons: bool, invoices: bool) -> list[Part]:
    rows: list[list[InlineKeyboardButton]] = []
    text = html.escape(message.text, quote=False)
    if message.cards:
        text = "\n\n".join([text, *(_card_entry(i, c) for i, c in enumerate(message.cards, 1))])
        for i, card in enumerate(message.cards, 1):
            rows.append(_buttons(card.buttons, prefix=f"{i}. ", mark=LIST_MARK))
    mark = LIST_MARK if message.cards else QUESTION_MARK if message.question else ""
    rows += _rows(message.buttons, mark=mark)
    link = message.link
    if link and link.url and link_buttons:
        rows.append([InlineKeyboardButton(link.label, url=link.url)])
    elif link and link.url:  # no URL: the order is paid with the invoice below
        # Telegram refuses URL buttons to local addresses; a development shop shows the link.
        text += f"\n\n{html.escape(link.label, quote=False)}: {html.escape(link.url)}"
    markup: Markup | None = InlineKeyboardMarkup([r for r in rows if r]) if any(rows) else None
    if message.ask_contact:
        label = t(language, "buttons.share_phone")
        markup = ReplyKeyboardMarkup(
            [[KeyboardButton(label, request_contact=True)]],
            one_time_keyboard=True,
            resize_keyboard=True,
        )
    parts = _split(text, message.image, markup)
    if link and link.order and invoices:
        parts.append(Part("invoice", order=link.order))
    return parts


def _card_entry(number: int, card: Card) -> str:
    details = " · ".join(x for x in (card.subtitle, card.price, card.stock) if x)
    title = f"{number}. <b>{html.escape(card.title, quote=False)}</b>"
    return f"{title}\n{html.escape(details, quote=False)}" if details else title


def _rows(buttons: tuple[Button, ...], mark: str) -> list[list[InlineKeyboardButton]]:
    """Two buttons a row, three when the labels are short."""
    per_row = 3 if all(len(b.label) <= 8 for b in buttons) else 2
    return [_buttons(buttons[i : i + per_row], mark=mark) for i in range(0, len(buttons), per_row)]


def _buttons(
    buttons: tuple[Button, ...], prefix: str = "", mark: str = ""
) -> list[InlineKeyboardButton]:
    fitting = [b for b in buttons if len((mark + b.payload).encode()) <= DATA_LIMIT]
    if len(fitting) < len(buttons):  # Telegram refuses the whole message otherwise
        log.warning("left out buttons whose data exceeds Telegram's 64 bytes (a long SKU?)")
    return [
        InlineKeyboardButton(f"{prefix}{b.label}"[:64], callback_data=mark + b.payload)
        for b in fitting
    ]


def _split(text: str, image: str, markup: Markup | None) -> list[Part]:
    """A photo takes the first 1024 units as its caption; the rest follows as messages, and
    the keyboard goes on the last one so the choices stay under what they are about."""
    chunks: list[str] = []
    if image:
        caption, rest = _take(text, CAPTION_LIMIT)
        chunks.append(caption)
        text = rest
    while text:
        chunk, text = _take(text, TEXT_LIMIT)
        chunks.append(chunk)
    if not chunks:
        chunks.append("·")  # Telegram refuses an empty message; this only ever carries buttons
    parts = [
        Part("photo" if i == 0 and image else "text", html=c, image=image if i == 0 else "")
        for i, c in enumerate(chunks)
    ]
    parts[-1] = replace(parts[-1], markup=markup)
    return parts


def _take(marked_up: str, limit: int) -> tuple[str, str]:
    """The longest head of `marked_up` whose visible text fits `limit`, cut at a line break or
    a space where possible and never inside a tag or an entity; and the rest."""
    visible, last_break, cut = 0, 0, None
    for token in _TOKENS.finditer(marked_up):
        piece = token.group()
        visible += 0 if piece.startswith("<") and len(piece) > 1 else _visible(piece)
        if visible > limit:
            cut = token.start()
            break
        if piece in ("\n", " "):
            last_break = token.end()
    if cut is None:
        return marked_up, ""
    end = last_break if last_break > cut // 2 else cut
    head, rest = marked_up[:end].rstrip(), marked_up[end:].lstrip()
    if head.count("<b>") > head.count("</b>"):
        head, rest = head + "</b>", "<b>" + rest
    return head, rest


_TOKENS = re.compile(r"<[^<>]*>|&#?\w+;|.", re.DOTALL)


def _visible(piece: str) -> int:
    return 1 if piece.startswith("&") and len(piece) > 1 else _units(piece)


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def public_https(url: str) -> bool:
    """Whether Telegram will accept `url` on a button (it refuses local addresses)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    local = host in ("localhost", "") or host.startswith(("127.", "10.", "192.168.", "0."))
    return parts.scheme == "https" and not local
