"""Payment pages and notification endpoints: the sandbox's test checkout, the in-WeChat
checkout (WeChat Pay JSAPI), and where providers report that money moved."""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from bot.bootstrap import App
from bot.channels.body import read_at_most
from bot.channels.wechat import MAX_BODY
from dialogs.i18n import money, t
from store import payments
from store.errors import DomainError, ErrorCode
from store.models import ChannelIdentity, Order, OrderStatus, Payment, PaymentStatus, utcnow
from store.uow import UnitOfWork
from store.wechat_pay import WeChatPayError, WeChatPayProvider

log = logging.getLogger(__name__)

# Pages are Jinja2 templates with their CSS and JS as static files: the Content-Security-Policy
# allows no inline script or style (bot/security.py).
TEMPLATES = Jinja2Templates(directory=Path(__file__).with_name("templates"))


def router(chatshop: App) -> APIRouter:
    api = APIRouter()

    @api.get("/pay/wechat/{token}", response_class=HTMLResponse)
    async def wechat_page(token: str) -> HTMLResponse:
        return await run_in_threadpool(_wechat_page, chatshop, token)

    @api.get("/pay/{token}", response_class=HTMLResponse)
    async def sandbox_page(token: str) -> HTMLResponse:
        return await run_in_threadpool(_sandbox_page, chatshop, token)

    @api.post("/pay/{token}")
    async def sandbox_submit(token: str) -> Response:
        if chatshop.sandbox is None:
            return _not_found()  # a real shop: no page marks anything paid
        await run_in_threadpool(_simulate_payment, chatshop, token)
        return RedirectResponse(f"/pay/{token}", status_code=303)

    @api.post("/pay/notify/{name}")
    async def notify(name: str, request: Request) -> Response:
        provider = _providers(chatshop).get(name)
        if provider is None:
            return JSONResponse({"error": "unknown provider"}, status_code=404)
        body = await read_at_most(request, MAX_BODY)
        try:
            if body is None:
                raise DomainError(ErrorCode.BAD_NOTIFICATION, reason="too_large")
            outcome = await run_in_threadpool(
                _apply_notification, chatshop, provider, body, dict(request.headers)
            )
        except DomainError as error:
            reason = error.params.get("reason")
            log.warning("rejected %s notification: %s", name, reason)
            return _answer(provider, False, "rejected", str(reason))
        return _answer(provider, outcome not in payments.REFUSED, outcome)

    return api


def _providers(chatshop: App) -> dict[str, payments.PaymentProvider]:
    sandbox = {chatshop.sandbox.name: chatshop.sandbox} if chatshop.sandbox else {}
    return {**sandbox, **chatshop.wechat_payments}


def _answer(provider: object, ok: bool, outcome: str, reason: str = "") -> Response:
    """WeChat Pay reads XML (and repeats until SUCCESS); the sandbox reads JSON."""
    if isinstance(provider, WeChatPayProvider):
        answer = provider.ack(ok, outcome)
        return Response(answer, 200 if ok else 400, media_type="application/xml")
    if ok:
        return JSONResponse({"outcome": outcome})
    return JSONResponse({"error": outcome, "reason": reason or outcome}, status_code=400)


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
    sandbox = chatshop.sandbox
    if sandbox is None:
        return  # a real shop: there is no test gateway to pay at
    with UnitOfWork(chatshop.sessions) as uow:
        payment = payments.payment_by_token(uow.session, token)
        if payment is None or payment.status != PaymentStatus.PENDING:
            return
        body, headers = sandbox.notification_for(payment, utcnow())
    _apply_notification(chatshop, sandbox, body, headers)


def _sandbox_page(chatshop: App, token: str) -> HTMLResponse:
    if chatshop.sandbox is None:
        return _not_found()
    with UnitOfWork(chatshop.sessions) as uow:
        found = _payment(uow, token, chatshop.sandbox.name)
        if isinstance(found, HTMLResponse):
            return found
        payment, order = found
        return _page(
            order.language, "sandbox", test_mode=True, number=order.number, amount=_amount(payment)
        )


def _wechat_page(chatshop: App, token: str) -> HTMLResponse:
    """Pay inside WeChat: a JSAPI order for the customer's openid, paid via WeixinJSBridge."""
    provider = chatshop.wechat_jsapi
    if provider is None:
        return _not_found()
    with UnitOfWork(chatshop.sessions) as uow:
        found = _payment(uow, token, provider.name)
        if isinstance(found, HTMLResponse):
            return found
        payment, order = found
        identity = uow.session.get(ChannelIdentity, order.identity_id)
        openid = identity.external_id if identity and identity.channel == "wechat" else ""
        lang, number, pay_by = order.language, order.number, order.pay_by
        page = {"number": number, "amount": _amount(payment)}
    if not openid:
        return _not_found()
    try:
        title = t(lang, "wechat.pay_body", number=number)
        trade = provider.create_jsapi(token, payment.amount, title, openid, pay_by)
    except WeChatPayError as error:
        log.warning("wechat pay page: %s", error)
        return _page(lang, "message", 503, kind="bad", lines=[_t(lang, "unavailable")])
    page["bridge"] = trade.pop("bridge")
    with UnitOfWork(chatshop.sessions) as uow:
        payments.remember_trade(uow.session, token, trade)
        uow.commit()
    return _page(lang, "wechat", heading=_t(lang, "wechat_banner"), **page)


def _payment(uow: UnitOfWork, token: str, provider: str) -> tuple[Payment, Order] | HTMLResponse:
    """The payment behind a pay link, or the page to show instead (gone, paid, not payable)."""
    payment = payments.payment_by_token(uow.session, token)
    order = uow.session.get(Order, payment.order_id) if payment else None
    if payment is None or order is None or payment.provider != provider:
        return _not_found()
    lang, test_mode = order.language, provider == payments.SandboxProvider.name
    if payment.status == PaymentStatus.CAPTURED:
        paid = _t(lang, "paid", number=order.number)
        return _page(lang, "message", test_mode=test_mode, kind="done", lines=[paid])
    if order.status != OrderStatus.PENDING_PAYMENT:
        refused = _t(lang, "not_payable")
        return _page(lang, "message", test_mode=test_mode, kind="bad", lines=[refused])
    return payment, order


def _not_found() -> HTMLResponse:
    lines = [_t("en", "not_found"), _t("zh", "not_found")]
    return _page("en", "message", 404, kind="bad", lines=lines)


def _amount(payment: Payment) -> str:
    return money(payment.amount, payment.currency)


def _t(lang: str, key: str, **params: str) -> str:
    """Page wording from the response files; the templates escape it."""
    return t(lang, f"pay_page.{key}", **params)


def _page(lang: str, name: str, status: int = 200, **context: object) -> HTMLResponse:
    """Render templates/pay/<name>.html in `lang`; `test_mode` adds the sandbox's warning."""
    context = {"test_mode": False, "heading": "", **context}
    text = TEMPLATES.get_template(f"pay/{name}.html").render(
        lang=lang, t=lambda key, **params: _t(lang, key, **params), **context
    )
    return HTMLResponse(text, status_code=status)
