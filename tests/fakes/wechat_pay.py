"""A local fake of WeChat Pay's v2 (XML) merchant API, as wechatpy.pay calls it.

Point wechatpy at it and act as the paying customer with ``pay.pay(...)``::

    with running_fake_wechat_pay() as fake:
        client = WeChatPay(fake.app_id, fake.api_key, fake.mch_id)
        client.API_BASE_URL = fake.api_base_url   # "http://127.0.0.1:PORT/" (trailing slash)
        order = client.order.create("NATIVE", "T-shirt", 9900, "http://shop/notify",
                                    client_ip="127.0.0.1", out_trade_no="A1", product_id="TEE")
        order["code_url"]                          # weixin://wxpay/bizpayurl?pr=...
        fake.pay("A1")                             # the payment notification, with retries

wechatpy builds every URL from ``WeChatPay.API_BASE_URL`` (a class attribute; set it on the
instance), adding ``sandboxnew/`` when ``sandbox=True`` (the fake serves that prefix too, with
``/sandboxnew/pay/getsignkey`` and requests signed with the sandbox key). wechatpy ignores it only
for ``transfer.get_rsa_key`` (https://fraud.mch.weixin.qq.com) and, when ``client_ip`` is not
given, ``order.create`` resolves api.mch.weixin.qq.com to find the local IP: pass ``client_ip``.

Implemented as documented on pay.weixin.qq.com (v2): ``/pay/unifiedorder`` (JSAPI → prepay_id,
NATIVE → code_url, also APP/MWEB), ``/pay/orderquery``, ``/pay/closeorder``,
``/secapi/pay/refund``, ``/pay/refundquery``; request signatures (MD5 or HMAC-SHA256, by
``sign_type``) are verified, answers signed the same way. Errors as WeChat Pay gives them: protocol
problems (XML, signature, missing or malformed parameters) as return_code FAIL + return_msg;
business ones as result_code FAIL + err_code / err_code_des (ORDERPAID, ORDERCLOSED,
OUT_TRADE_NO_USED, ORDERNOTEXIST, REFUNDNOTEXIST, ...).

``pay.pay(out_trade_no)`` marks the order paid and POSTs the signed notification to its notify_url,
retrying (``notify_retry_delays``) until the merchant answers return_code SUCCESS.
``notification()`` builds one (wrong signature, wrong amount, ...), ``send_notification()`` posts
one, ``resend()`` re-sends the last one N times, ``notify_refund()`` posts the encrypted refund
notification. Every call is in ``pay.calls``, every order in ``pay.orders``, every notification
attempt in ``pay.notify_attempts``.

Deliberate deviations:
- ``/secapi/pay/refund`` needs no client certificate (WeChat Pay requires the merchant's TLS client
  certificate); the fake serves plain HTTP.
- Refunds succeed at once (no PROCESSING state); orders do not expire (time_expire is recorded,
  not enforced); an order can be closed right after creation (WeChat wants 5 minutes).
- The notification retry schedule is ``notify_retry_delays`` (WeChat: 15 s, 15 s, 30 s, 3 min, ...
  over 24 h) and the notification always carries ``sign_type``.
- ``err_code_des`` wording for NATIVE without product_id and JSAPI without openid is the fake's.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import itertools
import re
import secrets
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.fakes.common import BAD_GATEWAY_PAGE, ThreadClients, serving, xml_root

CHINA = timezone(timedelta(hours=8))
TRADE_TYPES = {"JSAPI", "NATIVE", "APP", "MWEB"}
TRADE_STATE_DESC = {
    "NOTPAY": "订单未支付",
    "SUCCESS": "支付成功",
    "CLOSED": "订单已关闭",
    "REFUND": "转入退款",
}
ERR_CODE_DES = {
    "ORDERPAID": "该订单已支付",
    "ORDERCLOSED": "该订单已关闭",
    "OUT_TRADE_NO_USED": "商户订单号重复",
    "ORDERNOTEXIST": "订单不存在",
    "REFUNDNOTEXIST": "not exist",
    "SYSTEMERROR": "系统超时",
    "PARAM_ERROR": "参数错误",
    "INVALID_REQUEST": "订单金额或退款金额与之前请求不一致，请核实后再试",
    "NOTENOUGH": "基本账户余额不足，请充值后重新发起",
    "ERROR": "累计退款金额大于支付金额",
    "TRADE_STATE_ERROR": "订单状态错误",
}


# --- the documented algorithms ------------------------------------------------------------------


def pay_signature(params: dict[str, Any], key: str, sign_type: str = "MD5") -> str:
    """WeChat Pay v2 signature: non-empty parameters except ``sign``, sorted by name, as
    ``k=v&...&key=API_KEY``; MD5, or HMAC-SHA256 keyed with the API key; upper-case hex."""
    pairs = sorted((k, str(v)) for k, v in params.items() if k != "sign" and v not in ("", None))
    text = ("&".join(f"{k}={v}" for k, v in pairs) + f"&key={key}").encode()
    if sign_type == "HMAC-SHA256":
        return hmac.new(key.encode(), text, hashlib.sha256).hexdigest().upper()
    return hashlib.md5(text).hexdigest().upper()


def to_xml(fields: dict[str, Any], root: str = "xml") -> str:
    """Flat XML as WeChat Pay writes it: numbers bare, text in CDATA."""
    parts = []
    for k, v in fields.items():
        if v is None:
            continue
        text = str(v)
        if isinstance(v, int) and not isinstance(v, bool):
            parts.append(f"<{k}>{text}</{k}>")
        else:
            parts.append(f"<{k}><![CDATA[{text.replace(']]>', ']]]]><![CDATA[>')}]]></{k}>")
    return f"<{root}>" + "".join(parts) + f"</{root}>"


def from_xml(data: bytes | str) -> dict[str, str]:
    """The children of the root element as {tag: text}; ValueError for anything else (DTDs
    included: WeChat Pay refuses them)."""
    return {child.tag: (child.text or "") for child in xml_root(data)}


def refund_encrypt(plain: str, api_key: str) -> str:
    """req_info of a refund notification: AES-256-ECB keyed with md5(API key) in lower-case hex,
    PKCS#7, base64."""
    key = hashlib.md5(api_key.encode()).hexdigest().encode()
    data = plain.encode()
    pad = 16 - len(data) % 16
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return base64.b64encode(
        encryptor.update(data + bytes([pad]) * pad) + encryptor.finalize()
    ).decode()


def _nonce() -> str:
    return secrets.token_hex(16)


def _china_time(at: float) -> str:
    return datetime.fromtimestamp(at, CHINA).strftime("%Y%m%d%H%M%S")


# --- recorded state ---------------------------------------------------------------------------


class PayError(Exception):
    """return_code FAIL (protocol) when err_code is None, else result_code FAIL (business)."""

    def __init__(self, message: str, err_code: str | None = None) -> None:
        super().__init__(message)
        self.message, self.err_code = message, err_code


@dataclass
class PayCall:
    path: str  # "/pay/unifiedorder" (without the sandboxnew/ prefix)
    params: dict  # the request fields
    at: float  # time.monotonic()
    return_code: str
    return_msg: str
    result_code: str | None = None
    err_code: str | None = None
    sandbox: bool = False
    status: int = 200


@dataclass
class Refund:
    out_refund_no: str
    refund_id: str
    refund_fee: int
    total_fee: int
    notify_url: str | None
    status: str = "SUCCESS"
    success_time: str = ""


@dataclass
class Order:
    out_trade_no: str
    params: dict  # the unifiedorder request
    trade_type: str
    total_fee: int
    notify_url: str
    sign_type: str
    sandbox: bool
    prepay_id: str
    code_url: str | None
    trade_state: str = "NOTPAY"
    transaction_id: str | None = None
    paid_fee: int | None = None
    time_end: str | None = None
    payer_openid: str | None = None
    notification: bytes | None = None  # the last notification made by pay()
    refunds: list[Refund] = field(default_factory=list)


@dataclass
class NotifyAttempt:
    out_trade_no: str
    attempt: int
    status: int | None  # HTTP status; None on a timeout / connection error
    answer: bytes
    acknowledged: bool  # the merchant answered return_code SUCCESS
    elapsed: float
    xml: bytes
    error: str | None = None


@dataclass
class Notification:
    out_trade_no: str
    xml: bytes
    attempts: list[NotifyAttempt]

    @property
    def acknowledged(self) -> bool:
        return any(a.acknowledged for a in self.attempts)


@dataclass
class _Fault:
    path: str
    err_code: str | None
    http_status: int | None


# --- the server -------------------------------------------------------------------------------


class FakeWeChatPay:
    def __init__(
        self,
        mch_id: str = "1900000109",
        api_key: str = "192006250b4c09247ec02edce69f6a2d",
        app_id: str = "wx1234567890abcdef",
        *,
        notify_retry_delays: tuple[float, ...] = (0.05, 0.1, 0.2),
        notify_timeout_s: float = 5.0,
        payer_openid: str = "oPAYER000000000000000000001",
    ) -> None:
        self.mch_id, self.api_key, self.app_id = mch_id, api_key, app_id
        self.sandbox_key = hashlib.md5(f"{api_key}:sandbox".encode()).hexdigest()
        self.notify_retry_delays = notify_retry_delays
        self.notify_timeout_s = notify_timeout_s
        self.payer_openid = payer_openid
        self.url: str | None = None

        self.lock = threading.Lock()
        self._closing = threading.Event()
        self.calls: list[PayCall] = []
        self.orders: dict[str, Order] = {}
        self.notify_attempts: list[NotifyAttempt] = []
        self._faults: list[_Fault] = []
        self._ids = itertools.count(1)
        self._clients = ThreadClients()
        self._handlers: dict[str, Callable[[dict, bool], dict]] = {
            "/pay/unifiedorder": self._unifiedorder,
            "/pay/orderquery": self._orderquery,
            "/pay/closeorder": self._closeorder,
            "/secapi/pay/refund": self._refund,
            "/pay/refundquery": self._refundquery,
        }
        self.app = Starlette(
            routes=[
                Route("/sandboxnew/pay/getsignkey", self._getsignkey, methods=["POST"]),
                Route("/{path:path}", self._endpoint, methods=["POST"]),
            ]
        )

    # --- test-facing API ---

    @property
    def api_base_url(self) -> str:
        """The value for ``WeChatPay.API_BASE_URL`` (note the trailing slash)."""
        assert self.url, "the fake is not running (use running_fake_wechat_pay)"
        return f"{self.url}/"

    def key_for(self, sandbox: bool) -> str:
        return self.sandbox_key if sandbox else self.api_key

    def fail_next(
        self, path: str, err_code: str | None = "SYSTEMERROR", *, http_status: int | None = None
    ) -> None:
        """The next call of `path` ("/pay/unifiedorder", ...) fails without being performed:
        result_code FAIL with this err_code, or an HTTP error page (``http_status=502``)."""
        if path not in self._handlers:
            raise ValueError(f"unknown path {path!r}")
        with self.lock:
            self._faults.append(_Fault(path, None if http_status else err_code, http_status))

    def order(self, out_trade_no: str) -> Order:
        """A snapshot of the order."""
        with self.lock:
            return copy.deepcopy(self._known(out_trade_no))

    def _known(self, out_trade_no: str) -> Order:
        assert out_trade_no in self.orders, f"no order {out_trade_no!r}; {sorted(self.orders)}"
        return self.orders[out_trade_no]

    def notification(
        self,
        out_trade_no: str,
        *,
        total_fee: int | None = None,
        bad_signature: bool = False,
        result_code: str = "SUCCESS",
        sign_type: str | None = None,
    ) -> bytes:
        """The payment notification XML for this order, as pay() sends it (it does not change the
        order): with another total_fee/cash_fee, a forged signature, result_code FAIL, or another
        sign_type."""
        with self.lock:
            order = self._known(out_trade_no)
            return self._notification(order, total_fee, bad_signature, result_code, sign_type)

    def pay(
        self, out_trade_no: str, total_fee: int | None = None, *, deliver: bool = True
    ) -> Notification | bytes:
        """The customer pays the order (total_fee: another amount than ordered); the notification
        is POSTed to the order's notify_url and retried until acknowledged. With deliver=False
        only the notification XML is returned."""
        with self.lock:
            order = self._known(out_trade_no)
            assert order.trade_state == "NOTPAY", f"order {out_trade_no} is {order.trade_state}"
            n = next(self._ids)
            order.trade_state = "SUCCESS"
            order.paid_fee = order.total_fee if total_fee is None else total_fee
            order.transaction_id = f"4200{_china_time(time.time())[:8]}{n:016d}"
            order.time_end = _china_time(time.time())
            order.payer_openid = order.params.get("openid") or self.payer_openid
            order.notification = self._notification(order, None, False, "SUCCESS", None)
            xml = order.notification
        if not deliver:
            return xml
        return self.send_notification(out_trade_no, xml)

    def send_notification(
        self, out_trade_no: str, xml: bytes, *, retry: bool = True, url: str | None = None
    ) -> Notification:
        """POST this notification to the order's notify_url (or `url`), retrying on a non-SUCCESS
        answer when `retry`."""
        with self.lock:
            target = url or self._known(out_trade_no).notify_url
        delays = (0.0, *self.notify_retry_delays) if retry else (0.0,)
        attempts = []
        for n, delay in enumerate(delays, 1):
            if delay and self._closing.wait(delay):
                break
            attempt = self._post(target, out_trade_no, n, xml)
            attempts.append(attempt)
            if attempt.acknowledged:
                break
        return Notification(out_trade_no, xml, attempts)

    def resend(self, out_trade_no: str, times: int = 5) -> list[NotifyAttempt]:
        """Send the order's last notification again `times` times, whatever the answers (WeChat
        does re-send notifications, so they must be idempotent)."""
        with self.lock:
            order = self._known(out_trade_no)
            assert order.notification, f"order {out_trade_no} was not paid with pay()"
            xml, target = order.notification, order.notify_url
        return [self._post(target, out_trade_no, n, xml) for n in range(1, times + 1)]

    def refund_notification(self, out_refund_no: str) -> tuple[str, bytes]:
        """(notify_url, XML) of the refund notification: req_info encrypted as documented."""
        with self.lock:
            for order in self.orders.values():
                refund = next((r for r in order.refunds if r.out_refund_no == out_refund_no), None)
                if refund:
                    break
            else:
                raise AssertionError(f"no refund {out_refund_no!r}")
            assert refund.notify_url, "the refund was requested without notify_url"
            info = {
                "transaction_id": order.transaction_id, "out_trade_no": order.out_trade_no,
                "refund_id": refund.refund_id, "out_refund_no": refund.out_refund_no,
                "total_fee": order.paid_fee, "settlement_total_fee": order.paid_fee,
                "refund_fee": refund.refund_fee, "settlement_refund_fee": refund.refund_fee,
                "refund_status": refund.status, "success_time": refund.success_time,
                "refund_recv_accout": "支付用户零钱", "refund_account": "REFUND_SOURCE_RECHARGE_FUNDS",
                "refund_request_source": "API",
            }  # fmt: skip
            req_info = refund_encrypt(to_xml(info, root="root"), self.key_for(order.sandbox))
            outer = {"return_code": "SUCCESS", "appid": self.app_id, "mch_id": self.mch_id,
                     "nonce_str": _nonce(), "req_info": req_info}  # fmt: skip
            return refund.notify_url, to_xml(outer).encode()

    def notify_refund(self, out_refund_no: str) -> Notification:
        url, xml = self.refund_notification(out_refund_no)
        return self.send_notification(out_refund_no, xml, url=url)

    def close(self) -> None:
        self._closing.set()
        self._clients.close()

    def _http(self) -> httpx.Client:
        return self._clients.get()

    # --- notifications ---

    def _notification(
        self,
        order: Order,
        total_fee: int | None,
        bad_signature: bool,
        result_code: str,
        sign_type: str | None,
    ) -> bytes:
        fee = total_fee if total_fee is not None else (order.paid_fee or order.total_fee)
        sign_type = sign_type or order.sign_type
        fields: dict[str, Any] = {
            "appid": self.app_id, "mch_id": self.mch_id, "nonce_str": _nonce(),
            "sign_type": sign_type, "result_code": result_code, "return_code": "SUCCESS",
            "openid": order.payer_openid or order.params.get("openid") or self.payer_openid,
            "is_subscribe": "N", "trade_type": order.trade_type, "bank_type": "OTHERS",
            "total_fee": fee, "fee_type": "CNY", "cash_fee": fee,
            "transaction_id": order.transaction_id or f"4200{next(self._ids):024d}",
            "out_trade_no": order.out_trade_no,
            "time_end": order.time_end or _china_time(time.time()),
        }  # fmt: skip
        if order.params.get("attach"):
            fields["attach"] = order.params["attach"]
        if result_code != "SUCCESS":
            fields |= {"err_code": "SYSTEMERROR", "err_code_des": "支付失败"}
        key = self.key_for(order.sandbox)
        fields["sign"] = pay_signature(fields, key, sign_type)
        if bad_signature:
            fields["sign"] = pay_signature(fields | {"nonce_str": "forged"}, key, sign_type)
        return to_xml(fields).encode()

    def _post(self, url: str, out_trade_no: str, n: int, xml: bytes) -> NotifyAttempt:
        started = time.monotonic()
        status, answer, error, acknowledged = None, b"", None, False
        try:
            response = self._http().post(
                url,
                content=xml,
                headers={"Content-Type": "text/xml"},
                timeout=self.notify_timeout_s,
            )
            status, answer = response.status_code, response.content
            if status == 200:
                try:
                    acknowledged = from_xml(answer).get("return_code") == "SUCCESS"
                except ValueError as e:
                    error = f"the answer is not XML: {e}"
            else:
                error = f"HTTP {status}"
        except httpx.HTTPError as e:
            error = repr(e)
        elapsed = time.monotonic() - started
        attempt = NotifyAttempt(out_trade_no, n, status, answer, acknowledged, elapsed, xml, error)
        with self.lock:
            self.notify_attempts.append(attempt)
        return attempt

    # --- HTTP ---

    def _record(self, path: str, params: dict, return_code: str, return_msg: str,
                result_code: str | None = None, err_code: str | None = None,
                sandbox: bool = False, status: int = 200) -> None:  # fmt: skip
        self.calls.append(PayCall(path, params, time.monotonic(), return_code, return_msg,
                                  result_code, err_code, sandbox, status))  # fmt: skip

    def _fail(self, path: str, params: dict, message: str, sandbox: bool) -> Response:
        """return_code FAIL: unsigned, as WeChat Pay answers protocol errors (lock held)."""
        self._record(path, params, "FAIL", message, sandbox=sandbox)
        fields = {"return_code": "FAIL", "return_msg": message}
        return Response(to_xml(fields), media_type="text/xml")

    async def _getsignkey(self, request: Request) -> Response:
        body = await request.body()
        path = "/pay/getsignkey"
        with self.lock:
            try:
                params = from_xml(body)
            except (ValueError, UnicodeDecodeError):
                params = {}
            valid = params.get("sign") == pay_signature(params, self.api_key)
            if params.get("mch_id") != self.mch_id or not valid:
                return self._fail(path, params, "签名错误", sandbox=True)
            self._record(path, params, "SUCCESS", "ok", sandbox=True)
        fields = {"return_code": "SUCCESS", "return_msg": "ok", "mch_id": self.mch_id,
                  "sandbox_signkey": self.sandbox_key}  # fmt: skip
        return Response(to_xml(fields), media_type="text/xml")

    async def _endpoint(self, request: Request) -> Response:
        raw_path = "/" + request.path_params["path"]
        sandbox = raw_path.startswith("/sandboxnew/")
        path = raw_path.removeprefix("/sandboxnew")
        body = await request.body()
        with self.lock:
            if path not in self._handlers:
                self._record(path, {}, "FAIL", "not found", sandbox=sandbox, status=404)
                return Response("Not Found", status_code=404)
            fault = next((f for f in self._faults if f.path == path), None)
            if fault:
                self._faults.remove(fault)
            try:
                params = self._check_request(body, sandbox)
            except PayError as e:
                return self._fail(path, {}, e.message, sandbox)
            if fault and fault.http_status:
                self._record(path, params, "FAIL", "injected", sandbox=sandbox,
                             status=fault.http_status)  # fmt: skip
                page = BAD_GATEWAY_PAGE.replace("502", str(fault.http_status))
                return Response(page, status_code=fault.http_status, media_type="text/html")
            try:
                if fault:
                    code = fault.err_code or "SYSTEMERROR"
                    raise PayError(ERR_CODE_DES.get(code, "injected"), code)
                result = {"result_code": "SUCCESS"} | self._handlers[path](params, sandbox)
            except PayError as e:
                if e.err_code is None:
                    return self._fail(path, params, e.message, sandbox)
                result = {"result_code": "FAIL", "err_code": e.err_code,
                          "err_code_des": e.message}  # fmt: skip
            self._record(path, params, "SUCCESS", "OK", result["result_code"],
                         result.get("err_code"), sandbox)  # fmt: skip
        fields = {"return_code": "SUCCESS", "return_msg": "OK", "appid": self.app_id,
                  "mch_id": self.mch_id, "nonce_str": _nonce()} | result  # fmt: skip
        sign_type = params.get("sign_type") or "MD5"
        fields["sign"] = pay_signature(fields, self.key_for(sandbox), sign_type)
        return Response(to_xml(fields), media_type="text/xml")

    def _check_request(self, body: bytes, sandbox: bool) -> dict[str, str]:
        if not body:
            raise PayError("post数据为空")
        try:
            params = from_xml(body)
        except (ValueError, UnicodeDecodeError) as e:
            raise PayError("XML格式错误") from e
        if not params.get("mch_id") or not params.get("nonce_str") or not params.get("sign"):
            raise PayError("缺少参数")
        if params["mch_id"] != self.mch_id:
            raise PayError("mch_id参数格式错误")
        if params.get("appid") and params["appid"] != self.app_id:
            raise PayError("appid和mch_id不匹配")
        sign_type = params.get("sign_type") or "MD5"
        if sign_type not in ("MD5", "HMAC-SHA256"):
            raise PayError("sign_type参数格式错误")
        if len(params["nonce_str"]) > 32:
            raise PayError("nonce_str参数长度有误")
        if not hmac.compare_digest(
            params["sign"], pay_signature(params, self.key_for(sandbox), sign_type)
        ):
            raise PayError("签名错误")
        return params

    def _order(self, out_trade_no: str | None, transaction_id: str | None = None) -> Order:
        """The order (lock held), by transaction_id first, as WeChat Pay looks them up."""
        if transaction_id:
            found = next(
                (o for o in self.orders.values() if o.transaction_id == transaction_id), None
            )
        else:
            found = self.orders.get(out_trade_no or "")
        if found is None:
            raise PayError(ERR_CODE_DES["ORDERNOTEXIST"], "ORDERNOTEXIST")
        return found

    # --- the API ---

    def _unifiedorder(self, p: dict, sandbox: bool) -> dict:
        required = (
            "appid",
            "body",
            "out_trade_no",
            "total_fee",
            "spbill_create_ip",
            "notify_url",
            "trade_type",
        )
        if any(not p.get(name) for name in required):
            raise PayError("缺少参数")
        if not re.fullmatch(r"[1-9]\d{0,9}", p["total_fee"]):
            raise PayError("invalid total_fee")
        if not re.fullmatch(r"[A-Za-z0-9_\-|*@]{1,32}", p["out_trade_no"]):
            raise PayError("invalid out_trade_no")
        url = urlsplit(p["notify_url"])
        if url.scheme not in ("http", "https") or not url.hostname or len(p["notify_url"]) > 256:
            raise PayError("invalid notify_url")
        if p["trade_type"] not in TRADE_TYPES:
            raise PayError("invalid trade_type")
        if len(p["body"].encode()) > 128:
            raise PayError("invalid body")
        if p.get("fee_type", "CNY") != "CNY":
            raise PayError("invalid fee_type")
        if p["trade_type"] == "JSAPI" and not p.get("openid"):
            raise PayError("JSAPI支付必须传openid", "PARAM_ERROR")
        if p["trade_type"] == "NATIVE" and not p.get("product_id"):
            raise PayError("NATIVE支付必须传product_id", "PARAM_ERROR")
        existing = self.orders.get(p["out_trade_no"])
        if existing:
            if existing.trade_state in ("SUCCESS", "REFUND"):
                raise PayError(ERR_CODE_DES["ORDERPAID"], "ORDERPAID")
            if existing.trade_state == "CLOSED":
                raise PayError(ERR_CODE_DES["ORDERCLOSED"], "ORDERCLOSED")
            same = ("body", "total_fee", "trade_type", "openid", "notify_url", "product_id")
            if any(existing.params.get(k) != p.get(k) for k in same):
                raise PayError(ERR_CODE_DES["OUT_TRADE_NO_USED"], "OUT_TRADE_NO_USED")
            order = existing
        else:
            n = next(self._ids)
            code_url = f"weixin://wxpay/bizpayurl?pr={secrets.token_urlsafe(6)[:7]}"
            order = Order(
                p["out_trade_no"],
                dict(p),
                p["trade_type"],
                int(p["total_fee"]),
                p["notify_url"],
                p.get("sign_type") or "MD5",
                sandbox,
                prepay_id=f"wx{_china_time(time.time())}{n:06d}{secrets.token_hex(6)}",
                code_url=code_url if p["trade_type"] == "NATIVE" else None,
            )
            self.orders[order.out_trade_no] = order
        result = {"trade_type": order.trade_type, "prepay_id": order.prepay_id}
        if order.code_url:
            result["code_url"] = order.code_url
        if order.trade_type == "MWEB":
            result["mweb_url"] = (
                f"https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id={order.prepay_id}"
            )
        return result

    def _order_fields(self, order: Order) -> dict:
        fields: dict[str, Any] = {
            "out_trade_no": order.out_trade_no, "trade_type": order.trade_type,
            "trade_state": order.trade_state,
            "trade_state_desc": TRADE_STATE_DESC[order.trade_state],
            "total_fee": order.total_fee, "fee_type": "CNY",
        }  # fmt: skip
        if order.params.get("attach"):
            fields["attach"] = order.params["attach"]
        if order.transaction_id:
            fields |= {
                "transaction_id": order.transaction_id, "openid": order.payer_openid,
                "is_subscribe": "N", "bank_type": "OTHERS", "total_fee": order.paid_fee,
                "cash_fee": order.paid_fee, "time_end": order.time_end,
            }  # fmt: skip
        return fields

    def _orderquery(self, p: dict, sandbox: bool) -> dict:
        if not p.get("transaction_id") and not p.get("out_trade_no"):
            raise PayError("缺少参数")
        return self._order_fields(self._order(p.get("out_trade_no"), p.get("transaction_id")))

    def _closeorder(self, p: dict, sandbox: bool) -> dict:
        if not p.get("out_trade_no"):
            raise PayError("缺少参数")
        order = self._order(p["out_trade_no"])
        if order.trade_state in ("SUCCESS", "REFUND"):
            raise PayError("订单已支付，不能发起关单", "ORDERPAID")
        if order.trade_state == "CLOSED":
            raise PayError(ERR_CODE_DES["ORDERCLOSED"], "ORDERCLOSED")
        order.trade_state = "CLOSED"
        return {}

    def _refund(self, p: dict, sandbox: bool) -> dict:
        if not p.get("transaction_id") and not p.get("out_trade_no"):
            raise PayError("缺少参数")
        if any(not p.get(k) for k in ("out_refund_no", "total_fee", "refund_fee")):
            raise PayError("缺少参数")
        for name in ("total_fee", "refund_fee"):
            if not re.fullmatch(r"[1-9]\d{0,9}", p[name]):
                raise PayError(f"invalid {name}")
        order = self._order(p.get("out_trade_no"), p.get("transaction_id"))
        if order.trade_state not in ("SUCCESS", "REFUND") or order.paid_fee is None:
            raise PayError(ERR_CODE_DES["TRADE_STATE_ERROR"], "TRADE_STATE_ERROR")
        total, fee = int(p["total_fee"]), int(p["refund_fee"])
        refund = next((r for r in order.refunds if r.out_refund_no == p["out_refund_no"]), None)
        if refund is None:
            if total != order.paid_fee:
                raise PayError(ERR_CODE_DES["INVALID_REQUEST"], "INVALID_REQUEST")
            if fee + sum(r.refund_fee for r in order.refunds) > order.paid_fee:
                raise PayError(ERR_CODE_DES["ERROR"], "ERROR")
            refund = Refund(
                p["out_refund_no"],
                f"50000{next(self._ids):024d}",
                fee,
                total,
                p.get("notify_url") or None,
                success_time=datetime.now(CHINA).strftime("%Y-%m-%d %H:%M:%S"),
            )
            order.refunds.append(refund)
            order.trade_state = "REFUND"
        elif (refund.refund_fee, refund.total_fee) != (fee, total):
            raise PayError(ERR_CODE_DES["INVALID_REQUEST"], "INVALID_REQUEST")
        return {
            "transaction_id": order.transaction_id, "out_trade_no": order.out_trade_no,
            "out_refund_no": refund.out_refund_no, "refund_id": refund.refund_id,
            "refund_fee": refund.refund_fee, "total_fee": order.paid_fee,
            "cash_fee": order.paid_fee,
        }  # fmt: skip

    def _refundquery(self, p: dict, sandbox: bool) -> dict:
        keys = ("refund_id", "out_refund_no", "transaction_id", "out_trade_no")
        if not any(p.get(k) for k in keys):
            raise PayError("缺少参数")
        for order in self.orders.values():
            refunds = [
                r for r in order.refunds
                if p.get("refund_id") in (None, "", r.refund_id)
                and p.get("out_refund_no") in (None, "", r.out_refund_no)
            ]  # fmt: skip
            if (
                refunds
                and p.get("out_trade_no") in (None, "", order.out_trade_no)
                and p.get("transaction_id") in (None, "", order.transaction_id)
            ):
                break
        else:
            raise PayError(ERR_CODE_DES["REFUNDNOTEXIST"], "REFUNDNOTEXIST")
        fields: dict[str, Any] = {
            "transaction_id": order.transaction_id, "out_trade_no": order.out_trade_no,
            "total_fee": order.paid_fee, "cash_fee": order.paid_fee,
            "refund_count": len(refunds),
        }  # fmt: skip
        for i, r in enumerate(refunds):
            fields |= {
                f"out_refund_no_{i}": r.out_refund_no, f"refund_id_{i}": r.refund_id,
                f"refund_fee_{i}": r.refund_fee, f"refund_status_{i}": r.status,
                f"refund_recv_accout_{i}": "支付用户零钱",
                f"refund_success_time_{i}": r.success_time,
            }  # fmt: skip
        return fields


def running_fake_wechat_pay(
    port: int | None = None, **kw: Any
) -> AbstractContextManager[FakeWeChatPay]:
    """A FakeWeChatPay served on 127.0.0.1 for the block; ``fake.url`` is its base URL."""
    return serving(FakeWeChatPay(**kw), port)
