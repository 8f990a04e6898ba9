"""The one ASGI app: web chat, sandbox pay page, payment notifications, health."""

from __future__ import annotations

import html
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
)
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from bot.bootstrap import App
from bot.channels import telegram, web, wechat
from dialogs.i18n import money, t
from scheduler.jobs import start_scheduler
from store import payments
from store.errors import DomainError, ErrorCode
from store.models import Order, OrderStatus, PaymentStatus, utcnow
from store.uow import UnitOfWork

log = logging.getLogger(__name__)
STATIC = Path(__file__).with_name("static")


def create_app(chatshop: App, run_scheduler: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        scheduler = start_scheduler(chatshop) if run_scheduler else None
        if chatshop.settings.telegram_bot_token:
            api.state.telegram = telegram.TelegramChannel(chatshop)
            await api.state.telegram.start()
        if chatshop.settings.wechat_app_id:
            api.state.wechat = wechat.WeChatChannel(chatshop)
            await api.state.wechat.start()
        yield
        if api.state.telegram:
            await api.state.telegram.stop()
        if api.state.wechat:
            await api.state.wechat.stop()
        if scheduler:
            scheduler.shutdown(wait=False)

    api = FastAPI(title="chatshop", lifespan=lifespan, docs_url=None, redoc_url=None)
    api.state.chatshop = chatshop
    api.state.telegram = None
    api.state.wechat = None
    media = Path(chatshop.settings.media_dir)
    media.mkdir(parents=True, exist_ok=True)
    api.mount("/static", StaticFiles(directory=STATIC), name="static")
    api.mount("/media", StaticFiles(directory=media), name="media")
    api.include_router(web.router())
    api.include_router(telegram.router())
    api.include_router(wechat.router())

    @api.get("/", include_in_schema=False)
    async def chat_page() -> FileResponse:
        return FileResponse(STATIC / "chat.html")

    @api.get("/healthz")
    async def healthz() -> JSONResponse:
        def ping() -> None:
            with UnitOfWork(chatshop.sessions) as uow:
                uow.session.execute(text("SELECT 1"))

        try:
            await run_in_threadpool(ping)
        except Exception:  # health checks report failure, they do not raise
            return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
        return JSONResponse({"status": "ok"})

    @api.get("/pay/{token}", response_class=HTMLResponse)
    async def pay_page(token: str) -> HTMLResponse:
        return await run_in_threadpool(_pay_page, chatshop, token)

    @api.post("/pay/{token}")
    async def pay_submit(token: str) -> RedirectResponse:
        await run_in_threadpool(_simulate_payment, chatshop, token)
        return RedirectResponse(f"/pay/{token}", status_code=303)

    @api.post("/pay/notify/wechatpay")
    async def wechat_pay_notify(request: Request) -> Response:
        """WeChat Pay repeats a notification until it reads SUCCESS; a rejected one gets FAIL."""
        provider = chatshop.wechat_pay
        if provider is None:
            return Response(status_code=404)
        body = await wechat.read_at_most(request, wechat.MAX_BODY)
        try:
            if body is None:
                raise DomainError(ErrorCode.BAD_NOTIFICATION, reason="too large")
            outcome = await run_in_threadpool(
                _apply_notification, chatshop, provider, body, dict(request.headers)
            )
        except DomainError as error:
            log.warning("rejected wechatpay notification: %s", error.params.get("reason"))
            return Response(provider.ack(False, "rejected"), 400, media_type="application/xml")
        ok = outcome not in ("amount_mismatch", "wrong_sign_type")
        return Response(provider.ack(ok, outcome), media_type="application/xml")

    @api.post("/pay/notify/{provider}")
    async def notify(provider: str, request: Request) -> JSONResponse:
        if provider != chatshop.sandbox.name:
            return JSONResponse({"error": "unknown provider"}, status_code=404)
        body = await request.body()
        try:
            outcome = await run_in_threadpool(
                _apply_notification, chatshop, chatshop.sandbox, body, dict(request.headers)
            )
        except DomainError as error:
            log.warning("rejected %s notification: %s", provider, error.params.get("reason"))
            return JSONResponse(
                {"error": "rejected", "reason": error.params.get("reason")}, status_code=400
            )
        return JSONResponse({"outcome": outcome})

    return api


def _apply_notification(
    chatshop: App, provider: payments.PaymentProvider, body: bytes, headers: dict[str, str]
) -> str:
    with UnitOfWork(chatshop.sessions) as uow:
        outcome = payments.handle_notification(uow.session, provider, body, headers, utcnow())
        uow.commit()
        return outcome


def _simulate_payment(chatshop: App, token: str) -> None:
    """What the customer's 'Pay' press does at the sandbox gateway: it sends us a signed
    notification, handled exactly like one arriving over HTTP."""
    with UnitOfWork(chatshop.sessions) as uow:
        payment = payments.payment_by_token(uow.session, token)
        if payment is None or payment.status != PaymentStatus.PENDING:
            return
        body, headers = chatshop.sandbox.notification_for(payment, utcnow())
    _apply_notification(chatshop, chatshop.sandbox, body, headers)


_PAGE = """<!doctype html><html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:420px;margin:2rem auto;padding:0 1rem;color:#222}}
.banner{{background:#fff3cd;border:1px solid #e0c36c;padding:.6rem;border-radius:6px;font-weight:600}}
.amount{{font-size:2rem;margin:1rem 0}} button{{font-size:1.1rem;padding:.7rem 1.4rem;border-radius:6px;
border:0;background:#1a7f37;color:#fff;cursor:pointer}} .done{{color:#1a7f37;font-weight:600}}
.bad{{color:#b42318;font-weight:600}}</style></head><body>
<p class="banner">{banner}</p><h1>{title}</h1>{body}</body></html>"""


def _pay_page(chatshop: App, token: str) -> HTMLResponse:
    with UnitOfWork(chatshop.sessions) as uow:
        payment = payments.payment_by_token(uow.session, token)
        order = uow.session.get(Order, payment.order_id) if payment else None
        if payment is None or order is None:
            body = f'<p class="bad">{_t("en", "not_found")}<br>{_t("zh", "not_found")}</p>'
            return HTMLResponse(_page("en", body), status_code=404)
        lang = order.language
        amount = html.escape(money(payment.amount, payment.currency))
        number = html.escape(order.number)
        if payment.status == PaymentStatus.CAPTURED:
            body = f'<p class="done" id="status">{_t(lang, "paid", number=number)}</p>'
        elif order.status != OrderStatus.PENDING_PAYMENT:
            body = f'<p class="bad" id="status">{_t(lang, "not_payable")}</p>'
        else:
            body = (
                f"<p>{_t(lang, 'order', number=number)}</p>"
                f'<p class="amount" id="amount">{amount}</p><form method="post">'
                f'<button id="pay" type="submit">{_t(lang, "pay", amount=amount)}</button></form>'
            )
        return HTMLResponse(_page(lang, body))


def _t(lang: str, key: str, **params: str) -> str:
    return html.escape(t(lang, f"pay_page.{key}", **params))


def _page(lang: str, body: str) -> str:
    return _PAGE.format(lang=lang, title=_t(lang, "title"), banner=_t(lang, "banner"), body=body)
