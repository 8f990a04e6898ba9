"""Delivers WeChat outbox rows, choosing how for each one: customer-service messages while the
customer's window is open and its quota lasts (WeChat: 5 messages within 48 h of their last
message), a template message otherwise, when the merchant configured one for that push.

The quota is spent in the database before sending (`customers.take_from_window`), so workers
never overspend it; WeChat's own refusal (45015 window shut, 45047 quota used) closes our
window and falls back to the template. Each row records what was sent (`outbox.sent_as`).

WeChat has no idempotency key for either, so each message is handed over (recorded, committed)
just before it is sent, as on Telegram (see telegram_send): a part left in flight by a worker
that died is in doubt and not sent again. A template message stands for all the parts left,
so it is handed over as the last one."""

from __future__ import annotations

import contextlib
import io
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import segno
from wechatpy.exceptions import APILimitedException, WeChatClientException

from bot.channels import wechat_render
from bot.channels.media import media_file
from bot.channels.wechat_render import WxMessage
from dialogs.i18n import money, t
from dialogs.notifications import REPLY
from scheduler import dispatcher
from scheduler.dispatcher import Claimed, NotOurs, Progress
from store import customers, orders, outbox, payments
from store.errors import DomainError
from store.models import utcnow
from store.uow import UnitOfWork
from store.wechat_pay import WeChatPayError

if TYPE_CHECKING:
    from bot.bootstrap import App
    from bot.channels.wechat_client import WeChatApi

log = logging.getLogger(__name__)

SHUT = {45015, 45047}  # outside the 48 h window / over the quota
UNREACHABLE = {43004, 40003, 43019}  # unsubscribed, unknown openid, blocked
MEDIA_TTL_S = 2.5 * 86400  # temporary media live 3 days
BACKOFF = timedelta(seconds=60)  # after 45009 (API frequency limit)
FIELD_LIMIT = 20  # characters in a template field


class WeChatSender:
    def __init__(self, app: App, api: WeChatApi) -> None:
        self.sessions = app.sessions
        self.api = api
        self.pay = app.wechat_pay
        self.templates = app.settings.wechat_templates
        self.media_dir = Path(app.settings.media_dir)
        self.interval_s = app.settings.dispatch_interval_s
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="wechat-out")
        self._wake, self._stop = threading.Event(), threading.Event()
        self._media: dict[str, tuple[str, float]] = {}
        self._thread: threading.Thread | None = None

    @property
    def pays(self) -> bool:
        return self.pay is not None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="wechat-outbox", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def wake(self) -> None:
        self._wake.set()

    def deliver_now(self, row: Claimed) -> None:
        self._pool.submit(self._deliver_chat, [row])

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                claimed = dispatcher.claim(self.sessions, ["wechat"], utcnow())
            except Exception:
                log.exception("claiming wechat pushes failed")
                continue
            for group in dispatcher.by_chat(claimed):
                self._pool.submit(self._deliver_chat, group)

    def _deliver_chat(self, group: list[Claimed]) -> None:
        for i, row in enumerate(group):
            try:
                done = self._deliver(row)
            except NotOurs:  # another worker has it now, and likely the chat's later rows
                log.warning("outbox %s was taken over by another worker", row.outbox_id)
                return
            except Exception as error:  # a bug: counted, backed off, dead after the limit
                dispatcher.log_crash(row, "wechat delivery crashed")
                done = False
                # the type only: a bug's message may quote the push (a name, an address)
                with contextlib.suppress(Exception):  # else the lease runs out: counted too
                    dispatcher.failed(self.sessions, row, type(error).__name__, utcnow())
            if not done:
                with contextlib.suppress(Exception):
                    dispatcher.release(self.sessions, group[i + 1 :], utcnow())
                return

    def _deliver(self, row: Claimed) -> bool:
        try:
            parts = _parts(row, self.pays)
        except Exception as error:  # it never will be shown: one traceback, then dead
            log.exception("outbox %s cannot be shown on WeChat", row.outbox_id)
            reason = f"cannot be shown on WeChat: {type(error).__name__}"
            dispatcher.failed(self.sessions, row, reason, utcnow(), give_up=True)
            return True
        at = Progress.of(row)
        at.note = dispatcher.in_doubt(row, len(parts), "WeChat")
        todo = parts[row.resume_at :]
        if not todo:
            dispatcher.sent(self.sessions, replace(row, note=at.note), utcnow())
            return True
        with UnitOfWork(self.sessions) as uow:
            allowed = customers.take_from_window(uow.session, row.identity_id, len(todo), utcnow())
            uow.commit()
        if not allowed:
            why = "the customer's 48-hour window or quota is used up"
            return self._by_template(row, why, at, len(parts))
        for index, part in enumerate(todo, start=row.resume_at):
            hand_over = partial(dispatcher.hand_over, self.sessions, row, index, at)
            try:
                self._send(row.chat_id, part, hand_over)
            except APILimitedException:
                when = utcnow() + BACKOFF
                dispatcher.retry_at(self.sessions, row, when, index, "45009 limit")
                return False
            except WeChatClientException as error:
                return self._refused(row, error, index, at, len(parts))
            except (OSError, WeChatPayError) as error:  # try again later from this part
                dispatcher.failed(self.sessions, row, repr(error), utcnow(), progress=index)
                return False
        dispatcher.sent(self.sessions, replace(row, note=at.note), utcnow(), "custom")
        return True

    def _refused(
        self, row: Claimed, error: WeChatClientException, index: int, at: Progress, parts: int
    ) -> bool:
        code = error.errcode
        if code in SHUT and index == row.resume_at:
            with UnitOfWork(self.sessions) as uow:
                customers.close_window(uow.session, row.identity_id)
                uow.commit()
            return self._by_template(row, f"WeChat refused a service message ({code})", at, parts)
        unreachable = code in UNREACHABLE
        dispatcher.failed(
            self.sessions, row, f"{code} {error.errmsg}", utcnow(),
            unreachable=unreachable, progress=index, give_up=code in SHUT,
        )  # fmt: skip
        return False

    def _by_template(self, row: Claimed, why: str, at: Progress, parts: int) -> bool:
        """One template message instead of what is left; handed over as the row's last part."""
        spec = self.templates.get(row.template)
        if spec is None or row.template == REPLY:
            reason = f"{why}; no template message is configured for {row.template!r}"
            dispatcher.failed(self.sessions, row, reason, utcnow(), give_up=True)
            return True  # later pushes may still fit (their template, or a new window)
        values = template_values(row)
        data = {name: {"value": values.get(source, "")} for name, source in spec.fields.items()}
        try:
            dispatcher.hand_over(self.sessions, row, parts - 1, at)
            self.api.message.send_template(row.chat_id, spec.id, data, url=spec.url or None)
        except APILimitedException:
            dispatcher.retry_at(self.sessions, row, utcnow() + BACKOFF, row.resume_at, "45009")
            return False
        except (WeChatClientException, OSError) as error:
            unreachable = getattr(error, "errcode", None) in UNREACHABLE
            dispatcher.failed(
                self.sessions, row, repr(error), utcnow(), unreachable=unreachable,
                progress=row.resume_at,
            )  # fmt: skip
            return False
        dispatcher.sent(self.sessions, replace(row, note=at.note), utcnow(), "template")
        return True

    def _send(self, openid: str, part: WxMessage, hand_over: Callable[[], None]) -> None:
        """One customer-service message, handed over just before WeChat is asked to send it
        (after any upload: uploading again shows the customer nothing)."""
        message = self.api.message
        if part.kind == "text":
            hand_over()
            message.send_text(openid, part.text)
        elif part.kind == "msgmenu":
            items = [{"id": number, "content": label} for number, label in part.options]
            menu = {"head_content": part.text, "list": items, "tail_content": part.tail}
            hand_over()
            message.send_msg_menu(openid, menu)
        elif part.kind == "image":
            media_id = self.media_id(part.image)
            if media_id:
                hand_over()
                message.send_image(openid, media_id)
        elif part.kind == "qr" and (media_id := self._pay_code(part.order)):
            hand_over()
            message.send_image(openid, media_id)

    def media_id(self, image: str) -> str | None:
        """The WeChat media id of a picture from our media directory, uploaded once per
        process and again before WeChat forgets it."""
        cached = self._media.get(image)
        if cached and cached[1] > time.monotonic():
            return cached[0]
        path = media_file(self.media_dir, image)  # a web address is not fetched by us
        if path is None:
            log.warning("no picture to send for %r", image)
            return None
        with path.open("rb") as file:
            media_id = self._upload(file)
        self._media[image] = (media_id, time.monotonic() + MEDIA_TTL_S)
        return media_id

    def _upload(self, file: io.BufferedIOBase) -> str:
        return str(self.api.media.upload("image", file)["media_id"])

    def _pay_code(self, number: str) -> str | None:
        """The order's WeChat Pay Native QR code as an uploaded picture; None when the order is
        no longer waiting for money (paid or cancelled meanwhile)."""
        assert self.pay is not None
        now = utcnow()
        with UnitOfWork(self.sessions) as uow:
            try:
                order = orders.get_order(uow.session, None, number)
                payment = payments.start_payment(uow.session, self.pay, order, now)
            except DomainError:
                return None
            uow.commit()
            token, code_url = payment.token, payment.data.get("code_url")
            amount, lang, pay_by = payment.amount, order.language, order.pay_by
        if not code_url:
            title = t(lang, "wechat.pay_body", number=number)
            trade = self.pay.create_native(token, amount, title, number, pay_by)
            with UnitOfWork(self.sessions) as uow:
                payments.remember_trade(uow.session, token, trade)
                uow.commit()
            code_url = trade["code_url"]
        png = io.BytesIO()
        segno.make(code_url, error="m").save(png, kind="png", scale=8, border=2)
        png.seek(0)
        png.name = f"{number}.png"  # type: ignore[attr-defined]
        return self._upload(png)


def _parts(row: Claimed, pays: bool) -> list[WxMessage]:
    """The row's WeChat messages. A reply whose first part was (or was to be) the passive reply
    keeps the passive layout, so the parts still to send are the ones the customer lacks."""
    first_only = bool(row.params.get(outbox.FIRST_PART_ONLY))
    passive = row.sent_as.startswith(outbox.PASSIVE) or first_only
    parts = wechat_render.plan(row.messages, row.language, pay_qr=pays, menus=not passive)
    return parts[:1] if first_only else parts


def template_values(row: Claimed) -> dict[str, str]:
    """What a merchant's template fields may show, each one line of at most 20 characters."""
    params, lang = row.params, row.language
    values = {
        "title": t(lang, f"wechat.template.{row.template}"),
        "number": str(params.get("number", "")),
        "text": " ".join(m.text for m in row.messages if m.text),
        "time": (utcnow() + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M"),
    }
    if "total" in params:
        values["total"] = money(params["total"], params.get("currency", "CNY"))
    return {name: " ".join(value.split())[:FIELD_LIMIT] for name, value in values.items()}
