"""Payment pages and notification endpoints: the sandbox's test checkout, the in-WeChat
checkout (WeChat Pay JSAPI), and where providers report that money moved."""

from __future__ import annotations

import html
import json
import logging

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
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

_PAGE = """<!doctype html><html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:420px;margin:2rem auto;padding:0 1rem;color:#222}}
.banner{{background:#fff3cd;border:1px solid #e0c36c;padding:.6rem;border-radius:6px;font-weight:600}}
.amount{{font-size:2rem;margin:1rem 0}} button{{font-size:1.1rem;padding:.7rem 1.4rem;border-radius:6px;
border:0;background:#1a7f37;color:#fff;cursor:pointer}} .done{{color:#1a7f37;font-weight:600}}
.bad{{color:#b42318;font-weight:600}}</style></head><body>
<p class="banner">{banner}</p><h1>{title}</h1>{body}</body></html>"""

# WeChat's in-app browser offers WeixinJSBridge; elsewhere the page says to open it in WeChat.
_BRIDGE = """<script>
document.getElementById("pay").onclick = function () {{
  if (typeof WeixinJSBridge === "undefined") {{ document.getElementById("hint").hidden = false; return; }}
  WeixinJSBridge.invoke("getBrandWCPayRequest", {bridge}, function (res) {{
    if (res.err_msg === "get_brand_wcpay_request:ok") {{ location.reload(); }}
  }});
}};
</script>"""


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
        lang, amount = order.language, _amount(payment)
        body = (
            f"<p>{_t(lang, 'order', number=html.escape(order.number))}</p>"
            f'<p class="amount" id="amount">{amount}</p><form method="post">'
            f'<button id="pay" type="submit">{_t(lang, "pay", amount=amount)}</button></form>'
        )
        return HTMLResponse(_page(lang, body))


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
        lang, amount, number, pay_by = order.language, _amount(payment), order.number, order.pay_by
    if not openid:
        return _not_found()
    try:
        title = t(lang, "wechat.pay_body", number=number)
        trade = provider.create_jsapi(token, payment.amount, title, openid, pay_by)
    except WeChatPayError as error:
        log.warning("wechat pay page: %s", error)
        return HTMLResponse(_page(lang, f'<p class="bad">{_t(lang, "unavailable")}</p>'), 503)
    bridge = trade.pop("bridge")
    with UnitOfWork(chatshop.sessions) as uow:
        payments.remember_trade(uow.session, token, trade)
        uow.commit()
    script = _BRIDGE.format(bridge=json.dumps(bridge).replace("</", "<\\/"))
    body = (
        f"<p>{_t(lang, 'order', number=html.escape(number))}</p>"
        f'<p class="amount" id="amount">{amount}</p>'
        f'<button id="pay" type="button">{_t(lang, "wechat_pay", amount=amount)}</button>'
        f'<p id="hint" hidden>{_t(lang, "open_in_wechat")}</p>{script}'
    )
    return HTMLResponse(_page(lang, body, banner="wechat_banner"))


def _payment(uow: UnitOfWork, token: str, provider: str) -> tuple[Payment, Order] | HTMLResponse:
    """The payment behind a pay link, or the page to show instead (gone, paid, not payable)."""
    payment = payments.payment_by_token(uow.session, token)
    order = uow.session.get(Order, payment.order_id) if payment else None
    if payment is None or order is None or payment.provider != provider:
        return _not_found()
    lang = order.language
    if payment.status == PaymentStatus.CAPTURED:
        number = html.escape(order.number)
        return HTMLResponse(
            _page(lang, f'<p class="done" id="status">{_t(lang, "paid", number=number)}</p>')
        )
    if order.status != OrderStatus.PENDING_PAYMENT:
        return HTMLResponse(
            _page(lang, f'<p class="bad" id="status">{_t(lang, "not_payable")}</p>')
        )
    return payment, order


def _not_found() -> HTMLResponse:
    body = f'<p class="bad">{_t("en", "not_found")}<br>{_t("zh", "not_found")}</p>'
    return HTMLResponse(_page("en", body), status_code=404)


def _amount(payment: Payment) -> str:
    return html.escape(money(payment.amount, payment.currency))


def _t(lang: str, key: str, **params: str) -> str:
    return html.escape(t(lang, f"pay_page.{key}", **params))


def _page(lang: str, body: str, banner: str = "banner") -> str:
    return _PAGE.format(lang=lang, title=_t(lang, "title"), banner=_t(lang, banner), body=body)
