"""WeChat Official Account, on wechatpy: a webhook that checks every push (signature, age,
nonce, AES in safe mode, XML without DTDs, a size limit) and answers within WeChat's 5 s.

WeChat waits 5 s for the answer to a push and then sends the same request again (3 attempts
in all). A passive reply (the answer itself) is free, while customer-service messages spend
the customer's quota, so: when the reply is ready within the budget
(WECHAT_REPLY_BUDGET_S, well under 5 s) its first part is the passive reply; otherwise we
answer "success" at once and the reply goes out as customer-service messages from the outbox
(`wechat_send`). Which of the two happened is decided once, under a lock, and recorded on the
reply's outbox row, so a retry, here or on another worker, gets an answer consistent with it;
when a retry shows that a passive reply was lost, its first part goes out as a service message
(the rules are in `wechat_answer`)."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
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
from bot.channels.wechat_answer import (
    MAX_AGE_S,
    PASSIVE,
    RETRY_WINDOW_S,
    SUCCESS,
    Attempt,
    Clock,
    Nonces,
    SystemClock,
    is_replay,
    is_retry,
)
from bot.channels.wechat_client import WeChatApi
from bot.channels.wechat_send import WeChatSender
from bot.gateway import Handled
from bot.messages import Inbound, Outbound, payload
from dialogs.i18n import t
from scheduler.dispatcher import Claimed
from store import conversations, customers, outbox
from store.uow import UnitOfWork

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from bot.bootstrap import App
    from bot.config import Settings

log = logging.getLogger(__name__)

MAX_BODY = 64_000  # WeChat's pushes are a few KB at most
MESSAGE_WINDOW = (5, 48 * 3600.0)  # a customer message: 5 service messages within 48 h
EVENT_WINDOW = (3, 60.0)  # a menu click, subscription or scan: 3 within a minute
MENU_KEYS = ("browse_categories", "view_cart", "orders", "human_agent")


class Rejected(Exception):
    """Not a genuine, fresh WeChat push: 403, nothing recorded."""


class WeChatChannel:
    name = "wechat"

    def __init__(self, app: App, clock: Clock | None = None) -> None:
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
        self.clock: Clock = clock or SystemClock()
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="wechat-in")
        self._attempts: dict[str, Attempt] = {}
        self._nonces = Nonces(self.clock)
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
        request = body
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
        if not self._nonces.spend(query, request):
            raise Rejected("replayed nonce")
        return {"xml": body, **fields}

    def _check_signature(self, query: Mapping[str, str]) -> None:
        timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
        try:
            check_signature(self.token, query.get("signature", ""), timestamp, nonce)
        except InvalidSignatureException as error:
            raise Rejected("signature") from error
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > MAX_AGE_S:
            raise Rejected("stale timestamp")

    # answering a push
    async def answer(self, message: dict[str, Any]) -> Response:
        inbound = to_inbound(message)
        if inbound is None:
            return Response(SUCCESS)
        attempt, first = self._attempt(f"{inbound.chat_id}:{inbound.message_id}")
        carried = attempt.served  # then WeChat did not get that answer: it is retrying
        if first:
            self._pool.submit(self._work, inbound, message, attempt)
        budget = self.budget_s - (self.clock.monotonic() - attempt.started)
        # deciding runs off the event loop: the worker may hold the lock to record "passive"
        ready = await attempt.wait(budget, self.clock)
        if not ready and await asyncio.to_thread(attempt.decide, "success"):
            return Response(SUCCESS)  # the work goes on; the sender delivers its reply
        if attempt.decision != PASSIVE:
            return Response(SUCCESS)
        if carried:
            await asyncio.to_thread(self._lost, attempt)
            return Response(SUCCESS)
        attempt.served = True
        rest = attempt.take_rest()  # the rest of the reply goes out once, after the first answer
        task = BackgroundTask(self.sender.deliver_now, rest) if rest else None
        return Response(attempt.answer, media_type="application/xml", background=task)

    def _attempt(self, key: str) -> tuple[Attempt, bool]:
        """This message's attempt, and whether this request is the first to bring it here."""
        with self._guard:
            attempt = self._attempts.get(key)
            if attempt is not None:
                return attempt, False
            finished = asyncio.get_running_loop().create_future()
            attempt = Attempt(finished, self.clock.monotonic(), self.clock.now())
            self._attempts[key] = attempt
            self._forget_old()
            return attempt, True

    def _forget_old(self) -> None:
        """WeChat's retries come within ~15 s; an attempt is kept for a minute."""
        if len(self._attempts) < 1000:
            return
        cutoff = self.clock.monotonic() - 60
        self._attempts = {k: a for k, a in self._attempts.items() if a.started > cutoff}

    def _lost(self, attempt: Attempt) -> None:
        """A retry came after a response carried the passive reply: WeChat did not get it, so
        its first part goes out as a service message (unless this is a late replay)."""
        if attempt.reply_id is None or self.clock.monotonic() - attempt.started > RETRY_WINDOW_S:
            return
        with UnitOfWork(self.app.sessions) as uow:
            queued = outbox.resend_passive(uow.session, attempt.reply_id, self.clock.now())
            uow.commit()
        if queued is not None:
            self.sender.wake()

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
        with attempt.lock:  # a request whose budget runs out waits for this: one decision
            if xml is not None and not attempt.decision and self._record(claimed, len(parts)):
                attempt.decision, attempt.answer = PASSIVE, xml
                attempt.reply_id = claimed.outbox_id
                attempt.leased = _after_first(claimed) if len(parts) > 1 else None
                return
        self.sender.deliver_now(claimed)  # too late, or not a passive kind: all via the outbox

    def _record(self, claimed: Claimed, parts: int) -> bool:
        with UnitOfWork(self.app.sessions) as uow:
            recorded = outbox.mark_passive(uow.session, claimed.outbox_id, parts, self.clock.now())
            uow.commit()
        return recorded

    def _repeat(self, handled: Handled, message: dict[str, Any], attempt: Attempt) -> None:
        """Another request for this message was handled first (on another worker, or here
        before a restart). This one may carry that passive reply if it arrived before the
        message was recorded: either it was WeChat's latest attempt or it no longer counts."""
        original = handled.inbound
        if original is None:
            return
        retry = is_retry(attempt.arrived, original.created_at)
        xml, reply_id = (None, None) if retry else self._passive_again(handled, message)
        with attempt.lock, UnitOfWork(self.app.sessions) as uow:
            carry = xml is not None and not attempt.decision
            lost = not is_replay(attempt.arrived, original.created_at)
            again = outbox.settle_retry(
                uow.session, original.id, self.clock.now(), carry=carry, lost=lost
            )
            uow.commit()
            if again and xml is not None:
                attempt.decision, attempt.answer, attempt.reply_id = PASSIVE, xml, reply_id
        self.sender.wake()  # a first part to send again, if the passive reply was lost

    def _passive_again(
        self, handled: Handled, message: dict[str, Any]
    ) -> tuple[bytes | None, int | None]:
        """The passive reply recorded for this message, rendered again, and its outbox row;
        (None, None) if its reply did not go passively."""
        assert handled.inbound is not None
        with UnitOfWork(self.app.sessions) as uow:
            row = outbox.reply_to(uow.session, handled.inbound.id)
            if row is None or outbox.first_sent_as(row) != PASSIVE:
                return None, None
            language, reply_id = row.language, row.id
        replies = [Outbound.from_dict(m.body) for m in handled.replies]
        parts = wechat_render.plan(replies, language, pay_qr=self.sender.pays)
        return (self._passive(parts[0], message) if parts else None), reply_id

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
