"""A local fake of the WeChat Official Account platform that speaks the real HTTP protocols.

Point the real wechatpy client at it and act as a WeChat user with ``fake.user(...)``::

    with running_fake_wechat(aes_key=AES_KEY) as fake:
        client = WeChatClient(fake.app_id, fake.app_secret)
        client.API_BASE_URL = fake.api_base_url  # wechatpy 1.8 has no base-URL parameter, and its
        # fetch_access_token hard-codes https://api.weixin.qq.com/cgi-bin/token: override it to
        # call self._fetch_access_token(fake.token_url, {...}) (see tests/unit/test_fake_wechat.py)
        fake.set_webhook("http://127.0.0.1:8000/wechat")   # our server
        user = fake.user("o_user1")
        delivery = user.send_text("你好")       # POSTs the XML to the webhook (with retries)
        delivery.reply                           # the passive reply, parsed, or None
        user.wait_for("欢迎")                    # passive, custom or template message

Recorded: ``fake.calls`` (every API call: path, query, JSON body, errcode), ``fake.tokens_issued``,
``fake.deliveries`` (every push attempt: msgid, attempt, status, outcome, elapsed, answer),
``fake.user_messages`` (every message/event made), ``fake.custom_messages[openid]``,
``fake.template_messages[openid]``, ``fake.menu``, and per user ``user.inbox`` (kind "passive",
"custom", "template" or "system", in order). For attack tests, actions take ``deliver=False`` and
return the signed ``Push(params, body)`` instead; ``fake.envelope()``, ``signed_params()``,
``bad_signature()``, ``xml_bomb()``, ``oversized_body()`` and ``post_webhook()`` build and send
such pushes. ``fake.advance(hours=49)`` moves WeChat's clock, ``expire_tokens()`` and
``fail_next(path, errcode | http_status=502)`` inject failures.

What is implemented, as documented on developers.weixin.qq.com:

- ``GET /cgi-bin/token`` (client_credential; a new token supersedes the previous one, which
  stays valid for ``token_grace_s`` = 5 minutes as WeChat documents), every issuance in
  ``fake.tokens_issued``. ``access_token`` checks: 41001 missing, 40014 malformed, 40001 unknown or
  superseded, 42001 expired. wechatpy 1.8 does not use ``/cgi-bin/stable_token``: not served.
- ``POST /cgi-bin/message/custom/send`` with WeChat's 2023 quota rules: a user message opens a
  48 h window of 5 messages, a menu click / subscription / QR scan one of 3 messages for 1 minute
  (the quota is reset to the larger value and the window to the later end by each interaction, never
  added up); outside the window (or after unsubscribing) 45015, over the quota 45047.
- ``POST /cgi-bin/message/template/send`` against templates registered with ``fake.add_template``;
  values are checked by field type (the prefix of the key: thing ≤ 20 characters, phrase ≤ 5 汉字,
  character_string ≤ 32 ASCII, number, amount, time, ... none may contain a line break) → 47003.
- ``POST /cgi-bin/media/upload`` (temporary media, valid 3 days), ``GET /cgi-bin/media/get``,
  ``POST /cgi-bin/menu/create`` (≤ 3 buttons, ≤ 5 sub buttons, name ≤ 16/60 bytes, key ≤ 128
  bytes, url ≤ 1024 bytes, typed buttons), ``GET /cgi-bin/menu/get``, ``GET /cgi-bin/menu/delete``,
  ``GET /cgi-bin/user/info``.
- Pushes to our webhook: the documented message/event XML, signed (``signature``) and, with an
  ``aes_key``, in safe mode (``encrypt_type=aes&msg_signature=`` and the AES-256-CBC envelope).
  WeChat waits ``reply_timeout_s`` (5 s) for the answer and retries on a timeout, a connection error
  or a non-200 status, ``retries`` (2) more times (3 attempts in all) with the same request, byte
  for byte: the same query string (timestamp, nonce, signature, msg_signature) and the same body
  (in safe mode the same ciphertext), as SDK authors (Senparc) observe; so the same MsgId, or the
  same FromUserName + CreateTime for events. The answer must be ``b""`` or ``b"success"`` (no passive
  reply) or a reply XML (encrypted in safe mode); anything else, or no answer after the last
  attempt, shows the user WeChat's system notice ``SERVICE_UNAVAILABLE`` (inbox kind "system").

Deliberate deviations from the real platform:
- Only the endpoints above exist (others: HTTP 404). Errors carry WeChat's codes and messages, with
  a fake ``rid``. Injected faults (``fail_next``) happen before any other check.
- The query ``timestamp`` of a push is real wall-clock time (what replay checks compare against),
  while CreateTime and the 48 h/quota/token/media clock follow ``fake.now()`` (``fake.advance``).
  A user's CreateTime is bumped by a second if needed so FromUserName + CreateTime stays unique.
- Retries follow each other at once (``retry_delay_s``).
- The answer is read strictly: ``"success\\n"`` or an empty XML is a bad answer, and a bad answer
  is not retried. A plain reply in safe mode is refused (there is no "compatible mode").
- ``fake.user()`` users are followers from the start; ``scan()`` by a non-follower is a
  subscribe event with ``qrscene_``; ``click(key)`` must name a CLICK button of the current menu.
- Custom message text length is not limited; media ids are checked for existence and expiry only.
- URL verification (``verify_url``) is always the plain echostr handshake (as for Official
  Accounts; only WeCom encrypts echostr).
- The TEMPLATESENDJOBFINISH event is pushed only with ``template_job_events=True``.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import itertools
import json
import re
import secrets
import string
import struct
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import httpx
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.common import (
    BAD_GATEWAY_PAGE,
    ThreadClients,
    Upload,
    image_info,
    parse_multipart,
    serving,
    tiny_png,
    xml_root,
)

SERVICE_UNAVAILABLE = "该公众号暂时无法提供服务，请稍后再试"
HOUR = 3600.0
ERRMSG = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40004: "invalid media type",
    40005: "invalid file type",
    40007: "invalid media_id",
    40008: "invalid message type",
    40009: "invalid image size",
    40010: "invalid voice size",
    40011: "invalid video size",
    40013: "invalid appid",
    40014: "invalid access_token",
    40016: "invalid button size",
    40017: "invalid button type",
    40018: "invalid button name size",
    40019: "invalid button key size",
    40020: "invalid button url size",
    40023: "invalid sub button size",
    40024: "invalid sub button type",
    40025: "invalid sub button name size",
    40026: "invalid sub button key size",
    40027: "invalid sub button url size",
    40037: "invalid template_id",
    40125: "invalid appsecret",
    41001: "access_token missing",
    41002: "appid missing",
    41004: "appsecret missing",
    41005: "media data missing",
    42001: "access_token expired",
    43004: "require subscribe",
    44002: "empty post data",
    45008: "article size out of limit",
    45009: "reach max api daily quota limit",
    45015: "response out of time limit or subscription is canceled",
    45047: "out of response count limit",
    46003: "menu no exist",
    47001: "data format error",
    47003: "argument invalid!",
}
MEDIA_LIMITS = {"image": 10 << 20, "voice": 2 << 20, "video": 10 << 20, "thumb": 64 << 10}
MEDIA_SIZE_ERROR = {"image": 40009, "voice": 40010, "video": 40011, "thumb": 40009}
MEDIA_TTL = 3 * 24 * HOUR
KEY_BUTTONS = {
    "click", "scancode_push", "scancode_waitmsg", "pic_sysphoto", "pic_photo_or_album",
    "pic_weixin", "location_select",
}  # fmt: skip
BUTTON_TYPES = KEY_BUTTONS | {
    "view", "miniprogram", "media_id", "view_limited", "article_id", "article_view_limited",
}  # fmt: skip
REPLY_TYPES = {"text", "image", "voice", "video", "music", "news", "transfer_customer_service"}
CUSTOM_TYPES = {"text", "image", "voice", "video", "music", "news", "mpnews", "msgmenu",
                "wxcard", "miniprogrampage", "mpnewsarticle"}  # fmt: skip
CJK = r"\u3400-\u9fff\uf900-\ufaff"


# --- protocol helpers (the documented algorithms, written out) --------------------------------


def sha1_signature(*parts: str) -> str:
    """WeChat's signature: SHA-1 of the parts sorted and concatenated (token, timestamp, nonce
    for ``signature``; plus the Encrypt text for ``msg_signature``)."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


class MessageCrypto:
    """The safe-mode message encryption: AES-256-CBC, key = base64(EncodingAESKey + "="),
    IV = key[:16], plaintext = 16 random bytes + 4-byte big-endian length + message + appid,
    PKCS#7-padded to a multiple of 32 bytes, base64-encoded."""

    def __init__(self, aes_key: str, app_id: str) -> None:
        if len(aes_key) != 43:
            raise ValueError("an EncodingAESKey has 43 characters")
        self.key = base64.b64decode(aes_key + "=")
        self.app_id = app_id

    def _cipher(self) -> Cipher:
        return Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16]))

    def encrypt(self, xml: str) -> str:
        data = xml.encode()
        prefix = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(16))
        plain = prefix.encode() + struct.pack(">I", len(data)) + data + self.app_id.encode()
        pad = 32 - len(plain) % 32
        plain += bytes([pad]) * pad
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()

    def decrypt(self, encrypted: str) -> str:
        """The message; ValueError if it cannot be decrypted or is for another appid."""
        try:
            raw = base64.b64decode(encrypted, validate=True)
        except ValueError as e:
            raise ValueError("Encrypt is not base64") from e
        if not raw or len(raw) % 16:
            raise ValueError("Encrypt is not a whole number of AES blocks")
        decryptor = self._cipher().decryptor()
        plain = decryptor.update(raw) + decryptor.finalize()
        pad = plain[-1]
        if not 1 <= pad <= 32:
            raise ValueError("bad PKCS#7 padding")
        content = plain[16:-pad]
        (length,) = struct.unpack(">I", content[:4])
        message, app_id = content[4 : 4 + length], content[4 + length :]
        if len(message) != length:
            raise ValueError("bad message length")
        if app_id.decode(errors="replace") != self.app_id:
            raise ValueError(f"message for appid {app_id!r}, not {self.app_id!r}")
        return message.decode()


def _cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def render_xml(fields: dict[str, Any], root: str = "xml") -> str:
    """WeChat's XML: numbers bare, strings in CDATA, nested dicts as elements, lists of dicts as
    repeated ``item`` elements."""

    def node(name: str, value: Any) -> str:
        if isinstance(value, dict):
            return f"<{name}>" + "".join(node(k, v) for k, v in value.items()) + f"</{name}>"
        if isinstance(value, list):
            return f"<{name}>" + "".join(node("item", v) for v in value) + f"</{name}>"
        if isinstance(value, int) and not isinstance(value, bool):
            return f"<{name}>{value}</{name}>"
        return f"<{name}>{_cdata(str(value))}</{name}>"

    return f"<{root}>\n" + "\n".join(node(k, v) for k, v in fields.items()) + f"\n</{root}>"


def _element(e: ET.Element) -> Any:
    children = list(e)
    if not children:
        return e.text or ""
    result: dict[str, Any] = {}
    for child in children:
        value = _element(child)
        if child.tag in result:
            if not isinstance(result[child.tag], list):
                result[child.tag] = [result[child.tag]]
            result[child.tag].append(value)
        else:
            result[child.tag] = value
    return result


def parse_xml(data: str | bytes) -> dict[str, Any]:
    """The children of the root element as a dict (nested elements as dicts, repeated ones as
    lists). Refuses DTDs. ValueError if it is not such an XML document."""
    parsed = _element(xml_root(data))
    if not isinstance(parsed, dict):
        raise ValueError("empty XML document")
    return parsed


def billion_laughs(levels: int = 9, width: int = 10) -> tuple[str, str]:
    """(DOCTYPE declaring nested entities, the reference expanding to width**levels "lol"s)."""
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{n} "{f"&lol{n - 1};" * width}">' for n in range(1, levels + 1)
    ]
    return f"<!DOCTYPE xml [\n{chr(10).join(entities)}\n]>", f"&lol{levels};"


def _rid() -> str:
    return f"{secrets.token_hex(4)}-{secrets.token_hex(4)}-{secrets.token_hex(4)}"


def _nonce() -> str:
    return str(secrets.randbelow(9_000_000_000) + 1_000_000_000)


# --- recorded state -------------------------------------------------------------------------


class ApiError(Exception):
    def __init__(self, errcode: int, detail: str = "") -> None:
        self.errcode = errcode
        self.errmsg = ERRMSG.get(errcode, "error") + (f" {detail}" if detail else "")
        super().__init__(f"{errcode} {self.errmsg}")

    def body(self) -> dict:
        return {"errcode": self.errcode, "errmsg": f"{self.errmsg} rid: {_rid()}"}


@dataclass
class Call:
    path: str  # "/cgi-bin/message/custom/send"
    params: dict  # the query string
    body: Any  # the decoded JSON body, multipart fields, or None
    at: float  # time.monotonic()
    errcode: int  # 0: success
    errmsg: str = "ok"
    status: int = 200  # HTTP status


@dataclass
class TokenIssue:
    token: str
    at: float  # time.monotonic()
    clock: float  # fake.now()


@dataclass
class _Token:
    value: str
    issued_at: float
    expires_at: float
    superseded_at: float | None = None
    expired: bool = False


@dataclass
class _Fault:
    path: str
    errcode: int | None
    http_status: int | None


@dataclass
class Media:
    media_id: str
    type: str
    data: bytes
    filename: str
    content_type: str
    created_at: float  # fake clock


@dataclass
class Template:
    template_id: str
    fields: list[str]
    title: str = ""


class Push(NamedTuple):
    """A push to the webhook: query parameters and body, for a test to POST itself."""

    params: dict[str, str]
    body: bytes


@dataclass
class DeliveryAttempt:
    msgid: str | None  # MsgId (None for events)
    key: str  # the dedup key: MsgId, or FromUserName:CreateTime for events
    attempt: int  # 1, 2, 3
    status: int | None  # HTTP status; None on a timeout or connection error
    outcome: str  # "ok", "timeout", "error", "http_error", "bad_reply"
    elapsed: float
    body: bytes  # what the webhook answered
    params: dict  # the query string sent
    sent: bytes  # the request body sent
    error: str | None = None


@dataclass
class Delivery:
    """The result of a user action once WeChat is done delivering it."""

    msgid: str | None
    key: str
    message: dict  # the message fields (before encryption)
    xml: str
    attempts: list[DeliveryAttempt]
    reply: dict | None  # the passive reply, parsed (decrypted in safe mode)
    ok: bool  # answered in time with a valid answer
    error: str | None  # why the user saw SERVICE_UNAVAILABLE, if they did


@dataclass
class InboxItem:
    """Something the user received."""

    kind: str  # "passive", "custom", "template", "system"
    msgtype: str  # text, image, news, msgmenu, template, ...
    content: dict  # the reply / the request body (without touser) / the template send body
    text: str  # the readable text (Content, titles and descriptions, menu lines, values)
    at: float  # time.monotonic()

    def describe(self) -> str:
        return f"[{self.kind}/{self.msgtype}] {self.text!r}"


@dataclass
class VerifyResult:
    echostr: str
    status: int
    body: str

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.body == self.echostr


def _readable(msgtype: str, content: dict) -> str:
    """The text a user reads in a custom message body or a parsed passive reply."""
    if msgtype == "text":
        return str(content.get("Content") or (content.get("text") or {}).get("content") or "")
    if msgtype == "news":
        articles = content.get("Articles", {}).get("item") or (content.get("news") or {}).get(
            "articles", []
        )
        return "\n".join(
            "\n".join(
                x
                for x in (
                    a.get("Title") or a.get("title"),
                    a.get("Description") or a.get("description"),
                )
                if x
            )
            for a in articles
        )
    if msgtype == "msgmenu":
        menu = content.get("msgmenu") or {}
        lines = [menu.get("head_content", "")]
        lines += [str(item.get("content", "")) for item in menu.get("list", [])]
        return "\n".join(x for x in [*lines, menu.get("tail_content", "")] if x)
    if msgtype == "template":
        return "\n".join(str(v.get("value", "")) for v in content.get("data", {}).values())
    return ""


# --- template field rules ---------------------------------------------------------------------


def _template_value_ok(kind: str, value: str) -> bool:
    """WeChat's rules for typed template fields (thing1, amount2, ...); untyped (legacy) keys such
    as first, keyword1 or remark take any text."""
    if any(ord(c) < 32 for c in value):  # line breaks and other control characters
        return kind not in TEMPLATE_RULES
    rule = TEMPLATE_RULES.get(kind)
    return rule is None or bool(rule(value))


TEMPLATE_RULES: dict[str, Callable[[str], Any]] = {
    "thing": lambda v: 0 < len(v) <= 20,
    "number": lambda v: len(v) <= 32 and re.fullmatch(r"[+-]?\d+(\.\d+)?", v),
    "letter": lambda v: len(v) <= 32 and re.fullmatch(r"[A-Za-z]+", v),
    "symbol": lambda v: len(v) <= 5 and re.fullmatch(rf"[^\w\s{CJK}]+", v),
    "character_string": lambda v: len(v) <= 32 and re.fullmatch(r"[\x21-\x7e]+", v),
    "time": lambda v: len(v) <= 64 and re.fullmatch(rf"[\d:\-/. ~年月日{CJK}]+", v),
    "date": lambda v: len(v) <= 64 and re.fullmatch(rf"[\d:\-/. ~年月日{CJK}]+", v),
    "amount": lambda v: re.fullmatch(r"[^\d\s.]?\d{1,10}(\.\d{1,2})?元?", v),
    "phone_number": lambda v: len(v) <= 17 and re.fullmatch(r"[\d+\-() ]+", v),
    "car_number": lambda v: 0 < len(v) <= 8,
    "name": lambda v: len(v) <= 10 if re.search(f"[{CJK}]", v) else 0 < len(v) <= 20,
    "phrase": lambda v: 0 < len(v) <= 5 and re.fullmatch(f"[{CJK}]+", v),
}


# --- the server -------------------------------------------------------------------------------


class FakeWeChat:
    def __init__(
        self,
        app_id: str = "wx1234567890abcdef",
        app_secret: str = "secret0123456789abcdef0123456789",
        token: str = "chatshoptoken",
        aes_key: str | None = None,
        *,
        original_id: str = "gh_0123456789ab",
        reply_timeout_s: float = 5.0,
        retries: int = 2,
        retry_delay_s: float = 0.0,
        token_ttl_s: float = 7200.0,
        token_grace_s: float = 300.0,
        message_quota: tuple[int, float] = (5, 48 * HOUR),
        event_quota: tuple[int, float] = (3, 60.0),
        template_job_events: bool = False,
    ) -> None:
        self.app_id, self.app_secret, self.token = app_id, app_secret, token
        self.aes_key = aes_key
        self.crypto = MessageCrypto(aes_key, app_id) if aes_key else None
        self.original_id = original_id
        self.reply_timeout_s = reply_timeout_s
        self.retries, self.retry_delay_s = retries, retry_delay_s
        self.token_ttl_s, self.token_grace_s = token_ttl_s, token_grace_s
        self.message_quota, self.event_quota = message_quota, event_quota
        self.template_job_events = template_job_events
        self.url: str | None = None
        self.webhook: str | None = None
        self.clock = 0.0  # seconds added to time.time(): see now() and advance()

        self.lock = threading.Lock()
        self._closing = threading.Event()
        self.calls: list[Call] = []
        self.tokens_issued: list[TokenIssue] = []
        self.deliveries: list[DeliveryAttempt] = []
        self.user_messages: list[dict] = []  # every message/event the users made, as fields
        self.custom_messages: dict[str, list[dict]] = {}
        self.template_messages: dict[str, list[dict]] = {}
        self.templates: dict[str, Template] = {}
        self.media: dict[str, Media] = {}
        self.menu: dict | None = None
        self.users: dict[str, FakeWeChatUser] = {}
        self._tokens: dict[str, _Token] = {}
        self._faults: list[_Fault] = []
        self._ids = itertools.count(1)
        self._threads: list[threading.Thread] = []
        self._clients = ThreadClients()

        self._routes: dict[str, tuple[Callable[[dict, Any], dict], bool]] = {
            "token": (self._get_token, False),
            "message/custom/send": (self._custom_send, True),
            "message/template/send": (self._template_send, True),
            "media/upload": (self._media_upload, True),
            "menu/create": (self._menu_create, True),
            "menu/get": (self._menu_get, True),
            "menu/delete": (self._menu_delete, True),
            "user/info": (self._user_info, True),
        }
        self.app = Starlette(
            routes=[
                Route("/cgi-bin/media/get", self._media_get, methods=["GET"]),
                Route("/cgi-bin/{path:path}", self._endpoint, methods=["GET", "POST"]),
                Route("/mmbiz/{media_id}", self._picture, methods=["GET"]),
            ]
        )

    # --- test-facing API ---

    @property
    def token_url(self) -> str:
        """The URL to fetch tokens from (wechatpy hard-codes https://api.weixin.qq.com/...)."""
        assert self.url, "the fake is not running (use running_fake_wechat)"
        return f"{self.url}/cgi-bin/token"

    @property
    def api_base_url(self) -> str:
        """The value for ``WeChatClient.API_BASE_URL`` (note the trailing slash)."""
        assert self.url, "the fake is not running (use running_fake_wechat)"
        return f"{self.url}/cgi-bin/"

    def now(self) -> float:
        """WeChat's clock: time.time() plus ``clock``."""
        return time.time() + self.clock

    def advance(self, *, hours: float = 0, minutes: float = 0, seconds: float = 0) -> None:
        """Move WeChat's clock forward (48 h windows, quotas, token and media expiry)."""
        with self.lock:
            self.clock += hours * HOUR + minutes * 60 + seconds

    def set_webhook(self, url: str | None) -> None:
        """Our server's URL, as configured in the Official Account's 服务器配置."""
        self.webhook = url

    def user(
        self, openid: str | None = None, *, subscribed: bool = True, language: str = "zh_CN"
    ) -> FakeWeChatUser:
        """The user with this openid (created on first use, a follower unless subscribed=False)."""
        with self.lock:
            if openid is None:
                openid = f"oFAKE{next(self._ids):023d}"
            if openid not in self.users:
                self.users[openid] = FakeWeChatUser(self, openid, subscribed, language)
            return self.users[openid]

    def add_template(self, template_id: str, fields: list[str], title: str = "") -> None:
        """Register a template (as if picked in the template library): its data keys."""
        with self.lock:
            self.templates[template_id] = Template(template_id, list(fields), title)

    def add_media(self, data: bytes | None = None, type: str = "image") -> str:
        """Store temporary media (as if uploaded); returns its media_id."""
        with self.lock:
            return self._store_media(type, data or tiny_png(), f"media.{type}", "").media_id

    def expire_tokens(self) -> None:
        """Every access token issued so far is expired (42001) from now on."""
        with self.lock:
            for t in self._tokens.values():
                t.expired = True

    def fail_next(
        self, path: str, errcode: int | None = 45009, *, http_status: int | None = None
    ) -> None:
        """Make the next call of `path` ("message/custom/send", "token", ...) fail without being
        performed: with this errcode (HTTP 200, as WeChat does), or with an HTTP error status and
        an HTML page (``http_status=502``)."""
        name = path.removeprefix("/").removeprefix("cgi-bin/")
        if name not in self._routes:
            raise ValueError(f"unknown path {path!r}")
        with self.lock:
            self._faults.append(_Fault(name, None if http_status else errcode, http_status))

    def calls_to(self, path: str) -> list[Call]:
        name = "/cgi-bin/" + path.removeprefix("/").removeprefix("cgi-bin/")
        with self.lock:
            return [c for c in self.calls if c.path == name]

    def signed_params(
        self,
        *,
        timestamp: int | str | None = None,
        nonce: str | None = None,
        encrypt: str | None = None,
        openid: str | None = None,
    ) -> dict[str, str]:
        """The query string WeChat adds to a push: signature, timestamp, nonce (and openid,
        encrypt_type, msg_signature when given an Encrypt text)."""
        ts = str(timestamp if timestamp is not None else int(time.time()))
        nonce = nonce or _nonce()
        params = {"signature": sha1_signature(self.token, ts, nonce), "timestamp": ts,
                  "nonce": nonce}  # fmt: skip
        if openid:
            params["openid"] = openid
        if encrypt is not None:
            params["encrypt_type"] = "aes"
            params["msg_signature"] = sha1_signature(self.token, ts, nonce, encrypt)
        return params

    def envelope(
        self,
        message: str | dict,
        *,
        timestamp: int | str | None = None,
        nonce: str | None = None,
        openid: str | None = None,
    ) -> Push:
        """A signed push of this message XML (or fields), encrypted in safe mode."""
        xml = message if isinstance(message, str) else render_xml(message)
        if self.crypto is None:
            return Push(
                self.signed_params(timestamp=timestamp, nonce=nonce, openid=openid), xml.encode()
            )
        encrypt = self.crypto.encrypt(xml)
        params = self.signed_params(
            timestamp=timestamp, nonce=nonce, encrypt=encrypt, openid=openid
        )
        body = render_xml({"ToUserName": self.original_id, "Encrypt": encrypt})
        return Push(params, body.encode())

    @staticmethod
    def bad_signature(params: dict[str, str]) -> dict[str, str]:
        """These query parameters with a forged ``signature`` (and ``msg_signature``)."""
        forged = dict(params)
        for name in ("signature", "msg_signature"):
            if name in forged:
                forged[name] = sha1_signature("forged", forged[name])
        return forged

    def xml_bomb(self, openid: str = "o_attacker", *, levels: int = 9) -> Push:
        """A correctly signed push whose XML declares a "billion laughs" entity bomb (in safe mode
        around a valid Encrypt, so the signature checks out before the body is fully parsed)."""
        doctype, bomb = billion_laughs(levels)
        if self.crypto is None:
            fields = self._fields(openid, "text", Content="@@BOMB@@", MsgId=self._msgid())
            xml = render_xml(fields).replace(_cdata("@@BOMB@@"), bomb)
            return Push(self.signed_params(openid=openid), f"{doctype}\n{xml}".encode())
        inner = render_xml(self._fields(openid, "text", Content="boom", MsgId=self._msgid()))
        params, body = self.envelope(inner, openid=openid)
        outer = body.decode().replace("</xml>", f"<Bomb>{bomb}</Bomb>\n</xml>")
        return Push(params, f"{doctype}\n{outer}".encode())

    def oversized_body(self, n: int, openid: str = "o_attacker") -> Push:
        """A correctly signed text message whose body is at least `n` bytes."""
        fields = self._fields(openid, "text", Content="a" * n, MsgId=self._msgid())
        return self.envelope(fields, openid=openid)

    def post_webhook(
        self, push: Push | tuple[dict, bytes], url: str | None = None, timeout: float | None = None
    ) -> httpx.Response:
        """POST a push to the webhook as WeChat would (no retry, no parsing)."""
        target = url or self.webhook
        assert target, "no webhook (use fake.set_webhook)"
        params, body = push
        return self._http().post(
            target,
            params=params,
            content=body,
            headers={"Content-Type": "text/xml"},
            timeout=timeout or self.reply_timeout_s,
        )

    def verify_url(self, url: str | None = None, *, signature: str | None = None) -> VerifyResult:
        """The echostr handshake WeChat does when the server URL is saved: GET with signature,
        timestamp, nonce and echostr; the server must answer echostr itself."""
        target = url or self.webhook
        assert target, "no webhook (use fake.set_webhook)"
        echostr = str(secrets.randbelow(10**19))
        params = self.signed_params() | {"echostr": echostr}
        if signature is not None:
            params["signature"] = signature
        answer = self._http().get(target, params=params, timeout=self.reply_timeout_s)
        return VerifyResult(echostr, answer.status_code, answer.text)

    def close(self) -> None:
        """Stop background pushes (called by running_fake_wechat)."""
        self._closing.set()
        for thread in self._threads:
            thread.join(timeout=self.reply_timeout_s * (self.retries + 1) + 1)
        self._clients.close()

    def _http(self) -> httpx.Client:
        return self._clients.get()

    # --- HTTP ---

    async def _endpoint(self, request: Request) -> Response:
        name = request.path_params["path"]
        params = dict(request.query_params)
        raw = await request.body()
        body: Any = None
        ctype = request.headers.get("content-type", "")
        if ctype.startswith("multipart/form-data"):
            try:
                body = parse_multipart(raw, ctype)
            except ValueError:
                body = {}
        elif raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw  # reported as 47001 by the handlers that read JSON
        path = f"/cgi-bin/{name}"
        with self.lock:
            fault = next((f for f in self._faults if f.path == name), None)
            if fault:
                self._faults.remove(fault)
                if fault.http_status:
                    self._record(path, params, body, -1, "injected", fault.http_status)
                    page = BAD_GATEWAY_PAGE.replace("502", str(fault.http_status))
                    return Response(page, status_code=fault.http_status, media_type="text/html")
                error = ApiError(fault.errcode or -1)
                return self._answer(path, params, body, error.body())
            if name not in self._routes:
                self._record(path, params, body, -1, "not found", 404)
                return Response("Not Found", status_code=404)
            handler, needs_token = self._routes[name]
            try:
                if needs_token:
                    self._check_token(params)
                result = handler(params, body)
            except ApiError as e:
                result = e.body()
            return self._answer(path, params, body, result)

    def _answer(self, path: str, params: dict, body: Any, result: dict) -> Response:
        self._record(path, params, body, int(result.get("errcode", 0)), result.get("errmsg", "ok"))
        return JSONResponse(result)

    def _record(self, path: str, params: dict, body: Any, errcode: int, errmsg: str,
                status: int = 200) -> None:  # fmt: skip
        self.calls.append(Call(path, params, body, time.monotonic(), errcode, errmsg, status))

    async def _media_get(self, request: Request) -> Response:
        params = dict(request.query_params)
        path = "/cgi-bin/media/get"
        with self.lock:
            try:
                self._check_token(params)
                media = self._find_media(params.get("media_id"))
            except ApiError as e:
                return self._answer(path, params, None, e.body())
            self._record(path, params, None, 0, "ok")
        headers = {"Content-Disposition": f'attachment; filename="{media.filename}"'}
        return Response(media.data, media_type=media.content_type, headers=headers)

    async def _picture(self, request: Request) -> Response:
        """PicUrl of user images (mmbiz.qpic.cn on WeChat)."""
        with self.lock:
            media = self.media.get(request.path_params["media_id"])
        if media is None:
            return Response("Not Found", status_code=404)
        return Response(media.data, media_type=media.content_type)

    # --- tokens ---

    def _get_token(self, q: dict, body: Any) -> dict:
        if q.get("grant_type") != "client_credential":
            raise ApiError(40002)
        if not q.get("appid"):
            raise ApiError(41002)
        if q["appid"] != self.app_id:
            raise ApiError(40013)
        if not q.get("secret"):
            raise ApiError(41004)
        if q["secret"] != self.app_secret:
            raise ApiError(40125)
        now = self.now()
        for t in self._tokens.values():
            if t.superseded_at is None:
                t.superseded_at = now
        n = len(self.tokens_issued) + 1
        value = f"{n}_" + secrets.token_urlsafe(96)[:120]
        self._tokens[value] = _Token(value, now, now + self.token_ttl_s)
        self.tokens_issued.append(TokenIssue(value, time.monotonic(), now))
        return {"access_token": value, "expires_in": int(self.token_ttl_s)}

    def _check_token(self, q: dict) -> None:
        value = q.get("access_token")
        if not value:
            raise ApiError(41001)
        if not re.fullmatch(r"[\w\-]{16,512}", value):
            raise ApiError(40014)
        t = self._tokens.get(value)
        now = self.now()
        if t is None:
            raise ApiError(40001)
        if t.superseded_at is not None and now - t.superseded_at > self.token_grace_s:
            raise ApiError(40001)
        if t.expired or now >= t.expires_at:
            raise ApiError(42001)

    # --- sending ---

    @staticmethod
    def _json(body: Any) -> dict:
        if body is None or body == b"":
            raise ApiError(44002)
        if not isinstance(body, dict):
            raise ApiError(47001)
        return body

    def _follower(self, openid: Any) -> FakeWeChatUser:
        user = self.users.get(openid) if isinstance(openid, str) else None
        if user is None:
            raise ApiError(40003)
        return user

    def _find_media(self, media_id: Any) -> Media:
        media = self.media.get(media_id) if isinstance(media_id, str) else None
        if media is None or self.now() - media.created_at > MEDIA_TTL:
            raise ApiError(40007)
        return media

    def _check_custom(self, data: dict) -> str:
        msgtype = data.get("msgtype")
        if msgtype not in CUSTOM_TYPES:
            raise ApiError(40008)
        payload = data.get(msgtype)
        if not isinstance(payload, dict):
            raise ApiError(47001, f"{msgtype} missing")
        if msgtype == "text":
            if not isinstance(payload.get("content"), str) or not payload["content"]:
                raise ApiError(47003, "text.content is empty")
        elif msgtype in ("image", "voice", "video"):
            self._find_media(payload.get("media_id"))
        elif msgtype == "news":
            articles = payload.get("articles")
            if not isinstance(articles, list) or not articles:
                raise ApiError(47001, "news.articles missing")
            if len(articles) > 1:
                raise ApiError(45008)
            if not all(isinstance(a, dict) and a.get("title") for a in articles):
                raise ApiError(47003, "news.articles.title is empty")
        elif msgtype == "msgmenu":
            items = payload.get("list")
            if not isinstance(items, list) or not items:
                raise ApiError(47003, "msgmenu.list is empty")
            for item in items:
                if not (isinstance(item, dict) and item.get("id") and item.get("content")):
                    raise ApiError(47003, "msgmenu.list item needs id and content")
        elif msgtype == "miniprogrampage" and not all(
            payload.get(k) for k in ("appid", "pagepath", "thumb_media_id")
        ):
            raise ApiError(47003, "miniprogrampage needs appid, pagepath, thumb_media_id")
        return msgtype

    def _custom_send(self, q: dict, body: Any) -> dict:
        data = self._json(body)
        user = self._follower(data.get("touser"))
        msgtype = self._check_custom(data)
        now = self.now()
        if not user.subscribed or user.window_until is None or now > user.window_until:
            raise ApiError(45015)
        if user.quota_left <= 0:
            raise ApiError(45047)
        user.quota_left -= 1
        content = {k: copy.deepcopy(v) for k, v in data.items() if k != "touser"}
        self.custom_messages.setdefault(user.openid, []).append(copy.deepcopy(data))
        user._receive("custom", msgtype, content)
        return {"errcode": 0, "errmsg": "ok"}

    def _template_send(self, q: dict, body: Any) -> dict:
        data = self._json(body)
        user = self._follower(data.get("touser"))
        template_id = data.get("template_id")
        template = self.templates.get(template_id) if isinstance(template_id, str) else None
        if template is None:
            raise ApiError(40037)
        values = data.get("data") or {}
        if not isinstance(values, dict):
            raise ApiError(47001, "data is not an object")
        for key in template.fields:
            item = values.get(key)
            value = item.get("value") if isinstance(item, dict) else None
            if not isinstance(value, str) or value == "":
                raise ApiError(47003, f"data.{key}.value is empty")
            if not _template_value_ok(re.sub(r"\d+$", "", key), value):
                raise ApiError(47003, f"data.{key}.value invalid")
        url = data.get("url")
        if url is not None and (not isinstance(url, str) or len(url.encode()) > 1024):
            raise ApiError(47003, "url invalid")
        if not user.subscribed:
            raise ApiError(43004)
        msgid = 2_000_000_000 + next(self._ids)
        sent = copy.deepcopy(data) | {"msgid": msgid}
        self.template_messages.setdefault(user.openid, []).append(sent)
        content = {k: v for k, v in sent.items() if k != "touser"}
        user._receive("template", "template", content)
        if self.template_job_events and self.webhook:
            fields = self._fields(
                user.openid, "event", Event="TEMPLATESENDJOBFINISH", MsgID=msgid, Status="success"
            )
            thread = threading.Thread(target=self._deliver, args=(user, fields), daemon=True)
            self._threads.append(thread)
            thread.start()
        return {"errcode": 0, "errmsg": "ok", "msgid": msgid}

    # --- media, menu, users ---

    def _store_media(self, kind: str, data: bytes, filename: str, ctype: str) -> Media:
        if kind not in MEDIA_LIMITS:
            raise ApiError(40004)
        if len(data) > MEDIA_LIMITS[kind]:
            raise ApiError(MEDIA_SIZE_ERROR[kind])
        info = image_info(data)
        if kind in ("image", "thumb"):
            if info is None or info[0] == "webp" or (kind == "thumb" and info[0] != "jpg"):
                raise ApiError(40005)
            ctype = {"png": "image/png", "jpg": "image/jpeg", "gif": "image/gif"}[info[0]]
        media_id = f"MEDIA_{next(self._ids):06d}_" + secrets.token_urlsafe(24)
        media = Media(
            media_id, kind, data, filename, ctype or "application/octet-stream", self.now()
        )
        self.media[media_id] = media
        return media

    def _media_upload(self, q: dict, body: Any) -> dict:
        kind = q.get("type")
        if kind not in MEDIA_LIMITS:
            raise ApiError(40004)
        upload = body.get("media") if isinstance(body, dict) else None
        if not isinstance(upload, Upload) or not upload.data:
            raise ApiError(41005)
        media = self._store_media(kind, upload.data, upload.filename, upload.content_type)
        key = "thumb_media_id" if kind == "thumb" else "media_id"
        return {"type": kind, key: media.media_id, "created_at": int(media.created_at)}

    def _check_button(self, button: Any, sub: bool) -> None:
        base = 40024 if sub else 40017  # type, then name/key/url size: +1, +2, +3
        if not isinstance(button, dict):
            raise ApiError(base)
        name = button.get("name")
        if not isinstance(name, str) or not 0 < len(name.encode()) <= (60 if sub else 16):
            raise ApiError(base + 1)
        subs = button.get("sub_button")
        if not sub and isinstance(subs, list) and subs:
            if len(subs) > 5:
                raise ApiError(40023)
            for child in subs:
                self._check_button(child, sub=True)
            return
        kind = button.get("type")
        if kind not in BUTTON_TYPES:
            raise ApiError(base)
        if kind in KEY_BUTTONS:
            key = button.get("key")
            if not isinstance(key, str) or not 0 < len(key.encode()) <= 128:
                raise ApiError(base + 2)
        if kind in ("view", "miniprogram"):
            url = button.get("url")
            parts = urlsplit(url) if isinstance(url, str) else None
            if not parts or parts.scheme not in ("http", "https") or len(url.encode()) > 1024:
                raise ApiError(base + 3)
        if kind == "miniprogram" and not (button.get("appid") and button.get("pagepath")):
            raise ApiError(47003, "miniprogram button needs appid and pagepath")
        if kind in ("media_id", "view_limited") and not button.get("media_id"):
            raise ApiError(40007)
        if kind in ("article_id", "article_view_limited") and not button.get("article_id"):
            raise ApiError(47003, "article_id missing")

    def _menu_create(self, q: dict, body: Any) -> dict:
        data = self._json(body)
        buttons = data.get("button")
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
            raise ApiError(40016)
        for button in buttons:
            self._check_button(button, sub=False)
        self.menu = {"button": copy.deepcopy(buttons)}
        return {"errcode": 0, "errmsg": "ok"}

    def _menu_get(self, q: dict, body: Any) -> dict:
        if self.menu is None:
            raise ApiError(46003)
        buttons = copy.deepcopy(self.menu["button"])
        for button in buttons:
            button.setdefault("sub_button", [])
            for child in button["sub_button"]:
                child.setdefault("sub_button", [])
        return {"menu": {"button": buttons}}

    def _menu_delete(self, q: dict, body: Any) -> dict:
        self.menu = None
        return {"errcode": 0, "errmsg": "ok"}

    def _user_info(self, q: dict, body: Any) -> dict:
        user = self._follower(q.get("openid"))
        if not user.subscribed:
            return {"subscribe": 0, "openid": user.openid, "tagid_list": []}
        return {
            "subscribe": 1, "openid": user.openid, "language": user.language,
            "subscribe_time": int(user.subscribe_time), "remark": "", "groupid": 0,
            "tagid_list": [], "subscribe_scene": user.subscribe_scene,
            "qr_scene": user.qr_scene, "qr_scene_str": user.qr_scene_str,
        }  # fmt: skip

    def menu_keys(self) -> set[str]:
        """The keys of every CLICK-like button of the current menu."""
        with self.lock:
            buttons = list((self.menu or {}).get("button", []))
        keys = set()
        for button in buttons:
            for b in [button, *button.get("sub_button", [])]:
                if b.get("type") in KEY_BUTTONS:
                    keys.add(b["key"])
        return keys

    # --- pushes to the webhook ---

    def _msgid(self) -> int:
        return 24_000_000_000_000_000 + next(self._ids)

    def _fields(
        self, openid: str, msgtype: str, create_time: int | None = None, **extra: Any
    ) -> dict:
        return {"ToUserName": self.original_id, "FromUserName": openid,
                "CreateTime": create_time or int(self.now()), "MsgType": msgtype,
                **extra}  # fmt: skip

    def _deliver(self, user: FakeWeChatUser, fields: dict) -> Delivery:
        """Push the message as WeChat does: wait reply_timeout_s, retry on failure, read the
        answer; record everything and put the passive reply (or the system notice) in the inbox."""
        target = self.webhook
        assert target, "no webhook (use fake.set_webhook)"
        xml = render_xml(fields)
        msgid = str(fields["MsgId"]) if "MsgId" in fields else None
        key = msgid or f"{fields['FromUserName']}:{fields['CreateTime']}"
        attempts: list[DeliveryAttempt] = []
        reply: dict | None = None
        error: str | None = None
        params, body = self.envelope(xml, openid=user.openid)  # a retry repeats it exactly
        for n in range(1, self.retries + 2):
            if n > 1 and self._closing.wait(self.retry_delay_s):
                break
            started = time.monotonic()
            status, answer, outcome, problem = None, b"", "ok", None
            try:
                response = self._http().post(
                    target,
                    params=params,
                    content=body,
                    headers={"Content-Type": "text/xml"},
                    timeout=self.reply_timeout_s,
                )
                status, answer = response.status_code, response.content
                if status != 200:
                    outcome, problem = "http_error", f"HTTP {status}"
            except httpx.TimeoutException as e:
                outcome, problem = "timeout", f"no answer within {self.reply_timeout_s}s ({e!r})"
            except httpx.HTTPError as e:
                outcome, problem = "error", repr(e)
            if outcome == "ok":
                try:
                    reply = self._read_reply(answer, user.openid, fields)
                except ValueError as e:
                    outcome, problem = "bad_reply", str(e)
            elapsed = time.monotonic() - started
            attempt = DeliveryAttempt(msgid, key, n, status, outcome, elapsed, answer, params,
                                      body, problem)  # fmt: skip
            attempts.append(attempt)
            with self.lock:
                self.deliveries.append(attempt)
            error = problem
            if outcome in ("ok", "bad_reply"):
                break
        ok = attempts[-1].outcome == "ok"
        with self.lock:
            if reply is not None and reply["MsgType"] != "transfer_customer_service":
                user._receive("passive", reply["MsgType"], reply)
            elif not ok and fields.get("Event") != "TEMPLATESENDJOBFINISH":
                user._receive("system", "text", {"Content": SERVICE_UNAVAILABLE})
        return Delivery(msgid, key, dict(fields), xml, attempts, reply, ok, None if ok else error)

    def _read_reply(self, answer: bytes, openid: str, fields: dict) -> dict | None:
        """The passive reply in the webhook's answer; None for "" or "success"; ValueError when
        WeChat would show SERVICE_UNAVAILABLE."""
        if answer in (b"", b"success"):
            return None
        try:
            text = answer.decode()
        except UnicodeDecodeError as e:
            raise ValueError("the answer is not UTF-8") from e
        outer = parse_xml(text)
        if self.crypto is not None:
            if "Encrypt" not in outer:
                raise ValueError("safe mode: the reply is not encrypted")
            missing = {"MsgSignature", "TimeStamp", "Nonce"} - set(outer)
            if missing:
                raise ValueError(f"encrypted reply without {sorted(missing)}")
            expected = sha1_signature(
                self.token, str(outer["TimeStamp"]), str(outer["Nonce"]), str(outer["Encrypt"])
            )
            if outer["MsgSignature"] != expected:
                raise ValueError("the reply's MsgSignature is wrong")
            reply = parse_xml(self.crypto.decrypt(str(outer["Encrypt"])))
        elif "Encrypt" in outer:
            raise ValueError("plain mode: the reply is encrypted")
        else:
            reply = outer
        if reply.get("ToUserName") != openid:
            raise ValueError(f"reply ToUserName {reply.get('ToUserName')!r} is not {openid!r}")
        if reply.get("FromUserName") != self.original_id:
            raise ValueError(
                f"reply FromUserName {reply.get('FromUserName')!r} is not {self.original_id!r}"
            )
        if not str(reply.get("CreateTime", "")).isdigit():
            raise ValueError("reply without a numeric CreateTime")
        msgtype = reply.get("MsgType")
        if msgtype not in REPLY_TYPES:
            raise ValueError(f"unknown reply MsgType {msgtype!r}")
        if msgtype == "text" and not reply.get("Content"):
            raise ValueError("text reply without Content")
        if msgtype in ("image", "voice", "video"):
            holder = reply.get(msgtype.capitalize())
            media_id = holder.get("MediaId") if isinstance(holder, dict) else None
            with self.lock:
                try:
                    self._find_media(media_id)
                except ApiError as e:
                    raise ValueError(f"{msgtype} reply with an unknown MediaId {media_id!r}") from e
        if msgtype == "news":
            articles = reply.get("Articles")
            items = articles.get("item") if isinstance(articles, dict) else None
            items = items if isinstance(items, list) else [items] if items else []
            if str(len(items)) != str(reply.get("ArticleCount")):
                raise ValueError("ArticleCount does not match the articles")
            limit = 8 if fields["MsgType"] == "event" else 1
            if not 1 <= len(items) <= limit:
                raise ValueError(f"a news reply here has 1 to {limit} articles, not {len(items)}")
            reply["Articles"] = {"item": items}
        return reply


class FakeWeChatUser:
    """A WeChat user of the Official Account. Made by ``FakeWeChat.user()``.

    Each action makes the documented XML and pushes it to the webhook; it returns the Delivery
    once WeChat is done (up to 3 attempts), or with deliver=False the signed Push without sending
    it (the interaction still counts for the 48 h window).
    """

    def __init__(self, fake: FakeWeChat, openid: str, subscribed: bool, language: str) -> None:
        self.fake, self.openid, self.language = fake, openid, language
        self.subscribed = subscribed
        self.subscribe_time = fake.now()
        self.subscribe_scene = "ADD_SCENE_SEARCH"
        self.qr_scene, self.qr_scene_str = 0, ""
        self.window_until: float | None = None  # custom messages allowed until (fake clock)
        self.quota_left = 0
        self.inbox: list[InboxItem] = []
        self.last_action_at = 0.0
        self._last_create_time = 0

    # --- actions ---

    def _act(
        self, msgtype: str, deliver: bool, *, quota: tuple[int, float] | None, **extra: Any
    ) -> Delivery | Push:
        fake = self.fake
        with fake.lock:
            now = fake.now()
            create_time = max(int(now), self._last_create_time + 1)
            self._last_create_time = create_time
            self.last_action_at = time.monotonic()
            if quota:
                count, ttl = quota
                active = self.window_until is not None and now <= self.window_until
                self.quota_left = max(self.quota_left if active else 0, count)
                self.window_until = max(self.window_until if active else now, now + ttl)
            if msgtype != "event":
                extra["MsgId"] = fake._msgid()
            fields = fake._fields(self.openid, msgtype, create_time, **extra)
            fake.user_messages.append(dict(fields))
        if not deliver:
            return fake.envelope(fields, openid=self.openid)
        return fake._deliver(self, fields)

    def send_text(self, text: str, *, deliver: bool = True) -> Delivery | Push:
        assert text, "WeChat clients do not send empty messages"
        return self._act("text", deliver, quota=self.fake.message_quota, Content=text)

    def send_image(self, data: bytes | None = None, *, deliver: bool = True) -> Delivery | Push:
        """An image message; PicUrl is served by the fake (``/mmbiz/<media_id>``) and MediaId
        can be downloaded with media/get."""
        fake = self.fake
        media_id = fake.add_media(data or tiny_png(), "image")
        pic_url = f"{fake.url}/mmbiz/{media_id}" if fake.url else f"http://mmbiz.qpic.cn/{media_id}"
        return self._act(
            "image", deliver, quota=fake.message_quota, PicUrl=pic_url, MediaId=media_id
        )

    def send_voice(
        self, recognition: str | None = None, *, deliver: bool = True
    ) -> Delivery | Push:
        """A voice message; Recognition (the speech-to-text result) only when given."""
        fake = self.fake
        media_id = fake.add_media(b"#!AMR\n" + b"\x00" * 64, "voice")
        extra: dict[str, Any] = {"MediaId": media_id, "Format": "amr"}
        if recognition is not None:
            extra["Recognition"] = recognition
        return self._act("voice", deliver, quota=fake.message_quota, **extra)

    def subscribe(self, scene: int | str | None = None, *, deliver: bool = True) -> Delivery | Push:
        """Follow the account (by scanning a QR code with this scene value, if given)."""
        extra: dict[str, Any] = {"Event": "subscribe"}
        with self.fake.lock:
            self.subscribed, self.subscribe_time = True, self.fake.now()
            self.subscribe_scene = "ADD_SCENE_QR_CODE" if scene is not None else "ADD_SCENE_SEARCH"
            self.qr_scene = scene if isinstance(scene, int) else 0
            self.qr_scene_str = scene if isinstance(scene, str) else ""
        if scene is not None:
            extra |= {"EventKey": f"qrscene_{scene}", "Ticket": self._ticket(scene)}
        return self._act("event", deliver, quota=self.fake.event_quota, **extra)

    def unsubscribe(self, *, deliver: bool = True) -> Delivery | Push:
        with self.fake.lock:
            self.subscribed, self.window_until, self.quota_left = False, None, 0
        return self._act("event", deliver, quota=None, Event="unsubscribe")

    def scan(self, scene: int | str, *, deliver: bool = True) -> Delivery | Push:
        """Scan a parametric QR code: SCAN for a follower, else a subscribe event with it."""
        if not self.subscribed:
            return self.subscribe(scene, deliver=deliver)
        return self._act(
            "event",
            deliver,
            quota=self.fake.event_quota,
            Event="SCAN",
            EventKey=str(scene),
            Ticket=self._ticket(scene),
        )

    def click(self, key: str, *, deliver: bool = True) -> Delivery | Push:
        """Press the CLICK menu button with this key (it must be in the current menu)."""
        keys = self.fake.menu_keys()
        assert key in keys, f"no menu button with key {key!r}; the menu has {sorted(keys)}"
        return self._act("event", deliver, quota=self.fake.event_quota, Event="CLICK", EventKey=key)

    @staticmethod
    def _ticket(scene: int | str) -> str:
        return "gQ" + base64.urlsafe_b64encode(hashlib.sha1(str(scene).encode()).digest()).decode()

    # --- what the user sees ---

    def _receive(self, kind: str, msgtype: str, content: dict) -> None:
        """Add to the inbox (lock held)."""
        text = _readable(msgtype, content)
        self.inbox.append(InboxItem(kind, msgtype, content, text, time.monotonic()))

    def messages(self) -> list[InboxItem]:
        with self.fake.lock:
            return copy.deepcopy(self.inbox)

    def texts(self) -> list[str]:
        return [item.text for item in self.messages()]

    def wait_for(
        self,
        match: str | Callable[[InboxItem], bool],
        timeout: float = 10.0,
        *,
        fresh: bool = False,
    ) -> InboxItem:
        """The latest inbox item whose text contains `match` (or satisfying it); with fresh=True
        only items received after this user's latest action count."""
        test = match if callable(match) else (lambda item: match in item.text)
        deadline = time.monotonic() + timeout
        while True:
            since = self.last_action_at if fresh else float("-inf")
            items = self.messages()
            hits = [item for item in items if item.at >= since and test(item)]
            if hits:
                return hits[-1]
            if time.monotonic() > deadline:
                shown = "\n  ".join(item.describe() for item in items) or "(nothing received)"
                raise AssertionError(
                    f"nothing matching {match!r} within {timeout}s for {self.openid}:\n  {shown}"
                )
            time.sleep(0.02)


def running_fake_wechat(port: int | None = None, **kw: Any) -> AbstractContextManager[FakeWeChat]:
    """A FakeWeChat served on 127.0.0.1 for the block; ``fake.url`` is its base URL."""
    return serving(FakeWeChat(**kw), port)
