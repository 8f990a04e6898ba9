"""Telegram updates in: checked at the edge, then turned into the `Inbound` the gateway takes.

Only the fields the shop reads are modelled, strictly: ids are integers in Telegram's ranges
(update and message ids below 2^31, user and chat ids within 52 bits), strings are strings of
a sane length with no NUL and no lone surrogate, callback data is at most 64 bytes. python-
telegram-bot's `Update.de_json` is not used for this: it takes a string as an id, and a
wrong type further down fails with whatever exception the constructor happens to raise. An
update that does not fit is refused as a whole (`MalformedUpdate`) before it reaches anything
shared, such as the sequencer or the database."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from bot.channels.telegram_render import LIST_MARK, QUESTION_MARK, Pressed
from bot.messages import Inbound, payload
from dialogs.i18n import LANGUAGES

BANNED = "kicked"  # a private chat's member status once the customer blocked the bot
DEEP_LINK = re.compile(r"p_?([0-9]{1,9})")  # /start p12 (t.me/<bot>?start=p12): a product


class NotAnUpdate(ValueError):
    """The body is not a JSON object at all: Telegram never sends that."""


class MalformedUpdate(ValueError):
    """A JSON object that is not an update the shop can read. `update_id` when it was usable;
    `problems` names the fields at fault (never their values, which may be personal)."""

    def __init__(self, update_id: int | None, problems: str) -> None:
        super().__init__(problems)
        self.update_id, self.problems = update_id, problems


def _clean(value: str) -> str:
    if "\x00" in value:
        raise ValueError("NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("lone surrogate") from None
    return value


def _bytes_at_most(limit: int):
    def check(value: str) -> str:
        if len(value.encode("utf-8")) > limit:
            raise ValueError(f"longer than {limit} bytes")
        return value

    return AfterValidator(check)


def _text(limit: int) -> Any:
    return Annotated[str, Field(max_length=limit), AfterValidator(_clean)]


Sequential = Annotated[int, Field(gt=0, lt=2**31)]  # update_id, message_id
PeerId = Annotated[int, Field(gt=-(2**52), lt=2**52)]  # user and chat ids fit in 52 bits
Name = _text(256)  # Telegram allows 64 characters; a little slack for what it may change
Body = _text(4096)  # a message's text or a (premium) caption: 4096 UTF-16 units at most
Amount = Annotated[int, Field(ge=0, lt=2**53)]
Payload = Annotated[_text(128), _bytes_at_most(128)]  # invoice_payload: 1-128 bytes


class _Model(BaseModel):
    # strict: no "42" for 42, no 1.0 or true for 1; fields the shop does not read are dropped
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True, populate_by_name=True)


class User(_Model):
    id: PeerId
    first_name: Name = ""
    last_name: Name = ""
    language_code: _text(35) | None = None

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class Chat(_Model):
    id: PeerId
    type: Name


class PhotoSize(_Model):
    file_id: Annotated[_text(256), Field(min_length=1)]


class Contact(_Model):
    phone_number: _text(64)


class SuccessfulPayment(_Model):
    currency: _text(8)
    total_amount: Amount
    invoice_payload: Payload
    telegram_payment_charge_id: _text(256)
    provider_payment_charge_id: _text(256) = ""


class Message(_Model):
    message_id: Sequential
    chat: Chat
    from_user: User | None = Field(None, alias="from")
    text: Body | None = None
    caption: Body | None = None
    contact: Contact | None = None
    photo: list[PhotoSize] = Field(default_factory=list, max_length=32)
    successful_payment: SuccessfulPayment | None = None


class PressedMessage(_Model):
    """The message a pressed button sits on."""

    message_id: Sequential
    photo: list[PhotoSize] = Field(default_factory=list, max_length=32)


class CallbackQuery(_Model):
    id: _text(64)
    from_user: User = Field(alias="from")
    data: Annotated[_text(64), _bytes_at_most(64)] | None = None
    message: PressedMessage | None = None


class PreCheckoutQuery(_Model):
    id: _text(64)
    from_user: User = Field(alias="from")
    currency: _text(8)
    total_amount: Amount
    invoice_payload: Payload


class ChatMember(_Model):
    status: Name


class ChatMemberUpdated(_Model):
    chat: Chat
    new_chat_member: ChatMember


class Update(_Model):
    update_id: Sequential
    message: Message | None = None
    callback_query: CallbackQuery | None = None
    pre_checkout_query: PreCheckoutQuery | None = None
    my_chat_member: ChatMemberUpdated | None = None


def read_update(body: bytes) -> Update:
    """A webhook body as an update; NotAnUpdate or MalformedUpdate when it is not one."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # not JSON (or invalid UTF-8), or absurdly nested
        raise NotAnUpdate("not JSON") from None
    if not isinstance(data, dict):
        raise NotAnUpdate("not a JSON object")
    return parse_update(data)


def parse_update(data: object) -> Update:
    """One update as decoded from JSON (a webhook body, or an item of a getUpdates answer)."""
    try:
        return Update.model_validate(data)
    except ValidationError as error:
        problems = ", ".join(
            sorted({".".join(str(p) for p in e["loc"]) or "update" for e in error.errors()})
        )
        raise MalformedUpdate(usable_id(data), problems[:300]) from None
    except RecursionError:
        raise MalformedUpdate(usable_id(data), "nesting") from None


def usable_id(data: object) -> int | None:
    """The update_id of a raw update when it is one Telegram could have given."""
    found = data.get("update_id") if isinstance(data, dict) else None
    if isinstance(found, int) and not isinstance(found, bool) and 0 < found < 2**31:
        return found
    return None


def chat_of(update: Update) -> str | None:
    """The private chat an update belongs to; None for what a shop does not answer."""
    if update.pre_checkout_query:
        return str(update.pre_checkout_query.from_user.id)
    if update.callback_query:
        return str(update.callback_query.from_user.id)
    if update.message and update.message.chat.type == "private":
        return str(update.message.chat.id)
    if update.my_chat_member and update.my_chat_member.chat.type == "private":
        return str(update.my_chat_member.chat.id)
    return None


def to_inbound(update: Update) -> Inbound | None:
    """A customer's update as the channel-neutral message the gateway takes."""
    query = update.callback_query
    if query is not None:
        data = query.data or ""
        marks = {LIST_MARK: "list", QUESTION_MARK: "question"}
        kind = marks.get(data[:2], "text")
        shown = query.message
        if shown is not None and shown.photo:
            kind = "photo"
        return Inbound(
            "telegram",
            str(query.from_user.id),
            str(update.update_id),
            payload=(data[2:] if data[:2] in marks else data)[:200] or None,
            display_name=query.from_user.full_name,
            pressed=Pressed(shown.message_id, kind).encode() if shown else None,  # type: ignore[arg-type]
            language=language_of(query.from_user.language_code),
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
        "language": language_of(sender.language_code if sender else None),
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
        product = DEEP_LINK.fullmatch(argument)
        return payload("start", p=product[1]) if product else "start"
    if name == "lang":
        return payload("lang", to=argument.lower()) if argument else "lang"
    return {"help": "help", "cart": "view_cart", "orders": "orders"}.get(name)


def language_of(code: str | None) -> str | None:
    """The shop language an app language code ("zh-hans", "en-GB") stands for."""
    code = (code or "").lower()
    return next((lang for lang in LANGUAGES if code.startswith(lang)), None)
