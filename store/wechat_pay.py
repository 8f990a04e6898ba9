"""WeChat Pay v2 (the XML merchant API) as a payment provider, on wechatpy.pay.

wechatpy 1.8 carries the requests (URL, nonce, signing, XML, error codes) but falls short for money:
its `parse_payment_result` checks MD5 only (HMAC-SHA256 notifications never verify) and parses with
xmltodict, so notifications are read here with defusedxml (no DTD, hence no entity expansion) and
checked with their own sign_type in constant time. `order.create` stamps time_start with the
current time (a retried unifiedorder would differ from the first), `query`/`close`/`refund.apply`
cannot pass sign_type, `get_jsapi_params` signs MD5 only and no answer's signature is checked: so
requests go through `WeChatPay.post` with the fields spelled out here, and answers are verified.
`wechatpy.pay.utils` logs the string it signs, ending in `key=<API key>`, at DEBUG: silenced.

Placing an out_trade_no again with the same parameters answers the same prepay_id/code_url (a
retry is safe); with other ones WeChat Pay answers OUT_TRADE_NO_USED (ORDERPAID / ORDERCLOSED once
paid or closed): a WeChatPayError carrying that err_code and the order's trade_state.
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any
from xml.etree.ElementTree import ParseError
from xml.sax.saxutils import escape

import requests
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from sqlalchemy.orm import Session, sessionmaker
from wechatpy.exceptions import WeChatPayException
from wechatpy.pay import WeChatPay
from wechatpy.pay.utils import calculate_signature, calculate_signature_hmac

from store import payments
from store.errors import DomainError, ErrorCode
from store.models import Payment
from store.payments import Notification
from store.uow import UnitOfWork

log = logging.getLogger(__name__)
CHINA = timezone(timedelta(hours=8))  # WeChat Pay's times are Beijing time, without an offset
MAX_BODY = 64 * 1024
SIGNERS = {"MD5": calculate_signature, "HMAC-SHA256": calculate_signature_hmac}
PLACED_BEFORE = ("OUT_TRADE_NO_USED", "ORDERPAID", "ORDERCLOSED")
logging.getLogger("wechatpy.pay.utils").setLevel(logging.INFO)  # its DEBUG line has the API key


class WeChatPayError(Exception):
    """A WeChat Pay call failed: network, protocol (return_code FAIL) or business (err_code)."""

    def __init__(self, message: str, err_code: str = "", trade_state: str = "") -> None:
        super().__init__(message)
        self.err_code, self.trade_state = err_code, trade_state


def sign(fields: Mapping[str, Any], key: str, sign_type: str) -> str:
    """The v2 signature of `fields` (all but `sign`; empty ones skipped), MD5 or HMAC-SHA256."""
    return SIGNERS[sign_type]({k: v for k, v in fields.items() if k != "sign"}, key)


def _get(answer: Mapping[str, Any], name: str) -> str:
    if not answer.get(name):
        raise WeChatPayError(f"the answer has no {name}")
    return str(answer[name])


def _bad(reason: str) -> DomainError:
    return DomainError(ErrorCode.BAD_NOTIFICATION, reason=reason)


def _parse(body: bytes) -> dict[str, str]:
    """The children of <xml> as {tag: text}; a DTD, nesting or a repeated field is malformed."""
    if len(body) > MAX_BODY:
        raise _bad("too_large")
    try:
        root = fromstring(body, forbid_dtd=True)  # refused at the DOCTYPE, before any entity
    except (DefusedXmlException, ParseError, ValueError) as exc:
        raise _bad("malformed") from exc
    fields = {child.tag: child.text or "" for child in root}
    if root.tag != "xml" or len(fields) != len(root) or any(len(child) for child in root):
        raise _bad("malformed")  # a repeated field could mean one thing signed, another read
    return fields


class WeChatPayProvider:
    """WeChat Pay v2: NATIVE (QR code) and JSAPI (inside WeChat) orders, notifications, refunds."""

    def __init__(
        self,
        app_id: str,
        mch_id: str,
        api_key: str,
        api_base_url: str,
        notify_url: str,
        pay_page_base: str,
        sign_type: str = "HMAC-SHA256",
        client_ip: str = "127.0.0.1",
        timeout_s: float = 10.0,
        mch_cert: str | None = None,
        mch_key: str | None = None,
        name: str = "wechatpay",
    ) -> None:
        """`mch_cert`/`mch_key`: the merchant's client certificate files, which real refunds need.
        `name`: one instance per way of paying (QR code in the chat, checkout page inside
        WeChat), since WeChat Pay ties an out_trade_no to one trade type."""
        self.name = name
        if sign_type not in SIGNERS:
            raise ValueError(f"sign_type must be one of {sorted(SIGNERS)}")
        self._app_id, self._mch_id, self._key = app_id, mch_id, api_key
        self._notify_url, self._pay_page_base = notify_url, pay_page_base.rstrip("/")
        self._sign_type, self._client_ip = sign_type, client_ip
        self._client = WeChatPay(
            app_id, api_key, mch_id, mch_cert=mch_cert, mch_key=mch_key, timeout=timeout_s
        )
        self._client.API_BASE_URL = api_base_url.rstrip("/") + "/"  # wechatpy appends paths

    def payment_url(self, payment: Payment) -> str:
        return f"{self._pay_page_base}/pay/wechat/{payment.token}"

    def create_native(
        self, out_trade_no: str, total_fee: int, body: str, product_id: str, expires_at: datetime
    ) -> dict[str, Any]:
        """Place a QR-code order; what to keep in `payment.data`."""
        answer = self._unifiedorder(
            out_trade_no, total_fee, body, expires_at, trade_type="NATIVE", product_id=product_id
        )
        return {
            "code_url": _get(answer, "code_url"),
            "sign_type": self._sign_type,
            "trade_type": "NATIVE",
        }

    def create_jsapi(
        self, out_trade_no: str, total_fee: int, body: str, openid: str, expires_at: datetime
    ) -> dict[str, Any]:
        """Place an in-WeChat order; `bridge` is what WeixinJSBridge getBrandWCPayRequest takes."""
        answer = self._unifiedorder(
            out_trade_no, total_fee, body, expires_at, trade_type="JSAPI", openid=openid
        )
        prepay_id = _get(answer, "prepay_id")
        bridge = {
            "appId": self._app_id,
            "timeStamp": str(int(time.time())),
            "nonceStr": secrets.token_hex(16),
            "package": f"prepay_id={prepay_id}",
            "signType": self._sign_type,  # must match the order's sign type
        }
        bridge["paySign"] = sign(bridge, self._key, self._sign_type)
        return {
            "prepay_id": prepay_id,
            "sign_type": self._sign_type,
            "trade_type": "JSAPI",
            "bridge": bridge,
        }

    def verify(self, body: bytes, headers: Mapping[str, str], now: datetime) -> Notification:
        """A payment notification, checked. WeChat Pay signs the body only and re-sends the same
        notification for up to a day, so there is no freshness to check: handle_notification
        catches a replay by its transaction_id."""
        fields = _parse(body)
        if fields.get("return_code") != "SUCCESS":
            raise _bad("malformed")
        if (fields.get("appid"), fields.get("mch_id")) != (self._app_id, self._mch_id):
            raise _bad("merchant")
        sign_type = fields.get("sign_type") or "MD5"
        if sign_type not in SIGNERS:
            raise _bad("signature")
        expected = sign(fields, self._key, sign_type).encode()
        if not hmac.compare_digest(fields.get("sign", "").encode(), expected):
            raise _bad("signature")
        total_fee, result_code = fields.get("total_fee", ""), fields.get("result_code")
        transaction_id, out_trade_no = fields.get("transaction_id"), fields.get("out_trade_no")
        fee_ok = re.fullmatch(r"\d{1,12}", total_fee)
        if not (transaction_id and out_trade_no and fee_ok and result_code in ("SUCCESS", "FAIL")):
            raise _bad("malformed")
        return Notification(
            notify_id=transaction_id,
            payment_token=out_trade_no,
            provider_ref=transaction_id,
            amount=int(total_fee),
            currency=fields.get("fee_type") or "CNY",
            succeeded=result_code == "SUCCESS",
            sign_type=sign_type,
        )

    def ack(self, ok: bool, message: str = "OK") -> bytes:
        """The answer WeChat Pay expects; anything but SUCCESS makes it notify again later."""
        code = "SUCCESS" if ok else "FAIL"
        return (
            f"<xml><return_code>{code}</return_code>"
            f"<return_msg>{escape(message)}</return_msg></xml>"
        ).encode()

    def close(self, out_trade_no: str) -> str:
        """Close an unpaid order: "closed" (also when it already was, or never reached WeChat
        Pay), or "paid" if too late."""
        try:
            self._call("pay/closeorder", {"out_trade_no": out_trade_no})
        except WeChatPayError as exc:
            if exc.err_code == "ORDERPAID":
                return "paid"
            if exc.err_code not in ("ORDERCLOSED", "ORDERNOTEXIST"):
                raise
        return "closed"

    def refund(
        self,
        out_trade_no: str,
        out_refund_no: str,
        total_fee: int,
        refund_fee: int,
        reason: str = "",
    ) -> str:
        """Refund (part of) a paid order; WeChat's refund_id. Asking again with the same
        out_refund_no refunds once and answers the same refund_id."""
        fields = {
            "out_trade_no": out_trade_no,
            "out_refund_no": out_refund_no,
            "total_fee": total_fee,
            "refund_fee": refund_fee,
            "refund_fee_type": "CNY",
            "refund_desc": reason or None,  # wechatpy leaves out None
        }
        return _get(self._call("secapi/pay/refund", fields), "refund_id")

    def trade_state(self, out_trade_no: str) -> str:
        """The order's trade_state: SUCCESS, NOTPAY, CLOSED, REFUND, USERPAYING, PAYERROR..."""
        return _get(self._call("pay/orderquery", {"out_trade_no": out_trade_no}), "trade_state")

    def _unifiedorder(
        self, out_trade_no: str, total_fee: int, body: str, expires_at: datetime, **more: str
    ) -> dict[str, Any]:
        if expires_at.tzinfo is None:
            raise ValueError("expires_at must be timezone-aware")
        # No time_start (optional; WeChat uses the time it receives the order): a retry then
        # sends exactly the fields of the first attempt.
        fields = {
            "body": body,
            "out_trade_no": out_trade_no,
            "total_fee": total_fee,
            "fee_type": "CNY",
            "spbill_create_ip": self._client_ip,
            "time_expire": expires_at.astimezone(CHINA).strftime("%Y%m%d%H%M%S"),
            "notify_url": self._notify_url,
            **more,
        }
        try:
            return self._call("pay/unifiedorder", fields)
        except WeChatPayError as exc:
            if exc.err_code not in PLACED_BEFORE:
                raise
            try:
                state = self.trade_state(out_trade_no)
            except WeChatPayError:
                state = ""
            message = f"{exc} (order {out_trade_no} has trade_state {state or '?'})"
            raise WeChatPayError(message, exc.err_code, state) from exc

    def _call(self, endpoint: str, fields: dict[str, Any]) -> dict[str, Any]:
        """POST one signed request; the answer, its signature checked."""
        data = {"appid": self._app_id, "sign_type": self._sign_type, **fields}
        try:
            answer = self._client.post(endpoint, data=data)
        except WeChatPayException as exc:
            if exc.return_code is None:  # an HTTP error status
                status = getattr(exc.response, "status_code", "?")
                raise WeChatPayError(f"{endpoint}: HTTP {status}") from exc
            if exc.return_code != "SUCCESS":
                raise WeChatPayError(f"{endpoint}: {exc.return_msg}") from exc
            raise WeChatPayError(f"{endpoint}: {exc.errcode} {exc.errmsg}", exc.errcode) from exc
        except requests.RequestException as exc:
            raise WeChatPayError(f"{endpoint}: {type(exc).__name__}: {exc}") from exc
        if not isinstance(answer, dict):  # wechatpy hands back text it cannot parse
            raise WeChatPayError(f"{endpoint}: the answer is not XML")
        expected = sign(answer, self._key, self._sign_type).encode()
        if not hmac.compare_digest(str(answer.get("sign") or "").encode(), expected):
            raise WeChatPayError(f"{endpoint}: the answer's signature does not verify")
        return answer


def close_abandoned(
    sessions: sessionmaker[Session], providers: dict[str, WeChatPayProvider]
) -> None:
    """Close the trades of orders that were cancelled or paid another way, so the customer
    cannot pay them; a payment never placed at WeChat Pay is simply void."""
    with UnitOfWork(sessions) as uow:
        open_ = [
            (p.token, p.provider, "trade_type" in p.data)
            for p in payments.abandoned(uow.session, list(providers))
        ]
    for token, name, placed in open_:
        try:
            outcome = providers[name].close(token) if placed else "closed"
        except WeChatPayError as error:
            log.warning("could not close a wechat pay trade: %s", error)
            continue
        if outcome == "closed":  # "paid": its notification says what happens to the money
            with UnitOfWork(sessions) as uow:
                payments.mark_closed(uow.session, token)
                uow.commit()


def refund_unapplied(
    sessions: sessionmaker[Session],
    providers: dict[str, WeChatPayProvider],
    reason: Callable[[str], str],
    now: datetime,
) -> None:
    """Give back money that arrived for an order already cancelled (the customer was told it
    would be refunded). `reason(language)` is what WeChat shows the payer; out_refund_no
    makes a retry, or a second worker, refund once."""
    with UnitOfWork(sessions) as uow:
        due = [
            (note.id, payment.token, payment.amount, payment.provider, language)
            for note, payment, language in payments.unapplied(uow.session, list(providers))
        ]
    for note_id, token, amount, name, language in due:
        try:
            providers[name].refund(token, f"R{note_id}", amount, amount, reason(language))
        except WeChatPayError as error:
            log.warning("could not refund a wechat payment: %s", error)
            continue
        with UnitOfWork(sessions) as uow:
            payments.mark_refunded(uow.session, note_id, now)
            uow.commit()
