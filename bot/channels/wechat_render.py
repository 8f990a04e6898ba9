"""Outbound → WeChat messages. A passive reply is exactly one message and every further
customer-service message spends quota (5 per customer message), so a turn becomes as few
messages as possible: pictures only when they are the point (a detail, a single card), then
one plain text where buttons are numbered lines ("回复数字即可选择") and a payment link is the
one `<a href>` WeChat renders, then optionally a WeChat Pay QR code. `options()` gives the
payload behind each number, from the recorded turn, so a reply "2" presses button 2."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from bot.messages import Action, Button, Link, Outbound
from dialogs.i18n import t

TEXT_LIMIT = 2048  # bytes of UTF-8 per text message
MENU_LIMIT = 10  # msgmenu items


@dataclass(frozen=True)
class WxMessage:
    kind: Literal["text", "image", "msgmenu", "qr"]
    text: str = ""  # text content; msgmenu head_content
    image: str = ""  # media path relative to the media dir, or an absolute URL
    options: tuple[tuple[str, str], ...] = ()  # msgmenu items (id, content): id is the number
    tail: str = ""  # msgmenu tail_content
    order: str = ""  # qr: the order number whose WeChat Pay QR code to show


@dataclass(frozen=True)
class _Layout:
    body: list[str]  # texts and card entries, one block each
    buttons: list[tuple[Button, bool, bool]]  # (button, from a question, shown inside an entry)
    links: list[Link]


def _layout(messages: list[Outbound]) -> _Layout:
    """The one place numbering is decided, so plan() and options() always agree: cards'
    options first (a product list offers each card's "details", other lists every button
    named after its card, a lone card all of them), then each message's own buttons."""
    single = sum(len(m.cards) for m in messages) == 1
    body: list[str] = []
    numbered: list[tuple[Button, bool, bool]] = []
    for m in messages:
        if m.text.strip():
            body.append(m.text.strip())
        entries = []
        for card in m.cards:
            if single:
                details = (card.title, card.subtitle, card.price, card.stock)
                body.append("\n".join(x for x in details if x))
                numbered += [(b, m.question, False) for b in card.buttons]
                continue
            entry = " · ".join(x for x in (card.title, card.price, card.stock) if x)
            opens = [b for b in card.buttons if Action.decode(b.payload).name == "detail"]
            if opens:  # a product list: one line per card, its number opens it
                numbered.append((opens[0], m.question, True))
                entry = f"{len(numbered)}. {entry}"
            else:  # a cart: each line's actions (−, +, remove) as options naming the line
                named = [Button(f"{b.label} · {card.title}", b.payload) for b in card.buttons]
                numbered += [(b, m.question, False) for b in named]
            entries.append(entry)
        if entries:
            body.append("\n".join(entries))
    numbered += [(b, m.question, False) for m in messages for b in m.buttons]
    return _Layout(body, numbered, [m.link for m in messages if m.link])


def options(messages: list[Outbound]) -> list[str]:
    """The payload behind each number plan() shows: number n → options(messages)[n - 1]."""
    return [button.payload for button, _, _ in _layout(messages).buttons]


def choice(text: str, payloads: list[str]) -> str | None:
    """The payload a bare number ("2", "２", "2.") picks, or None."""
    found = re.fullmatch(r"([0-9]{1,3})[.、。]?", unicodedata.normalize("NFKC", text).strip())
    n = int(found.group(1)) if found else 0
    return payloads[n - 1] if 1 <= n <= len(payloads) else None


def plan(
    messages: list[Outbound], language: str, *, pay_qr: bool = False, menus: bool = False
) -> list[WxMessage]:
    """The WeChat messages for a reply or push, in order, as few as the content allows."""
    single = sum(len(m.cards) for m in messages) == 1
    out = [
        WxMessage("image", image=image)
        for m in messages
        for image in (m.image, *(c.image for c in m.cards if single))
        if image
    ]
    layout = _layout(messages)
    head = "\n\n".join(layout.body)
    links = "\n".join(_anchor(link) for link in layout.links if link.url)
    buttons = layout.buttons
    # A tappable menu only for a short one-time question: it cannot carry a link or a list.
    menu = 1 <= len(buttons) <= MENU_LIMIT and all(q and not inline for _, q, inline in buttons)
    if menus and menu and not links and len(head.encode()) <= TEXT_LIMIT:
        items = tuple((str(n), b.label) for n, (b, _, _) in enumerate(buttons, 1))
        tail = t(language, "wechat.menu_tail")
        return [*out, WxMessage("msgmenu", text=head, options=items, tail=tail)]
    lines = [f"{n}. {b.label}" for n, (b, _, inline) in enumerate(buttons, 1) if not inline]
    hint = t(language, "wechat.reply_number") if buttons else ""
    blocks = [head, "\n".join(lines), hint, links]
    text = "\n\n".join(b for b in blocks if b)
    out += [WxMessage("text", text=chunk) for chunk in _split(text)]
    return out + _qr(layout.links, pay_qr)


def _qr(links: list[Link], pay_qr: bool) -> list[WxMessage]:
    return [WxMessage("qr", order=link.order) for link in links if pay_qr and link.order]


def _anchor(link: Link) -> str:
    url = link.url.replace('"', "%22").replace("'", "%27")
    label = link.label.replace("<", "&lt;").replace(">", "&gt;")
    return f'<a href="{url}">{label}</a>'


_ATOMS = re.compile(r"<a\s[^>]*>.*?</a>|.", re.DOTALL)


def _split(text: str) -> list[str]:
    """Chunks of at most TEXT_LIMIT bytes, cut at line breaks where possible, never in a link."""
    chunks: list[str] = []
    current = ""
    for line in text.split("\n"):
        for piece in _pieces(line):
            joined = f"{current}\n{piece}" if current else piece
            if len(joined.encode()) <= TEXT_LIMIT:
                current = joined
            else:
                chunks.append(current)
                current = piece
    chunks.append(current)
    return [c.strip() for c in chunks if c.strip()]


def _pieces(line: str) -> list[str]:
    """A line that alone exceeds the limit, cut between characters but not inside a link."""
    if len(line.encode()) <= TEXT_LIMIT:
        return [line]
    pieces = [""]
    for atom in _ATOMS.findall(line):
        if len((pieces[-1] + atom).encode()) > TEXT_LIMIT and pieces[-1]:
            pieces.append("")
        pieces[-1] += atom
    return pieces
