"""A local fake of the Telegram Bot API that speaks the real HTTP protocol.

Point a real client at it (python-telegram-bot: ``Bot(**fake.bot_kwargs())``) and act as a
Telegram user with ``fake.user(...)``::

    with running_fake_telegram() as fake:
        user = fake.user(1001)
        ...  # start the bot with Bot(**fake.bot_kwargs()), polling or with a webhook
        user.send_text("/start")
        user.wait_for("Welcome")
        user.press("Add to cart")

Everything the bot sends is recorded: ``fake.calls`` (every API call), ``fake.messages[chat_id]``
(each bot message in its current state, edits applied), ``fake.rate_limited`` (flood-control
violations), ``fake.webhook_attempts``. As on Telegram, text is trimmed and counted in UTF-16
units after entity parsing, editMessageText without reply_markup removes the inline keyboard,
and blocking the bot sends a my_chat_member update.

Deliberate deviations from the real Bot API:
- Only private chats exist; ``chat_id`` must be the id of a user made with ``fake.user()``.
- parse_mode "HTML" is implemented; "Markdown"/"MarkdownV2" are rejected with a 400 that says so.
  HTML is stricter than Telegram on one point: a bare ``&`` that is not a supported entity is
  refused (Telegram keeps it as text); escape with ``html.escape``.
- A button with more than one action (e.g. both url and callback_data) is refused (Telegram
  silently uses the first); localhost URLs are accepted in buttons and webhooks, and webhooks may
  be plain http on any port.
- Photos by http URL are fetched only from loopback hosts (there is no network); other URLs are
  accepted unfetched and their File has no file_path. A photo has one PhotoSize, not several.
- Webhook updates are posted one at a time whatever max_connections is; after the retries in
  ``webhook_retry_delays`` an undeliverable update is dropped into ``fake.webhook_dropped``.
- Error strings come from Telegram's bot API server where known; the sendInvoice title and
  description length errors, CURRENCY_INVALID, the setMyCommands description error and the HTML
  "Unsupported HTML entity" error are the fake's own wording.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import html
import itertools
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.common import (
    BAD_GATEWAY_PAGE,
    Upload,
    image_info,
    parse_multipart,
    serving,
    tiny_png,
)

QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)
DEFAULT_UPDATE_TYPES = {"message", "callback_query", "pre_checkout_query", "my_chat_member"}
CHAT_ACTIONS = {
    "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
    "upload_document", "choose_sticker", "find_location", "record_video_note", "upload_video_note",
}  # fmt: skip
# Parameters that are plain strings: never JSON-decoded ("123" stays "123").
TEXT_PARAMS = {
    "text", "caption", "title", "description", "payload", "provider_token", "provider_data",
    "currency", "start_parameter", "photo_url", "parse_mode", "error_message", "url", "action",
    "callback_query_id", "pre_checkout_query_id", "secret_token", "language_code", "file_id",
    "photo", "inline_message_id", "ip_address", "business_connection_id", "message_effect_id",
}  # fmt: skip
INLINE_ACTIONS = (
    "url", "callback_data", "web_app", "login_url", "switch_inline_query", "copy_text",
    "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "callback_game", "pay",
)  # fmt: skip
HTML_TAGS = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
    "ins": "underline", "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
    "span": "spoiler", "tg-spoiler": "spoiler", "a": "text_link", "code": "code", "pre": "pre",
    "blockquote": "blockquote", "tg-emoji": "custom_emoji",
}  # fmt: skip
ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6});")


class ApiError(Exception):
    def __init__(self, code: int, description: str, parameters: dict | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters

    def body(self) -> dict:
        body = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def _bad(message: str) -> ApiError:
    return ApiError(400, f"Bad Request: {message}")


def _status_line(status: int | None) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def utf16_len(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


# --- request decoding -------------------------------------------------------------------------


async def _read_params(request: Request) -> dict[str, Any]:
    """Query string + JSON / form-urlencoded / multipart body, with JSON-encoded values decoded."""
    raw: dict[str, Any] = dict(request.query_params)
    ctype = request.headers.get("content-type", "")
    body = await request.body()
    if body:
        if ctype.startswith("application/json"):
            decoded = json.loads(body)
            if not isinstance(decoded, dict):
                raise ValueError("JSON body is not an object")
            raw.update(decoded)
        elif ctype.startswith("application/x-www-form-urlencoded"):
            raw.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        elif ctype.startswith("multipart/form-data"):
            raw.update(parse_multipart(body, ctype))
    return _decode_params(raw)


def _decode_params(raw: dict[str, Any]) -> dict[str, Any]:
    params = dict(raw)
    for name, value in raw.items():
        if isinstance(value, str) and name not in TEXT_PARAMS:
            with contextlib.suppress(ValueError):  # numbers, booleans and nested objects
                params[name] = json.loads(value)
    return params


class Params(dict):
    """Decoded request parameters with typed accessors that fail as the Bot API does."""

    def __init__(self, data: dict[str, Any], method: str = "") -> None:
        super().__init__(data)
        self.method = method

    def text(self, name: str, *, required: bool = False) -> str | None:
        value = self.get(name)
        if value is None or value == "":
            if required:
                raise _bad(f'parameter "{name}" is required')
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        return value if isinstance(value, str) else str(value)

    def integer(self, name: str, default: int | None = None) -> int | None:
        value = self.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _bad(f'parameter "{name}" must be a Number')
        return int(value)

    def flag(self, name: str) -> bool:
        value = self.get(name)
        return value is True or value == 1 or str(value).lower() == "true"

    def obj(self, name: str) -> Any:
        value = self.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            raise _bad(f"can't parse {name} JSON object")
        return value


# --- text and markup validation ---------------------------------------------------------------


class _TelegramHtml(HTMLParser):
    """Telegram's HTML subset: plain text plus MessageEntity dicts with UTF-16 offsets."""

    def __init__(self, raw: str) -> None:
        super().__init__(convert_charrefs=False)
        self.raw = raw
        self.line_starts = [0] + [i + 1 for i, c in enumerate(raw) if c == "\n"]
        self.parts: list[str] = []
        self.units = 0
        self.stack: list[tuple[str, int, dict | None]] = []
        self.entities: list[dict] = []

    def _index(self) -> int:
        line, col = self.getpos()
        return self.line_starts[line - 1] + col

    def _fail(self, message: str, index: int | None = None) -> None:
        if index is not None:
            message += f" at byte offset {len(self.raw[:index].encode())}"
        raise _bad(f"can't parse entities: {message}")

    def _emit(self, text: str) -> None:
        self.parts.append(text)
        self.units += utf16_len(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in HTML_TAGS:
            self._fail(f'Unsupported start tag "{tag}"', self._index())
        attributes = dict(attrs)
        entity: dict | None = {"type": HTML_TAGS[tag]}
        if tag == "span" and attributes.get("class") != "tg-spoiler":
            self._fail('Tag "span" must have class "tg-spoiler"')
        elif tag == "a":
            entity = (
                {"type": "text_link", "url": attributes["href"]} if attributes.get("href") else None
            )
        elif tag == "tg-emoji":
            if not attributes.get("emoji-id"):
                self._fail('Tag "tg-emoji" must have attribute "emoji-id"')
            entity = {"type": "custom_emoji", "custom_emoji_id": attributes["emoji-id"]}
        elif tag == "blockquote" and "expandable" in attributes:
            entity = {"type": "expandable_blockquote"}
        elif tag == "code" and self.stack and self.stack[-1][0] == "pre":
            language = attributes.get("class") or ""
            if language.startswith("language-") and self.stack[-1][2] is not None:
                self.stack[-1][2]["language"] = language.removeprefix("language-")
                entity = None
        self.stack.append((tag, self.units, entity))

    def handle_endtag(self, tag: str) -> None:
        if not self.stack:
            self._fail(f'Unexpected end tag "{tag}"', self._index())
        opened, start, entity = self.stack.pop()
        if opened != tag:
            self._fail(f'Unmatched end tag at byte offset {len(self.raw[: self._index()].encode())}, '
                       f'expected "</{opened}>", found "</{tag}>"')  # fmt: skip
        if entity is not None and self.units > start:
            self.entities.append({**entity, "offset": start, "length": self.units - start})

    def handle_data(self, data: str) -> None:
        if "<" in data:  # a "<" that does not start a tag
            index = self._index() + data.index("<")
            following = self.raw[index + 1 : index + 2]
            if following.isalpha() or following == "/":
                self._fail("Unclosed start tag", index)
            self._fail('Unsupported start tag ""', index)
        self._emit(data)

    def handle_entityref(self, name: str) -> None:
        self._emit(html.unescape(f"&{name};"))  # checked by _check_entities

    def handle_charref(self, name: str) -> None:
        code = int(name[1:], 16) if name[:1] in "xX" else int(name)
        if not 0 < code <= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            self._fail(f'Unsupported HTML entity "&#{name};"', self._index())
        self._emit(chr(code))

    def _check_entities(self) -> None:
        """Every "&" outside a tag must start &lt; &gt; &amp; &quot; or a numeric entity."""
        for found in re.finditer(r"<[^<>]*>|&", self.raw):
            at = found.start()
            if found.group() == "&" and not ENTITY.match(self.raw, at):
                name = re.match(r"&#?\w*;?", self.raw[at:])
                self._fail(f'Unsupported HTML entity "{name.group() if name else "&"}"', at)

    def handle_comment(self, data: str) -> None:
        self._fail('Unsupported start tag "!--"', self._index())

    def handle_decl(self, decl: str) -> None:
        self._fail('Unsupported start tag "!"', self._index())

    handle_pi = unknown_decl = handle_decl

    def parse(self) -> tuple[str, list[dict]]:
        self._check_entities()
        self.feed(self.raw)
        self.close()
        if self.stack:
            self._fail(f'Can\'t find end tag corresponding to start tag "{self.stack[-1][0]}"')
        return "".join(self.parts), sorted(self.entities, key=lambda e: (e["offset"], -e["length"]))


def parse_text(raw: str, parse_mode: str | None, entities: Any = None) -> tuple[str, list[dict]]:
    """What the user sees: (plain text, entities), trimmed as Telegram trims messages."""
    mode = (parse_mode or "").lower()
    if mode == "html":
        text, found = _TelegramHtml(raw).parse()
    elif mode in ("markdown", "markdownv2"):
        raise _bad(f"unsupported parse_mode {parse_mode}: the fake Telegram implements only HTML")
    elif mode:
        raise _bad("unsupported parse_mode")
    else:
        if entities is not None and not (
            isinstance(entities, list) and all(isinstance(e, dict) for e in entities)
        ):
            raise _bad("can't parse entities JSON object")
        text, found = raw, list(entities or [])
    stripped = text.strip()
    if stripped == text:
        return text, found
    lead, size = utf16_len(text[: len(text) - len(text.lstrip())]), utf16_len(stripped)
    trimmed = []
    for e in found:
        start, end = max(e["offset"] - lead, 0), min(e["offset"] + e["length"] - lead, size)
        if end > start:
            trimmed.append({**e, "offset": start, "length": end - start})
    return stripped, trimmed


def _check_button_url(url: Any) -> None:
    parts = urlsplit(url) if isinstance(url, str) else None
    if not parts or parts.scheme not in ("http", "https", "tg") or not parts.netloc:
        raise _bad("BUTTON_URL_INVALID")


def check_markup(markup: Any, *, inline_only: bool = False) -> dict | None:
    """Validate reply_markup as the Bot API does; None when there is no (effective) markup."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise _bad("object expected as reply markup")
    if "inline_keyboard" in markup:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise _bad(
                'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays'
            )
        for button in itertools.chain.from_iterable(rows):
            prefix = "can't parse inline keyboard button: "
            if not isinstance(button, dict):
                raise _bad(prefix + "InlineKeyboardButton must be an Object")
            if not isinstance(button.get("text"), str):
                raise _bad(prefix + 'Field "text" must be of type String')
            actions = [a for a in INLINE_ACTIONS if a in button]
            if not actions:
                raise _bad(prefix + "Text buttons are unallowed in the inline keyboard")
            if len(actions) > 1:
                raise _bad(
                    prefix + f"exactly one of {', '.join(actions)} may be set (fake Telegram)"
                )
            data = button.get("callback_data")
            if "callback_data" in button and not (
                isinstance(data, str) and 1 <= len(data.encode()) <= 64
            ):
                raise _bad("BUTTON_DATA_INVALID")
            if "url" in button:
                _check_button_url(button["url"])
        return markup if any(rows) else None
    if inline_only:
        raise _bad("inline keyboard expected")
    if "keyboard" in markup:
        rows = markup["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise _bad('field "keyboard" must be an Array of Arrays')
        for button in itertools.chain.from_iterable(rows):
            if isinstance(button, dict) and not isinstance(button.get("text"), str):
                raise _bad('can\'t parse keyboard button: Field "text" must be of type String')
            if not isinstance(button, str | dict):
                raise _bad(
                    "can't parse keyboard button: KeyboardButton must be a String or an Object"
                )
        return markup if any(rows) else None
    if markup.get("remove_keyboard") or markup.get("force_reply"):
        return markup
    return None


# --- recorded state -------------------------------------------------------------------------


@dataclass
class Call:
    method: str
    params: dict
    chat_id: int | None
    at: float
    status: int
    description: str | None = None


@dataclass
class RateLimitViolation:
    method: str
    chat_id: int
    at: float
    retry_after: int
    scope: str  # "chat" or "global"


@dataclass
class WebhookAttempt:
    update_id: int
    status: int | None  # None: no HTTP answer (connection error, timeout)
    at: float
    error: str | None = None


@dataclass
class BotMessage:
    """A message the bot sent, in its current state."""

    chat_id: int
    message_id: int
    json: dict  # the Message object as the Bot API returns it
    raw: str | None  # text or caption exactly as the bot sent it (before entity parsing)
    parse_mode: str | None
    reply_markup: dict | None  # any markup, also reply keyboards (the API echoes only inline)
    changed_at: float
    invoice_payload: str | None = None
    invoice_needs: dict = field(default_factory=dict)
    edits: int = 0
    history: list[dict] = field(default_factory=list)  # earlier versions of `json`

    @property
    def kind(self) -> str:
        return next((k for k in ("photo", "invoice") if k in self.json), "text")

    @property
    def text(self) -> str:
        """What the user reads: the plain text, the caption, or an invoice's title and description."""
        if "invoice" in self.json:
            return f"{self.json['invoice']['title']}\n{self.json['invoice']['description']}"
        return self.json.get("text") or self.json.get("caption") or ""

    @property
    def entities(self) -> list[dict]:
        return self.json.get("entities") or self.json.get("caption_entities") or []

    @property
    def buttons(self) -> list[dict]:
        """Inline keyboard buttons, row by row."""
        rows = (self.json.get("reply_markup") or {}).get("inline_keyboard") or []
        return list(itertools.chain.from_iterable(rows))

    def describe(self) -> str:
        labels = [
            f"{b['text']!r}({b.get('callback_data') or b.get('url') or ''})" for b in self.buttons
        ]
        return f"#{self.message_id} [{self.kind}] {self.text!r}" + (
            f" buttons={labels}" if labels else ""
        )


@dataclass
class PaymentResult:
    ok: bool
    error_message: str | None
    successful_payment: dict | None
    update_id: int | None  # the successful_payment message's update (None when not paid)
    pre_checkout_update_id: int
    answered: bool  # False when the bot did not answer within precheckout_timeout_s


@dataclass
class _Query:
    """A callback or pre-checkout query awaiting the bot's answer."""

    id: str
    chat_id: int
    created: float
    data: dict
    answer: dict | None = None
    expired: bool = False


@dataclass
class _File:
    file_id: str
    file_unique_id: str
    data: bytes | None
    path: str | None


@dataclass
class _Fault:
    method: str
    error: str
    retry_after: int
    chat_id: int | None
    seconds: float
    times: int = 1  # calls it still fails


# --- the server -----------------------------------------------------------------------------


class FakeTelegram:
    def __init__(
        self,
        token: str = "123:TEST",
        bot_username: str = "chatshop_test_bot",
        *,
        bot_name: str = "Chatshop Test Bot",
        enforce_rate_limits: bool = True,
        per_chat_per_s: float = 1.0,
        per_chat_burst: int = 3,
        global_per_s: int = 30,
        callback_timeout_s: float = 15.0,
        precheckout_timeout_s: float = 10.0,
        webhook_retry_delays: tuple[float, ...] = (0.2, 0.5, 1.0),
        webhook_timeout_s: float = 10.0,
        first_update_id: int = 700_000,
        long_polling: bool = True,
    ) -> None:
        self.token = token
        self.bot_user = {
            "id": int(token.split(":")[0]), "is_bot": True, "first_name": bot_name,
            "username": bot_username, "can_join_groups": True,
            "can_read_all_group_messages": False, "supports_inline_queries": False,
        }  # fmt: skip
        self.enforce_rate_limits = enforce_rate_limits
        self.per_chat_per_s, self.per_chat_burst, self.global_per_s = (
            per_chat_per_s, per_chat_burst, global_per_s,
        )  # fmt: skip
        self.callback_timeout_s = callback_timeout_s
        self.precheckout_timeout_s = precheckout_timeout_s
        self.webhook_retry_delays = webhook_retry_delays
        self.webhook_timeout_s = webhook_timeout_s
        # False: getUpdates answers at once whatever its timeout, as some Bot API emulators do
        self.long_polling = long_polling
        self.url: str | None = None

        self.lock = threading.Lock()
        self._cond = threading.Condition(self.lock)
        self._closing = threading.Event()
        self._worker: threading.Thread | None = None

        self.calls: list[Call] = []
        self.messages: dict[int, list[BotMessage]] = {}
        self.rate_limited: list[RateLimitViolation] = []
        self.updates: list[dict] = []  # every update made, delivered or not
        self.webhook_attempts: list[WebhookAttempt] = []
        self.webhook_dropped: list[dict] = []
        self.commands: dict[tuple[str, str], list[dict]] = {}
        self.users: dict[int, FakeUser] = {}

        self._queue: deque[dict] = deque()  # not yet confirmed (getUpdates) or delivered (webhook)
        self._update_ids = itertools.count(first_update_id)
        self._ids = itertools.count(1)
        self._message_ids: dict[int, itertools.count] = {}
        self._user_messages: dict[tuple[int, int], dict] = {}
        self._callbacks: dict[str, _Query] = {}
        self._precheckouts: dict[str, _Query] = {}
        self._files: dict[str, _File] = {}
        self._faults: list[_Fault] = []
        self._sent_at: dict[int, deque[float]] = {}
        self._sent_global: deque[float] = deque()
        self._allowed_updates: set[str] | None = None
        self._webhook: dict | None = None
        self._webhook_error: tuple[int, str] | None = None
        self._poll_generation = 0

        self._methods: dict[str, tuple[str, Callable[[Params], Any]]] = {
            name.lower(): (name, handler)
            for name, handler in {
                "getMe": lambda p: self.bot_user,
                "setWebhook": self._set_webhook,
                "deleteWebhook": self._delete_webhook,
                "getWebhookInfo": self._get_webhook_info,
                "sendMessage": self._send_message,
                "sendPhoto": self._send_photo,
                "sendInvoice": self._send_invoice,
                "editMessageText": self._edit_text,
                "editMessageCaption": self._edit_caption,
                "editMessageReplyMarkup": self._edit_markup,
                "answerCallbackQuery": self._answer_callback,
                "answerPreCheckoutQuery": self._answer_precheckout,
                "setMyCommands": self._set_commands,
                "getMyCommands": self._get_commands,
                "deleteMyCommands": self._delete_commands,
                "getFile": self._get_file,
                "sendChatAction": self._send_chat_action,
                "getUpdates": lambda p: None,  # served by _get_updates (it long-polls)
            }.items()
        }
        self.app = Starlette(
            routes=[
                Route("/bot{token}/{method}", self._endpoint, methods=["GET", "POST"]),
                Route("/file/bot{token}/{path:path}", self._download, methods=["GET"]),
            ]
        )

    # --- test-facing API ---

    def bot_kwargs(self) -> dict[str, str]:
        """Keyword arguments for ``telegram.Bot`` pointing at this fake."""
        assert self.url, "the fake is not running (use running_fake_telegram)"
        return {
            "token": self.token,
            "base_url": f"{self.url}/bot",
            "base_file_url": f"{self.url}/file/bot",
        }

    def user(
        self,
        chat_id: int = 1001,
        first_name: str = "Li",
        language_code: str | None = "zh-hans",
        username: str | None = None,
    ) -> FakeUser:
        """The user with this id (created, with its private chat, on first use)."""
        with self.lock:
            if chat_id not in self.users:
                self.users[chat_id] = FakeUser(self, chat_id, first_name, language_code, username)
                self.messages[chat_id] = []
                self._message_ids[chat_id] = itertools.count(1)
            return self.users[chat_id]

    def fail_next(
        self,
        method: str,
        error: str = "429",
        retry_after: int = 2,
        chat_id: int | None = None,
        seconds: float = 6.0,
        times: int = 1,
    ) -> None:
        """Make the next call of `method` (to `chat_id`, if given) fail without being performed,
        and the `times - 1` calls after it too.

        error "429": Too Many Requests with retry_after; "502": Bad Gateway with an HTML body;
        "timeout": answer 504 only after `seconds`, so a client with a shorter timeout times out;
        "404": Not Found, as a Bot API emulator answers a method it does not implement.
        """
        if error not in ("429", "502", "timeout", "404"):
            raise ValueError(f"unknown fault {error!r}")
        if method.lower() not in self._methods:
            raise ValueError(f"unknown method {method!r}")
        with self.lock:
            fault = _Fault(method.lower(), error, retry_after, chat_id, seconds, times)
            self._faults.append(fault)

    def calls_to(self, method: str) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.method.lower() == method.lower()]

    def push_raw_update(self, fields: dict) -> dict:
        """Queue an update made of `fields` as given, malformed or not (what a broken Bot API
        server might send), for getUpdates and the webhook. It gets the next update_id unless
        `fields` has an integer one."""
        update = {"update_id": next(self._update_ids), **fields}
        assert isinstance(update["update_id"], int), "the fake orders its queue by update_id"
        with self._cond:
            self.updates.append(update)
            self._queue.append(update)
            self._cond.notify_all()
        return copy.deepcopy(update)

    @property
    def polls_started(self) -> int:
        """getUpdates calls received so far, counted as they start (a long poll is recorded in
        `calls` only when it answers)."""
        with self.lock:
            return self._poll_generation

    def updates_pending(self) -> int:
        with self.lock:
            return len(self._queue)

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until every update was confirmed by getUpdates or delivered to the webhook."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"{len(self._queue)} updates still pending: {list(self._queue)}"
                    )
                self._cond.wait(min(left, 0.05))

    def close(self) -> None:
        """Stop the webhook worker and end long polls (called by running_fake_telegram)."""
        self._closing.set()
        with self._cond:
            self._cond.notify_all()
        if self._worker:
            self._worker.join(timeout=self.webhook_timeout_s + 2)

    # --- HTTP ---

    async def _endpoint(self, request: Request) -> Response:
        if request.path_params["token"] != self.token:
            return JSONResponse(ApiError(401, "Unauthorized").body(), status_code=401)
        name = request.path_params["method"]
        try:
            params = await _read_params(request)
        except ValueError:
            return JSONResponse(_bad("can't parse request body").body(), status_code=400)
        if name.lower() not in self._methods:
            with self.lock:
                self._record(name, params, 404, "Not Found")
            return JSONResponse(ApiError(404, "Not Found").body(), status_code=404)
        method = self._methods[name.lower()][0]
        if fault := self._take_fault(method, params):
            return await self._inject(fault, method, params)
        if method == "getUpdates":
            status, body = await self._get_updates(Params(params, method))
        else:
            if method == "sendPhoto":
                await self._fetch_photo_url(params)
            status, body = self.call(method, params)
        return JSONResponse(body, status_code=status)

    async def _download(self, request: Request) -> Response:
        path = request.path_params["path"]
        with self.lock:
            found = next((f for f in self._files.values() if f.path == path and f.data), None)
        if request.path_params["token"] != self.token or found is None or found.data is None:
            return JSONResponse(ApiError(404, "Not Found").body(), status_code=404)
        return Response(found.data, media_type="application/octet-stream")

    def call(self, method: str, params: dict) -> tuple[int, dict]:
        """Perform one API call (as if it came over HTTP); returns (HTTP status, JSON body)."""
        method, handler = self._methods[method.lower()]
        with self._cond:
            try:
                result = handler(Params(params, method))
                status, body = 200, {"ok": True, "result": copy.deepcopy(result)}
            except ApiError as e:
                status, body = e.code, e.body()
            self._record(method, params, status, body.get("description"))
            self._cond.notify_all()
        return status, body

    def _record(self, method: str, params: dict, status: int, description: str | None) -> None:
        chat_id = params.get("chat_id")
        query = self._callbacks.get(str(params.get("callback_query_id"))) or self._precheckouts.get(
            str(params.get("pre_checkout_query_id"))
        )
        if query:
            chat_id = query.chat_id
        if not isinstance(chat_id, int) or isinstance(chat_id, bool):
            chat_id = None
        self.calls.append(Call(method, params, chat_id, time.monotonic(), status, description))

    def _take_fault(self, method: str, params: dict) -> _Fault | None:
        with self.lock:
            for fault in self._faults:
                if fault.method == method.lower() and fault.chat_id in (
                    None,
                    params.get("chat_id"),
                ):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    async def _inject(self, fault: _Fault, method: str, params: dict) -> Response:
        if fault.error == "404":
            with self.lock:
                self._record(method, params, 404, "Not Found")
            return JSONResponse(ApiError(404, "Not Found").body(), status_code=404)
        if fault.error == "429":
            error = ApiError(
                429, f"Too Many Requests: retry after {fault.retry_after}",
                {"retry_after": fault.retry_after},
            )  # fmt: skip
            with self.lock:
                self._record(method, params, 429, error.description)
            return JSONResponse(error.body(), status_code=429)
        if fault.error == "timeout":
            deadline = time.monotonic() + fault.seconds
            while time.monotonic() < deadline and not self._closing.is_set():
                await asyncio.sleep(0.02)
        status = 502 if fault.error == "502" else 504
        with self.lock:
            self._record(method, params, status, f"injected {fault.error}")
        page = BAD_GATEWAY_PAGE.replace("502 Bad Gateway", f"{status} {HTTPStatus(status).phrase}")
        return Response(page, status_code=status, media_type="text/html")

    async def _fetch_photo_url(self, params: dict) -> None:
        """Fetch a photo given by a loopback http URL into an Upload; leave other URLs alone."""
        url = params.get("photo")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            return
        if urlsplit(url).hostname not in ("127.0.0.1", "localhost", "::1"):
            return
        try:
            async with httpx.AsyncClient(timeout=5, trust_env=False) as http:
                answer = await http.get(url)
            answer.raise_for_status()
            params["photo"] = Upload(url.rsplit("/", 1)[-1], "", answer.content)
        except httpx.HTTPError:
            params["photo"] = ApiError(400, "Bad Request: failed to get HTTP URL content")

    # --- updates ---

    async def _get_updates(self, p: Params) -> tuple[int, dict]:
        offset = p.integer("offset", 0) or 0
        limit = min(max(p.integer("limit", 100) or 100, 1), 100)
        timeout = min(max(p.integer("timeout", 0) or 0, 0), 50) if self.long_polling else 0
        allowed = p.get("allowed_updates")
        deadline = time.monotonic() + timeout
        with self._cond:
            self._poll_generation += 1
            generation = self._poll_generation
            if isinstance(allowed, list):
                self._allowed_updates = set(allowed) or None
        while True:
            with self._cond:
                error = None
                if self._webhook:
                    error = "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
                elif generation != self._poll_generation:
                    error = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
                if error:
                    self._record("getUpdates", dict(p), 409, error)
                    return 409, ApiError(409, error).body()
                if offset < 0:
                    while len(self._queue) > -offset:
                        self._queue.popleft()
                while self._queue and self._queue[0]["update_id"] < offset:
                    self._queue.popleft()
                self._cond.notify_all()
                batch = list(itertools.islice(self._queue, limit))
                if batch or time.monotonic() >= deadline or self._closing.is_set():
                    self._record("getUpdates", dict(p), 200, None)
                    return 200, {"ok": True, "result": copy.deepcopy(batch)}
            await asyncio.sleep(0.02)

    def _push_update(self, kind: str, payload: dict, deliver: bool) -> dict:
        """Make an update (lock held); queue it for getUpdates / the webhook when `deliver`."""
        update = {"update_id": next(self._update_ids), kind: payload}
        self.updates.append(update)
        if deliver and kind in (self._allowed_updates or DEFAULT_UPDATE_TYPES):
            self._queue.append(update)
            self._cond.notify_all()
        return copy.deepcopy(update)

    def _set_webhook(self, p: Params) -> bool:
        url = p.text("url")
        if not url:
            return self._delete_webhook(p)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise _bad("invalid webhook URL specified")
        secret = p.text("secret_token") or ""
        if len(secret) > 256:
            raise _bad("secret token is too long")
        if not re.fullmatch(r"[A-Za-z0-9_-]*", secret):
            raise _bad("secret token contains unallowed characters")
        if p.flag("drop_pending_updates"):
            self._queue.clear()
        allowed = p.obj("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = set(allowed) or None
        self._webhook = {
            "url": url, "secret_token": secret,
            "max_connections": min(max(p.integer("max_connections", 40) or 40, 1), 100),
        }  # fmt: skip
        self._webhook_error = None
        if self._worker is None:
            self._worker = threading.Thread(target=self._deliver_loop, daemon=True)
            self._worker.start()
        return True

    def _delete_webhook(self, p: Params) -> bool:
        self._webhook = None
        if p.flag("drop_pending_updates"):
            self._queue.clear()
        return True

    def _get_webhook_info(self, p: Params) -> dict:
        info: dict[str, Any] = {
            "url": self._webhook["url"] if self._webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._queue),
        }
        if self._webhook:
            info["max_connections"] = self._webhook["max_connections"]
            if self._allowed_updates:
                info["allowed_updates"] = sorted(self._allowed_updates)
            if self._webhook_error:
                info["last_error_date"], info["last_error_message"] = self._webhook_error
        return info

    def _deliver_loop(self) -> None:
        with httpx.Client(timeout=self.webhook_timeout_s, trust_env=False) as http:
            while True:
                with self._cond:
                    while not self._closing.is_set() and not (self._webhook and self._queue):
                        self._cond.wait(0.5)
                    if self._closing.is_set():
                        return
                    update, hook = self._queue[0], self._webhook
                self._deliver(http, update, hook)

    def _deliver(self, http: httpx.Client, update: dict, hook: dict) -> None:
        headers = {"Content-Type": "application/json"}
        if hook["secret_token"]:
            headers["X-Telegram-Bot-Api-Secret-Token"] = hook["secret_token"]
        for delay in (0.0, *self.webhook_retry_delays):
            if delay and self._closing.wait(delay):
                return
            with self.lock:
                if self._webhook is not hook or not self._queue or self._queue[0] is not update:
                    return  # the webhook changed or the update was dropped meanwhile
            status, error, reply = None, None, b""
            try:
                answer = http.post(hook["url"], content=json.dumps(update), headers=headers)
                status, reply = answer.status_code, answer.content
            except httpx.HTTPError as e:
                error = str(e) or type(e).__name__
            with self._cond:
                self.webhook_attempts.append(
                    WebhookAttempt(update["update_id"], status, time.monotonic(), error)
                )
                delivered = status is not None and 200 <= status < 300
                if delivered and self._queue and self._queue[0] is update:
                    self._queue.popleft()
                elif not delivered:
                    message = error or f"Wrong response from the webhook: {_status_line(status)}"
                    self._webhook_error = (int(time.time()), message)
                self._cond.notify_all()
            if delivered:
                self._answer_in_reply(reply)
                return
        with self._cond:
            if self._queue and self._queue[0] is update:
                self.webhook_dropped.append(self._queue.popleft())
                self._cond.notify_all()

    def _answer_in_reply(self, reply: bytes) -> None:
        """Perform a method call returned in the webhook's answer, as Telegram does."""
        try:
            request = json.loads(reply) if reply else None
        except ValueError:
            return
        if isinstance(request, dict) and isinstance(request.get("method"), str):
            name = request.pop("method").lower()
            if name in self._methods and name != "getupdates":
                self.call(name, _decode_params(request))

    # --- sending ---

    def _chat(self, p: Params) -> int:
        chat_id = p.get("chat_id")
        if chat_id is None or chat_id == "":
            raise _bad("chat_id is empty")
        if not isinstance(chat_id, int) or chat_id not in self.users:
            raise _bad("chat not found")
        if self.users[chat_id].blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat_id

    def _check_rate(self, method: str, chat_id: int) -> None:
        if not self.enforce_rate_limits:
            return
        now = time.monotonic()
        window = self.per_chat_burst / self.per_chat_per_s
        chat = self._sent_at.setdefault(chat_id, deque())
        while chat and chat[0] <= now - window:
            chat.popleft()
        while self._sent_global and self._sent_global[0] <= now - 1.0:
            self._sent_global.popleft()
        wait, scope = 0.0, ""
        if len(chat) >= self.per_chat_burst:
            wait, scope = chat[0] + window - now, "chat"
        if len(self._sent_global) >= self.global_per_s and self._sent_global[0] + 1.0 - now > wait:
            wait, scope = self._sent_global[0] + 1.0 - now, "global"
        if scope:
            retry_after = max(1, int(wait + 0.999))
            self.rate_limited.append(RateLimitViolation(method, chat_id, now, retry_after, scope))
            raise ApiError(
                429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
            )

    def _note_sent(self, chat_id: int) -> None:
        now = time.monotonic()
        self._sent_at.setdefault(chat_id, deque()).append(now)
        self._sent_global.append(now)

    def _find(self, chat_id: int, message_id: Any) -> BotMessage | None:
        return next((m for m in self.messages[chat_id] if m.message_id == message_id), None)

    def _reply_to(self, chat_id: int, p: Params) -> dict | None:
        reply = p.obj("reply_parameters") or (
            {"message_id": p.get("reply_to_message_id")} if p.get("reply_to_message_id") else None
        )
        if reply is None:
            return None
        if not isinstance(reply, dict):
            raise _bad("can't parse reply parameters JSON object")
        target = self._find(chat_id, reply.get("message_id"))
        found = (
            target.json if target else self._user_messages.get((chat_id, reply.get("message_id")))
        )
        if found is None and not reply.get("allow_sending_without_reply"):
            raise _bad("message to be replied not found")
        return {k: v for k, v in found.items() if k != "reply_to_message"} if found else None

    def _new_message(
        self, p: Params, chat_id: int, content: dict, markup: dict | None, **extra: Any
    ) -> dict:
        reply_to = self._reply_to(chat_id, p)
        self._check_rate(p.method, chat_id)
        message_id = next(self._message_ids[chat_id])
        user = self.users[chat_id]
        data = {
            "message_id": message_id, "from": self.bot_user, "chat": user.chat,
            "date": int(time.time()), **content,
        }  # fmt: skip
        if reply_to:
            data["reply_to_message"] = reply_to
        if markup and "inline_keyboard" in markup:
            data["reply_markup"] = markup
        elif markup and "keyboard" in markup:
            user.keyboard = markup
        elif markup and markup.get("remove_keyboard"):
            user.keyboard = None
        message = BotMessage(
            chat_id, message_id, data, raw=extra.pop("raw", None),
            parse_mode=p.text("parse_mode"), reply_markup=markup,
            changed_at=time.monotonic(), **extra,
        )  # fmt: skip
        self.messages[chat_id].append(message)
        self._note_sent(chat_id)
        return data

    def _send_message(self, p: Params) -> dict:
        chat_id = self._chat(p)
        raw = p.text("text")
        if raw is None:
            raise _bad("message text is empty")
        text, entities = parse_text(raw, p.text("parse_mode"), p.obj("entities"))
        if not text:
            raise _bad("message text is empty")
        if utf16_len(text) > 4096:
            raise _bad("message is too long")
        markup = check_markup(p.obj("reply_markup"))
        content: dict[str, Any] = {"text": text}
        if entities:
            content["entities"] = entities
        preview = p.obj("link_preview_options")
        if preview or p.flag("disable_web_page_preview"):
            content["link_preview_options"] = preview or {"is_disabled": True}
        return self._new_message(p, chat_id, content, markup, raw=raw)

    def _caption(self, p: Params) -> tuple[dict, str | None]:
        raw = p.text("caption")
        content: dict[str, Any] = {}
        if raw is not None:
            caption, entities = parse_text(raw, p.text("parse_mode"), p.obj("caption_entities"))
            if utf16_len(caption) > 1024:
                raise _bad("message caption is too long")
            if caption:
                content["caption"] = caption
            if entities:
                content["caption_entities"] = entities
        return content, raw

    def _send_photo(self, p: Params) -> dict:
        chat_id = self._chat(p)
        photo = p.get("photo")
        if isinstance(photo, ApiError):
            raise photo
        if isinstance(photo, Upload):
            stored = self._store_file(photo.data, "photos")
        elif isinstance(photo, str) and photo in self._files:
            stored = self._files[photo]
        elif isinstance(photo, str) and photo.startswith(("http://", "https://")):
            stored = _File(
                f"AgACfakeurl{next(self._ids):06d}", f"AQADurl{next(self._ids)}", None, None
            )
            self._files[stored.file_id] = stored
        elif photo:
            raise _bad("wrong file identifier/HTTP URL specified")
        else:
            raise _bad('parameter "photo" is required')
        content, raw = self._caption(p)
        markup = check_markup(p.obj("reply_markup"))
        content = {"photo": [self._photo_size(stored)], **content}
        return self._new_message(p, chat_id, content, markup, raw=raw)

    def _store_file(self, data: bytes, folder: str) -> _File:
        info = image_info(data)
        if info is None:
            raise _bad("IMAGE_PROCESS_FAILED")
        n = next(self._ids)
        stored = _File(f"AgACfake{n:06d}", f"AQADfake{n:06d}", data, f"{folder}/file_{n}.{info[0]}")
        self._files[stored.file_id] = stored
        return stored

    def _photo_size(self, stored: _File) -> dict:
        size = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
        info = image_info(stored.data) if stored.data else None
        width, height = info[1:] if info else (512, 512)
        if stored.data:
            size["file_size"] = len(stored.data)
        return {**size, "width": width, "height": height}

    def _send_invoice(self, p: Params) -> dict:
        chat_id = self._chat(p)
        title, description = p.text("title", required=True), p.text("description", required=True)
        payload = p.text("payload", required=True)
        currency = p.text("currency", required=True)
        if p.get("prices") in (None, ""):
            raise _bad('parameter "prices" is required')
        prices = p.obj("prices")
        if not isinstance(prices, list):
            raise _bad("expected an Array of labeled prices")
        for price in prices:
            if not isinstance(price, dict):
                raise _bad("can't parse labeled price: LabeledPrice must be an Object")
            if not price.get("label") or not isinstance(price["label"], str):
                raise _bad("can't parse labeled price: LabeledPrice label must be non-empty")
            if isinstance(price.get("amount"), bool) or not isinstance(price.get("amount"), int):
                raise _bad('can\'t parse labeled price: Field "amount" must be of type Number')
        if not prices:
            raise _bad("there must be at least one price")
        assert title and description and payload and currency
        if not 1 <= len(title) <= 32:
            raise _bad("invoice title must be 1-32 characters (fake Telegram)")
        if not 1 <= len(description) <= 255:
            raise _bad("invoice description must be 1-255 characters (fake Telegram)")
        if not 1 <= len(payload.encode()) <= 128:
            raise _bad("INVOICE_PAYLOAD_INVALID")
        if not re.fullmatch(r"[A-Z]{3}", currency):
            raise _bad("CURRENCY_INVALID")
        if bool(p.text("provider_token")) == (currency == "XTR"):
            raise _bad("PAYMENT_PROVIDER_INVALID")
        total = sum(price["amount"] for price in prices)
        if total <= 0:
            raise _bad("total price must be positive")
        markup = check_markup(p.obj("reply_markup"), inline_only=True)
        invoice = {
            "title": title, "description": description,
            "start_parameter": p.text("start_parameter") or "", "currency": currency,
            "total_amount": total,
        }  # fmt: skip
        needs = {k: True for k in ("need_name", "need_phone_number", "need_email") if p.flag(k)}
        return self._new_message(
            p, chat_id, {"invoice": invoice}, markup,
            invoice_payload=payload, invoice_needs=needs,
        )  # fmt: skip

    def _send_chat_action(self, p: Params) -> bool:
        self._chat(p)
        if p.text("action") not in CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        return True

    # --- editing ---

    def _edit_target(self, p: Params) -> BotMessage:
        if p.get("inline_message_id"):
            raise _bad("inline messages are not supported by the fake Telegram")
        chat_id = self._chat(p)
        message_id = p.integer("message_id")
        if message_id is None:
            raise _bad("message identifier is not specified")
        message = self._find(chat_id, message_id)
        if message is None:
            if (chat_id, message_id) in self._user_messages:
                raise _bad("message can't be edited")
            raise _bad("message to edit not found")
        return message

    def _apply_edit(
        self, p: Params, message: BotMessage, content: dict, markup: dict | None, raw: str | None
    ) -> dict:
        keys = ("text", "entities", "caption", "caption_entities", "reply_markup")
        before = {k: message.json.get(k) for k in keys}
        after = {**before, **content, "reply_markup": markup}
        if before == after:
            raise _bad(NOT_MODIFIED)
        self._check_rate(p.method, message.chat_id)
        message.history.append(copy.deepcopy(message.json))
        message.json.update({k: v for k, v in after.items() if v})
        for key in (k for k, v in after.items() if not v):
            message.json.pop(key, None)
        message.json["edit_date"] = int(time.time())
        message.edits += 1
        message.reply_markup = markup
        message.changed_at = time.monotonic()
        if raw is not None:
            message.raw, message.parse_mode = raw, p.text("parse_mode")
        self._note_sent(message.chat_id)
        return message.json

    def _edit_text(self, p: Params) -> dict:
        message = self._edit_target(p)
        raw = p.text("text")
        if raw is None:
            raise _bad("message text is empty")
        if "text" not in message.json:
            raise _bad("there is no text in the message to edit")
        text, entities = parse_text(raw, p.text("parse_mode"), p.obj("entities"))
        if not text:
            raise _bad("message text is empty")
        if utf16_len(text) > 4096:
            raise _bad("message is too long")
        markup = check_markup(p.obj("reply_markup"), inline_only=True)
        content = {"text": text, "entities": entities or None}
        return self._apply_edit(p, message, content, markup, raw)

    def _edit_caption(self, p: Params) -> dict:
        message = self._edit_target(p)
        if "photo" not in message.json:
            raise _bad("there is no caption in the message to edit")
        content, raw = self._caption(p)
        content = {"caption": None, "caption_entities": None, **content}
        markup = check_markup(p.obj("reply_markup"), inline_only=True)
        return self._apply_edit(p, message, content, markup, raw or "")

    def _edit_markup(self, p: Params) -> dict:
        message = self._edit_target(p)
        markup = check_markup(p.obj("reply_markup"), inline_only=True)
        return self._apply_edit(p, message, {}, markup, None)

    # --- queries, commands, files ---

    def _answer_callback(self, p: Params) -> bool:
        text = p.text("text") or ""
        if utf16_len(text) > 200:
            raise _bad("MESSAGE_TOO_LONG")
        query = self._callbacks.get(p.text("callback_query_id") or "")
        if query is None or query.answer is not None:
            raise _bad(QUERY_TOO_OLD)
        if time.monotonic() - query.created > self.callback_timeout_s:
            raise _bad(QUERY_TOO_OLD)
        query.answer = {
            "callback_query_id": query.id, "data": query.data.get("data"), "text": text,
            "show_alert": p.flag("show_alert"), "url": p.text("url"),
            "latency_s": time.monotonic() - query.created,
        }  # fmt: skip
        return True

    def _answer_precheckout(self, p: Params) -> bool:
        ok = p.flag("ok")
        error_message = None if ok else p.text("error_message", required=True)
        query = self._precheckouts.get(p.text("pre_checkout_query_id") or "")
        if query is None or query.answer is not None or query.expired:
            raise _bad(QUERY_TOO_OLD)
        if time.monotonic() - query.created > self.precheckout_timeout_s:
            query.expired = True
            raise _bad(QUERY_TOO_OLD)
        query.answer = {"pre_checkout_query_id": query.id, "ok": ok, "error_message": error_message}
        return True

    def _command_key(self, p: Params) -> tuple[str, str]:
        scope = p.obj("scope") or {"type": "default"}
        if not isinstance(scope, dict) or not isinstance(scope.get("type"), str):
            raise _bad("can't parse BotCommandScope JSON object")
        return json.dumps(scope, sort_keys=True), p.text("language_code") or ""

    def _set_commands(self, p: Params) -> bool:
        commands = p.obj("commands")
        if not commands:
            raise _bad('parameter "commands" is required')
        if not isinstance(commands, list):
            raise _bad("expected an Array of BotCommand")
        if len(commands) > 100:
            raise _bad("BOT_COMMANDS_TOO_MUCH")
        for command in commands:
            if not isinstance(command, dict):
                raise _bad("can't parse BotCommand: expected an Object")
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(command.get("command", ""))):
                raise _bad("BOT_COMMAND_INVALID")
            description = command.get("description")
            if not isinstance(description, str) or not 1 <= len(description) <= 256:
                raise _bad("command description must be 1-256 characters (fake Telegram)")
        self.commands[self._command_key(p)] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    def _get_commands(self, p: Params) -> list[dict]:
        return self.commands.get(self._command_key(p), [])

    def _delete_commands(self, p: Params) -> bool:
        self.commands.pop(self._command_key(p), None)
        return True

    def _get_file(self, p: Params) -> dict:
        stored = self._files.get(p.text("file_id", required=True) or "")
        if stored is None:
            raise _bad("invalid file_id")
        result: dict[str, Any] = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
        }
        if stored.data is not None:
            result.update(file_size=len(stored.data), file_path=stored.path)
        return result


class FakeUser:
    """A Telegram user in a private chat with the bot. Made by ``FakeTelegram.user()``."""

    def __init__(
        self, fake: FakeTelegram, chat_id: int, first_name: str, language_code: str | None,
        username: str | None,
    ) -> None:  # fmt: skip
        self.fake, self.id, self.first_name = fake, chat_id, first_name
        self.user: dict[str, Any] = {"id": chat_id, "is_bot": False, "first_name": first_name}
        self.chat: dict[str, Any] = {"id": chat_id, "type": "private", "first_name": first_name}
        if username:
            self.user["username"] = self.chat["username"] = username
        if language_code:
            self.user["language_code"] = language_code
        self.blocked = False
        self.keyboard: dict | None = None  # the reply keyboard the bot shows, if any
        self.last_action_at = 0.0

    # --- actions (each makes one Update; deliver=False only returns it) ---

    def _message(self, content: dict, deliver: bool) -> dict:
        fake = self.fake
        with fake.lock:
            self.last_action_at = time.monotonic()
            message_id = next(fake._message_ids[self.id])
            message = {
                "message_id": message_id, "from": self.user, "chat": self.chat,
                "date": int(time.time()), **content,
            }  # fmt: skip
            fake._user_messages[(self.id, message_id)] = message
            return fake._push_update("message", message, deliver)

    def send_text(self, text: str, *, deliver: bool = True) -> dict:
        assert text, "Telegram clients do not send empty messages"
        content: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            command = text.split()[0]
            content["entities"] = [
                {"type": "bot_command", "offset": 0, "length": utf16_len(command)}
            ]
        return self._message(content, deliver)

    def share_contact(self, phone: str, *, deliver: bool = True) -> dict:
        contact = {"phone_number": phone, "first_name": self.first_name, "user_id": self.id}
        return self._message({"contact": contact}, deliver)

    def send_photo(
        self, data: bytes | None = None, caption: str | None = None, *, deliver: bool = True
    ) -> dict:
        with self.fake.lock:
            stored = self.fake._store_file(data or tiny_png(), "photos")
            content: dict[str, Any] = {"photo": [self.fake._photo_size(stored)]}
        if caption:
            content["caption"] = caption
        return self._message(content, deliver)

    def press(
        self, button: str, message: BotMessage | int | None = None, *, deliver: bool = True
    ) -> dict:
        """Press the inline button with this text or callback_data (on `message`, else the latest
        bot message that has one)."""
        fake = self.fake
        with fake.lock:
            wanted = message.message_id if isinstance(message, BotMessage) else message
            candidates = [
                m for m in reversed(fake.messages[self.id]) if wanted in (None, m.message_id)
            ]
            for candidate in candidates:
                found = next(
                    (b for b in candidate.buttons if button in (b["text"], b.get("callback_data"))),
                    None,
                )
                if found:
                    break
            else:
                shown = "\n  ".join(m.describe() for m in candidates if m.buttons) or "(none)"
                raise AssertionError(
                    f"no inline button {button!r} in chat {self.id}; buttons:\n  {shown}"
                )
            if "callback_data" not in found:
                raise AssertionError(f"button {button!r} sends no callback query: {found}")
            self.last_action_at = time.monotonic()
            query_id = str(4_242_000_000_000_000_000 + next(fake._ids))
            payload = {
                "id": query_id, "from": self.user, "message": copy.deepcopy(candidate.json),
                "chat_instance": str(self.id * 7_919 + 42), "data": found["callback_data"],
            }  # fmt: skip
            fake._callbacks[query_id] = _Query(query_id, self.id, time.monotonic(), payload)
            return fake._push_update("callback_query", payload, deliver)

    def pay(
        self,
        invoice_message: BotMessage | int | None = None,
        total_amount: int | None = None,
        order_info: dict | None = None,
        *,
        deliver: bool = True,
    ) -> PaymentResult | dict:
        """Pay an invoice: a pre_checkout_query, then (when the bot says ok in time) a message with
        successful_payment. Blocks up to precheckout_timeout_s for the bot's answer, so call it
        from another thread than the bot's. With deliver=False, returns the pre_checkout_query
        Update only (the query can still be answered)."""
        fake = self.fake
        with fake._cond:
            wanted = (
                invoice_message.message_id
                if isinstance(invoice_message, BotMessage)
                else invoice_message
            )
            invoice = next(
                (m for m in reversed(fake.messages[self.id])
                 if m.kind == "invoice" and wanted in (None, m.message_id)),
                None,
            )  # fmt: skip
            assert invoice, f"no invoice message in chat {self.id}"
            query_id = str(9_137_000_000_000_000_000 + next(fake._ids))
            payload = {
                "id": query_id, "from": self.user,
                "currency": invoice.json["invoice"]["currency"],
                "total_amount": total_amount or invoice.json["invoice"]["total_amount"],
                "invoice_payload": invoice.invoice_payload,
            }  # fmt: skip
            if order_info is None and invoice.invoice_needs:
                order_info = {"name": self.first_name, "phone_number": "8613800000000"}
                if "need_email" in invoice.invoice_needs:
                    order_info["email"] = "buyer@example.com"
            if order_info:
                payload["order_info"] = order_info
            query = _Query(query_id, self.id, time.monotonic(), payload)
            fake._precheckouts[query_id] = query
            self.last_action_at = time.monotonic()
            update = fake._push_update("pre_checkout_query", payload, deliver)
            if not deliver:
                return update
            deadline = query.created + fake.precheckout_timeout_s
            while query.answer is None and not fake._closing.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                fake._cond.wait(left)
            if query.answer is None:
                query.expired = True
                return PaymentResult(False, None, None, None, update["update_id"], answered=False)
            if not query.answer["ok"]:
                error = query.answer["error_message"]
                return PaymentResult(False, error, None, None, update["update_id"], answered=True)
            n = next(fake._ids)
            payment = {
                "currency": payload["currency"], "total_amount": payload["total_amount"],
                "invoice_payload": payload["invoice_payload"],
                "telegram_payment_charge_id": f"tg_charge_{n:08d}",
                "provider_payment_charge_id": f"provider_charge_{n:08d}",
            }  # fmt: skip
            if order_info:
                payment["order_info"] = order_info
        paid = self._message({"successful_payment": payment}, deliver=True)
        return PaymentResult(True, None, payment, paid["update_id"], update["update_id"], True)

    def resend_successful_payment(self, result: PaymentResult, *, deliver: bool = True) -> dict:
        """The same successful_payment again, in a new message and update (a duplicate notice)."""
        assert result.successful_payment, "that payment did not succeed"
        return self._message(
            {"successful_payment": copy.deepcopy(result.successful_payment)}, deliver
        )

    def block(self, *, notify: bool = True) -> None:
        """From now on every send to this chat answers 403 "bot was blocked by the user"."""
        self._set_blocked(True, notify)

    def unblock(self, *, notify: bool = True) -> None:
        self._set_blocked(False, notify)

    def _set_blocked(self, blocked: bool, notify: bool) -> None:
        fake = self.fake
        with fake.lock:
            self.blocked = blocked
            if notify:
                old, new = ("member", "kicked") if blocked else ("kicked", "member")
                change = {
                    "chat": self.chat, "from": self.user, "date": int(time.time()),
                    "old_chat_member": {"user": fake.bot_user, "status": old},
                    "new_chat_member": {"user": fake.bot_user, "status": new}
                    | ({"until_date": 0} if blocked else {}),
                }  # fmt: skip
                fake._push_update("my_chat_member", change, True)

    # --- what the user sees ---

    @property
    def messages(self) -> list[BotMessage]:
        """The bot's messages in this chat, in their current state (snapshots)."""
        with self.fake.lock:
            return copy.deepcopy(self.fake.messages[self.id])

    @property
    def last(self) -> BotMessage | None:
        messages = self.messages
        return messages[-1] if messages else None

    def texts(self) -> list[str]:
        return [m.text for m in self.messages]

    def wait_for(
        self,
        match: str | Callable[[BotMessage], bool],
        timeout: float = 10.0,
        *,
        fresh: bool = False,
    ) -> BotMessage:
        """The latest bot message containing `match` (or satisfying it); with fresh=True only
        messages sent or edited after this user's latest action count."""
        test = match if callable(match) else (lambda m: match in m.text)
        deadline = time.monotonic() + timeout
        while True:
            since = self.last_action_at if fresh else float("-inf")
            messages = self.messages
            hits = [m for m in messages if m.changed_at > since and test(m)]
            if hits:
                return hits[-1]
            if time.monotonic() > deadline:
                shown = "\n  ".join(m.describe() for m in messages) or "(no bot messages)"
                raise AssertionError(
                    f"no bot message matching {match!r} within {timeout}s in chat {self.id}:\n  {shown}"
                )
            time.sleep(0.02)

    @property
    def callback_answers(self) -> list[dict]:
        with self.fake.lock:
            queries = self.fake._callbacks.values()
            return [dict(q.answer) for q in queries if q.chat_id == self.id and q.answer]

    @property
    def precheckout_answers(self) -> list[dict]:
        with self.fake.lock:
            queries = self.fake._precheckouts.values()
            return [dict(q.answer) for q in queries if q.chat_id == self.id and q.answer]


def running_fake_telegram(
    port: int | None = None, **kw: Any
) -> AbstractContextManager[FakeTelegram]:
    """A FakeTelegram served on 127.0.0.1 for the block; ``fake.url`` is its base URL."""
    return serving(FakeTelegram(**kw), port)
