"""WeChat Official Account, on wechatpy: a webhook that checks every push (signature, age,
nonce, AES in safe mode, XML without DTDs, a size limit) and answers within WeChat's 5 s.

WeChat waits 5 s for the answer to a push and then sends the same message again (3 attempts
in all). A passive reply (the answer itself) is free, while customer-service messages spend
the customer's quota, so: when the reply is ready within the budget
(WECHAT_REPLY_BUDGET_S, well under 5 s) its first part is the passive reply; otherwise we
answer "success" at once and the reply goes out as customer-service messages from the outbox
(`wechat_send`). Which of the two happened is decided once, under a lock, and recorded on the
reply's outbox row, so a retry, here or on another worker, repeats that passive reply (WeChat
only retries when it did not get ours) or answers "success" — never a second answer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from fastapi import APIRouter, Request, Response
from starlette.background import BackgroundTask
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException, WeChatClientException
from wechatpy.replies import ImageReply, TextReply
from wechatpy.utils import check_signature

from bot.channels import wechat_render
from bot.channels.body import read_at_most
from bot.channels.wechat_client import WeChatApi
from bot.channels.wechat_send import WeChatSender
from bot.gateway import Handled
from bot.messages import Inbound, Outbound, payload
from dialogs.i18n import t
from scheduler.dispatcher import Claimed
from store import conversations, customers, outbox
from store.models import utcnow
from store.uow import UnitOfWork

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from bot.bootstrap import App
    from bot.config import Settings

log = logging.getLogger(__name__)

MAX_BODY = 64_000  # WeChat's pushes are a few KB at most
MAX_AGE_S = 300  # a push signed longer ago than this is a replay
GRACE_S = 1.0  # a passive reply being recorded at the deadline may take this much longer
MESSAGE_WINDOW = (5, 48 * 3600.0)  # a customer message: 5 service messages within 48 h
EVENT_WINDOW = (3, 60.0)  # a menu click, subscription or scan: 3 within a minute
MENU_KEYS = ("browse_categories", "view_cart", "orders", "human_agent")
SUCCESS = b"success"


class Rejected(Exception):
    """Not a genuine, fresh WeChat push: 403, nothing recorded."""


@dataclass
class Attempt:
    """The answer to one customer message, decided once: "passive" (the reply XML) or
    "success" (the outbox sends it). Awaited by the webhook request and WeChat's retries."""

    finished: asyncio.Future[None]
    lock: threading.Lock = field(default_factory=threading.Lock)
    decision: str = ""
    answer: bytes = SUCCESS
    started: float = field(default_factory=time.monotonic)
    leased: Claimed | None = None  # the reply's rest, for the sender after we answered

    def decide(self, decision: str) -> bool:
        with self.lock:
            if self.decision:
                return False
            self.decision = decision
            return True

    def finish(self) -> None:
        """From the worker thread: wake whoever waits on the event loop."""
        with contextlib.suppress(RuntimeError):  # the loop is gone: the server is stopping
            self.finished.get_loop().call_soon_threadsafe(_resolve, self.finished)

    async def wait(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(asyncio.shield(self.finished), max(seconds, 0))
        except TimeoutError:
            return False
        return True


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class WeChatChannel:
    name = "wechat"

    def __init__(self, app: App) -> None:
        s = app.settings
        self.app = app
        self.token = s.wechat_token
        self.crypto = None
        if s.wechat_aes_key:
            self.crypto = WeChatCrypto(s.wechat_token, s.wechat_aes_key, s.wechat_app_id)
        self.api = WeChatApi(
            s.wechat_app_id, s.wechat_app_secret, s.wechat_api_base_url, app.sessions
        )
        self.sender = WeChatSender(app, self.api)
        self.budget_s = s.wechat_reply_budget_s
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="wechat-in")
        self._attempts: dict[str, Attempt] = {}
        self._nonces: dict[str, float] = {}
        self._guard = threading.Lock()

    async def start(self) -> None:
        self.sender.start()

    async def stop(self) -> None:
        self.sender.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)

    # checking a push
    def verify_url(self, query: Mapping[str, str]) -> str:
        """The echostr handshake when the merchant saves the server URL."""
        self._check_signature(query)
        return query.get("echostr", "")

    def open(self, query: Mapping[str, str], body: bytes) -> dict[str, Any]:
        """The push's message as a dict, if it is genuine and fresh; Rejected otherwise."""
        self._check_signature(query)
        fields = _xml_fields(body)
        if self.crypto is not None:
            if query.get("encrypt_type") != "aes" or "Encrypt" not in fields:
                raise Rejected("safe mode: the push is not encrypted")
            try:
                plain = self.crypto.decrypt_message(
                    {"Encrypt": fields["Encrypt"]},
                    query.get("msg_signature", ""),
                    query["timestamp"],
                    query["nonce"],
                )
            except InvalidSignatureException as error:
                raise Rejected("msg_signature") from error
            except Exception as error:  # a corrupt ciphertext fails in many ways
                raise Rejected("cannot decrypt") from error
            body = plain.encode() if isinstance(plain, str) else plain
            fields = _xml_fields(body)
        if not {"FromUserName", "MsgType", "CreateTime"} <= fields.keys():
            raise Rejected("not a WeChat message")
        self._spend_nonce(query)
        return {"xml": body, **fields}

    def _check_signature(self, query: Mapping[str, str]) -> None:
        timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
        try:
            check_signature(self.token, query.get("signature", ""), timestamp, nonce)
        except InvalidSignatureException as error:
            raise Rejected("signature") from error
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > MAX_AGE_S:
            raise Rejected("stale timestamp")

    def _spend_nonce(self, query: Mapping[str, str]) -> None:
        """A signed push is good once: replaying it (even within MAX_AGE_S) is refused. Across
        workers a replay is still de-duplicated by its MsgId."""
        key = f"{query['timestamp']}:{query['nonce']}"
        now = time.monotonic()
        with self._guard:
            if key in self._nonces:
                raise Rejected("replayed nonce")
            self._nonces[key] = now + 2 * MAX_AGE_S
            if len(self._nonces) > 10_000:
                self._nonces = {k: t for k, t in self._nonces.items() if t > now}

    # answering a push
    async def answer(self, message: dict[str, Any]) -> Response:
        inbound = to_inbound(message)
        if inbound is None:
            return Response(SUCCESS)
        key = f"{inbound.chat_id}:{inbound.message_id}"
        with self._guard:
            attempt = self._attempts.get(key)
            first = attempt is None
            if first:
                finished = asyncio.get_running_loop().create_future()
                attempt = self._attempts[key] = Attempt(finished)
                self._forget_old()
        assert attempt is not None
        if first:
            self._pool.submit(self._work, inbound, message, attempt)
        if not await attempt.wait(self.budget_s - (time.monotonic() - attempt.started)):
            if attempt.decide("success"):
                return Response(SUCCESS)  # the work goes on; the sender delivers its reply
            await attempt.wait(GRACE_S)
        with attempt.lock:  # the rest of the reply goes out once, after the first answer
            rest, attempt.leased = attempt.leased, None
        task = BackgroundTask(self.sender.deliver_now, rest) if rest else None
        return Response(attempt.answer, media_type="application/xml", background=task)

    def _forget_old(self) -> None:
        """WeChat's retries come within ~15 s; an attempt is kept for a minute."""
        if len(self._attempts) < 1000:
            return
        cutoff = time.monotonic() - 60
        self._attempts = {k: a for k, a in self._attempts.items() if a.started > cutoff}

    def _work(self, inbound: Inbound, message: dict[str, Any], attempt: Attempt) -> None:
        try:
            if inbound.payload == "unsubscribe":
                self._unsubscribed(inbound.chat_id)
                return
            handled = self.app.gateway.handle(self._numbered(inbound))
            if handled.duplicate:
                self._repeat(handled, message, attempt)
            elif handled.leased is not None:
                self._reply(handled.leased, message, attempt)
            else:
                self.sender.wake()  # queued behind an earlier push: the sender's next round
        except Exception:
            log.exception("wechat message not handled")
        finally:
            attempt.decide("success")
            attempt.finish()

    def _reply(self, claimed: Claimed, message: dict[str, Any], attempt: Attempt) -> None:
        parts = wechat_render.plan(claimed.messages, claimed.language, pay_qr=self.sender.pays)
        xml = self._passive(parts[0], message) if parts else None
        if xml is not None and attempt.decide("passive"):
            with UnitOfWork(self.app.sessions) as uow:
                recorded = outbox.mark_passive(uow.session, claimed.outbox_id, len(parts), utcnow())
                uow.commit()
            if recorded:
                attempt.answer = xml
                attempt.leased = _after_first(claimed) if len(parts) > 1 else None
                return
            attempt.decision = "success"
        self.sender.deliver_now(claimed)  # too late, or not a passive kind: all via the outbox

    def _repeat(self, handled: Handled, message: dict[str, Any], attempt: Attempt) -> None:
        """A retry reached another worker (or this one, later): answer the passive reply again
        if that is what was chosen; WeChat only retries when the first answer did not count."""
        if handled.inbound is None:
            return
        with UnitOfWork(self.app.sessions) as uow:
            row = outbox.reply_to(uow.session, handled.inbound.id)
            passive = row is not None and row.sent_as.startswith("passive")
            language = row.language if row else "zh"
        if not passive:
            return
        replies = [Outbound.from_dict(m.body) for m in handled.replies]
        parts = wechat_render.plan(replies, language, pay_qr=self.sender.pays)
        xml = self._passive(parts[0], message) if parts else None
        if xml is not None and attempt.decide("passive"):
            attempt.answer = xml

    def _passive(self, part: wechat_render.WxMessage, message: dict[str, Any]) -> bytes | None:
        """The reply XML for a part WeChat accepts passively (text, image), or None."""
        to, me = message["FromUserName"], message.get("ToUserName", "")
        if part.kind == "text":
            reply: Any = TextReply(content=part.text, target=to, source=me)
        elif part.kind == "image":
            try:
                media_id = self.sender.media_id(part.image)
            except (WeChatClientException, OSError):  # the outbox will try again
                log.warning("picture upload failed; the reply goes as service messages")
                return None
            if media_id is None:
                return None
            reply = ImageReply(media_id=media_id, target=to, source=me)
        else:
            return None
        xml = reply.render()
        if self.crypto is not None:
            xml = self.crypto.encrypt_message(xml, _nonce(), str(int(time.time())))
        return xml.encode()

    def _numbered(self, inbound: Inbound) -> Inbound:
        """ "2" answers the second option the shop showed last, exactly like pressing it."""
        if inbound.payload or not inbound.text.strip().rstrip(".").isdigit():
            return inbound
        with UnitOfWork(self.app.sessions) as uow:
            offered = conversations.last_offer(uow.session, self.name, inbound.chat_id)
            shown = [Outbound.from_dict(m.body) for m in offered]
        chosen = wechat_render.choice(inbound.text, wechat_render.options(shown))
        if chosen is None:
            return inbound
        return replace(inbound, payload=chosen)

    def _unsubscribed(self, openid: str) -> None:
        with UnitOfWork(self.app.sessions) as uow:
            customers.set_reachable(uow.session, self.name, openid, False)
            uow.commit()


def shop_menu(language: str = "zh") -> dict[str, Any]:
    """Shop, cart, and under "mine": orders and customer service (WeChat allows 3 buttons)."""

    def click(name: str, key: str) -> dict[str, str]:
        return {"type": "click", "name": t(language, f"wechat.menu.{name}"), "key": key}

    mine = [click("orders", "orders"), click("service", "human_agent")]
    return {
        "button": [
            click("shop", "browse_categories"),
            click("cart", "view_cart"),
            {"name": t(language, "wechat.menu.mine"), "sub_button": mine},
        ]
    }


def push_menu(settings: Settings, sessions: sessionmaker[Session]) -> dict[str, Any]:
    """The `chatshop wechat menu` command."""
    api = WeChatApi(
        settings.wechat_app_id, settings.wechat_app_secret, settings.wechat_api_base_url, sessions
    )
    menu = shop_menu("zh")
    api.menu.create(menu)
    return menu


def _after_first(claimed: Claimed) -> Claimed:
    return replace(claimed, progress=1, sent_as="passive")


def to_inbound(message: dict[str, Any]) -> Inbound | None:
    """A push as the channel-neutral message the gateway takes; None for what a shop ignores."""
    try:
        parsed = parse_message(message["xml"])
    except Exception:  # wechatpy is strict about some fields; such pushes are not for us
        log.warning("unreadable wechat push of type %s", message.get("MsgType"))
        return None
    openid = message["FromUserName"]
    base: dict[str, Any] = {"channel": "wechat", "chat_id": openid}
    kind = parsed.type
    if kind == "event":
        return _event(parsed.event, str(message.get("EventKey") or ""), base, message)
    base |= {
        "message_id": str(message.get("MsgId") or message["CreateTime"]),
        "window": MESSAGE_WINDOW,
    }
    if kind == "text":
        menu_choice = str(message.get("bizmsgmenuid") or "")
        if menu_choice.isdigit():  # a tap on a message menu we sent: its id is the number
            return Inbound(**base, text=menu_choice)
        return Inbound(**base, text=parsed.content or "")
    if kind == "image":
        return Inbound(**base, attachments=(f"wechat:{parsed.media_id}",))
    if kind == "voice":
        voice = (f"wechat-voice:{parsed.media_id}",)
        return Inbound(**base, text=(parsed.recognition or "").strip(), attachments=voice)
    # video, location, link, file: kept, and answered with what the shop can read
    return Inbound(**base, attachments=(f"wechat-{kind}:{message.get('MsgId', '')}",))


def _event(event: str, key: str, base: dict[str, Any], message: dict[str, Any]) -> Inbound | None:
    base |= {"message_id": f"event:{message['CreateTime']}", "window": EVENT_WINDOW}
    scene = key.removeprefix("qrscene_")
    if event in ("subscribe", "subscribe_scan", "scan"):
        # a QR code for a product carries its id as the scene: open that product
        start = payload("start", p=scene) if scene.isdigit() else "start"
        return Inbound(**base, payload=start)
    if event == "unsubscribe":
        return Inbound(**(base | {"window": None}), payload="unsubscribe")
    if event == "click":
        return Inbound(**base, payload=key if key in MENU_KEYS else "start")
    return None


def _xml_fields(body: bytes) -> dict[str, Any]:
    """Top-level fields of a WeChat XML document, refusing DTDs (entity bombs, external
    entities) and anything that is not one flat <xml> element."""
    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (DefusedXmlException, SyntaxError, ValueError) as error:
        raise Rejected(f"bad XML: {type(error).__name__}") from error
    if root.tag != "xml":
        raise Rejected("bad XML: root")
    return {child.tag: (child.text or "") for child in root}


def _nonce() -> str:
    return str(time.time_ns() % 10**10)


def router() -> APIRouter:
    api = APIRouter()

    def channel_of(request: Request) -> WeChatChannel | None:
        return request.app.state.wechat

    @api.get("/webhooks/wechat", include_in_schema=False)
    async def verify(request: Request) -> Response:
        channel = channel_of(request)
        if channel is None:
            return Response(status_code=404)
        try:
            echostr = channel.verify_url(request.query_params)
        except Rejected as error:
            log.warning("wechat URL check refused: %s", error)
            return Response(status_code=403)
        return Response(echostr, media_type="text/plain")

    @api.post("/webhooks/wechat", include_in_schema=False)
    async def push(request: Request) -> Response:
        channel = channel_of(request)
        if channel is None:
            return Response(status_code=404)
        body = await read_at_most(request, MAX_BODY)
        if body is None:
            log.warning("wechat push refused: body over %d bytes", MAX_BODY)
            return Response(status_code=413)
        try:
            message = channel.open(request.query_params, body)
        except Rejected as error:
            log.warning("wechat push refused: %s", error)
            return Response(status_code=403)
        return await channel.answer(message)

    return api
