"""Hostile and careless inputs for every HTTP surface, drawn from a `random.Random`.

The same generators feed the Hypothesis tests (which hand them a Random they control, so a
failure shrinks to a small example) and `bench/fuzz.py` (a seeded Random, 100,000 inputs per
surface against a live server)."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field

ACTIONS = (
    "start", "help", "detail", "pick", "variant", "add", "view_cart", "qty", "rm", "clear",
    "checkout", "addr", "form", "confirm", "cancel_checkout", "orders", "order", "pay",
    "cancel", "keep", "more", "page", "sort", "cat", "lang", "browse_categories", "nonsense",
)  # fmt: skip
ARG_NAMES = ("p", "sku", "qty", "q", "n", "id", "ok", "c", "by", "to", "lang", "x")
NUMBERISH = (
    "1", "2", "0", "-1", "99", "100", "2.5", "1e3", "1e400", "inf", "-inf", "nan", "²", "١٢",
    "2147483648", "9223372036854775808", "99999999999999999999999", "", " ", "0x10", "１",
)  # fmt: skip
PHRASES = (
    "有没有红色的T恤", "来两件M码的", "去结算", "我的订单", "取消订单", "付款", "王小明",
    "139 1234 5678", "北京市朝阳区建国路88号3号楼1201", "red t-shirt", "running shoes under 500",
    "checkout please", "my cart", "yes", "no", "2", "two", "0件", "-1件", "10亿件", "1e400件",
    "inf", "CS100001", "CS2611297KQ4M", "where is my order", "转人工", "😂😂👍", "",
)  # fmt: skip
WEIRD = ("\x00", "\ud800", "\udfff", "\u202e", "\ufeff", "\u0000\u0000", "\x7f", "\r\n", "'\"<>&")


@dataclass
class Request:
    method: str
    path: str
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)


def text(r: random.Random) -> str:
    """What a customer (or a fuzzer) might type."""
    kind = r.random()
    if kind < 0.4:
        return r.choice(PHRASES)
    if kind < 0.6:
        return r.choice(PHRASES) + r.choice(WEIRD) + r.choice(PHRASES)
    if kind < 0.9:
        return "".join(chr(_codepoint(r)) for _ in range(r.randint(0, 40)))
    return r.choice(PHRASES) * r.randint(50, 400)  # too long, and then some


def _codepoint(r: random.Random) -> int:
    ranges = [(0, 0x7F), (0x4E00, 0x9FFF), (0xD800, 0xDFFF), (0, 0x10FFFF), (0x1F300, 0x1FAFF)]
    return r.randint(*r.choice(ranges))


def payload(r: random.Random) -> str:
    """A button press, real or invented."""
    args = {r.choice(ARG_NAMES): _arg(r) for _ in range(r.randint(0, 3))}
    action = r.choice(ACTIONS)
    if r.random() < 0.1:
        return text(r)[:200]
    query = "&".join(f"{k}={v}" for k, v in args.items())  # raw: quoting is optional too
    return f"{action}?{query}" if args else action


def _arg(r: random.Random) -> str:
    return r.choice(NUMBERISH) if r.random() < 0.7 else text(r)[:40]


def json_value(r: random.Random, depth: int = 0) -> object:
    """Any JSON value, to put where a field of another type belongs."""
    kinds = [None, True, r.randint(-(2**70), 2**70), r.random() * 1e308, text(r)]
    if depth < 2:
        kinds += [[json_value(r, depth + 1)], {text(r)[:10]: json_value(r, depth + 1)}]
    return r.choice(kinds)


def raw_body(r: random.Random) -> tuple[bytes, str]:
    """A body that is not what the endpoint reads, with some content type."""
    body = r.choice(
        [
            bytes(r.randint(0, 255) for _ in range(r.randint(0, 200))),
            b"\xff\xfe\xfa" + text(r).encode("utf-8", "surrogatepass"),
            b'{"client_id": "a", "text": "\xc3\x28"}',
            b"not json",
            b"",
            b"[" * r.randint(1, 5000),
        ]
    )
    kind = r.choice(["application/json", "text/plain", "", "application/x-www-form-urlencoded"])
    return body, kind


def chat_message(r: random.Random) -> Request:
    """POST /chat/api/messages: mostly well-formed, sometimes not at all."""
    roll = r.random()
    if roll < 0.15:
        body, kind = raw_body(r)
        return Request("POST", "/chat/api/messages", body, {"content-type": kind} if kind else {})
    message: dict[str, object] = {"client_id": _client_id(r)}
    if r.random() < 0.7:
        message["text"] = text(r)
    if r.random() < 0.5:
        message["payload"] = payload(r)
    if roll < 0.3:
        message[r.choice(["client_id", "text", "payload", "session"])] = json_value(r)
    return Request("POST", "/chat/api/messages", _json(message), _JSON)


def chat_history(r: random.Random) -> Request:
    after = r.choice([*NUMBERISH, str(r.randint(-(2**70), 2**70)), _xml_text(r)[:20]])
    return Request("GET", "/chat/api/messages", params={"after": after})


def sandbox_notification(r: random.Random, tokens: list[str], now: int) -> bytes:
    """A notification body the sandbox gateway might sign: fields of every shape and size."""
    body: dict[str, object] = {
        "notify_id": r.choice([r.randbytes(8).hex(), "x" * r.randint(100, 300), "\x00id"]),
        "payment_token": r.choice([*tokens, "", "t" * 65, "\x00"]) if tokens else "nope",
        "txn_id": r.choice(["sbx_1", "y" * r.randint(120, 200), ""]),
        "amount": r.choice([r.randint(-5, 10**6), 2**63, 10**30, 1.5, "100"]),
        "currency": r.choice(["CNY", "USD", "", "CN\x00", "cny"]),
        "status": r.choice(["succeeded", "failed", "", None]),
        "timestamp": r.choice([now, now - 10_000, 2**64, -1]),
    }
    for _ in range(r.randint(0, 2)):
        body[r.choice(list(body))] = json_value(r)
    return _json(body)


def _client_id(r: random.Random) -> str:
    return r.choice([r.randbytes(16).hex(), r.randbytes(16).hex(), text(r)[:70], "a b", ""])


_JSON = {"content-type": "application/json"}


def _json(value: object) -> bytes:
    return json.dumps(value).encode()  # ASCII escapes keep lone surrogates expressible


# ---- Telegram: authenticated updates of every shape ------------------------------------

TELEGRAM_IDS = (1001, 1002, 1003, 2**52, -5, 0, "1001", None, 2**64, 1.5, "x")


def _telegram_user(r: random.Random) -> dict[str, object]:
    uid = r.choice(TELEGRAM_IDS) if r.random() < 0.2 else r.choice((1001, 1002, 1003))
    name = text(r)[:80] if r.random() < 0.5 else "Li"
    return {"id": uid, "is_bot": False, "first_name": name, "language_code": r.choice(["zh", "en"])}


def _telegram_message(r: random.Random, user: dict[str, object]) -> dict[str, object]:
    chat_type = r.choice(["private"] * 6 + ["group", "channel", "", 3])
    message: dict[str, object] = {
        "message_id": r.randint(1, 10**6),
        "date": r.choice([1_700_000_000, -1, 2**40]),
        "chat": {"id": user["id"], "type": chat_type},
        "from": user,
    }
    kind = r.choice(["text", "text", "text", "photo", "contact", "paid", "command"])
    if kind == "text":
        message["text"] = text(r)
    elif kind == "command":
        message["text"] = r.choice(["/start", "/start p", "/lang", "/orders", "/x"]) + _arg(r)
    elif kind == "photo":
        message["photo"] = [
            {"file_id": text(r)[:60], "file_unique_id": "u", "width": 1, "height": 1}
        ]
        message["caption"] = text(r)
    elif kind == "contact":
        message["contact"] = {
            "phone_number": text(r)[:40],
            "first_name": "Li",
            "user_id": user["id"],
        }
    else:
        message["successful_payment"] = _telegram_paid(r)
    return message


def _telegram_paid(r: random.Random) -> dict[str, object]:
    return {
        "currency": r.choice(["CNY", "", "XX\x00"]),
        "total_amount": r.choice([1, -1, 2**63, 0]),
        "invoice_payload": r.choice(["", "t" * 200, text(r)[:80]]),
        "telegram_payment_charge_id": r.choice(["c1", "c" * 300, ""]),
        "provider_payment_charge_id": "p",
    }


def telegram_update(r: random.Random, update_id: int) -> bytes:
    """One update as Telegram would POST it (or not quite), for an authenticated webhook."""
    user = _telegram_user(r)
    kind = r.choice(
        ["message"] * 4 + ["callback_query", "pre_checkout_query", "my_chat_member", "x"]
    )
    body: dict[str, object] = {"update_id": update_id}
    if kind == "message":
        body["message"] = _telegram_message(r, user)
    elif kind == "callback_query":
        body["callback_query"] = {
            "id": str(r.randint(1, 10**9)),
            "from": user,
            "chat_instance": "1",
            "data": r.choice([payload(r), "L|" + payload(r), "Q|" + payload(r), text(r)]),
            "message": _telegram_message(r, user) if r.random() < 0.7 else None,
        }
    elif kind == "pre_checkout_query":
        paid = _telegram_paid(r)
        body["pre_checkout_query"] = {"id": "q1", "from": user, **paid}
    elif kind == "my_chat_member":
        member = {"user": user, "status": r.choice(["kicked", "member", "weird"])}
        chat = {"id": user["id"], "type": "private"}
        change = {"chat": chat, "from": user, "date": 1, "old_chat_member": member}
        body["my_chat_member"] = change | {"new_chat_member": member}
    else:
        body[text(r)[:20]] = json_value(r)
    if r.random() < 0.2:
        body[r.choice(list(body))] = json_value(r)  # anything where anything else belongs
    return _json(body)


# ---- WeChat: signed pushes of every shape -------------------------------------------------

WECHAT_TYPES = ("text", "image", "voice", "video", "location", "link", "event", "shortvideo", "?")
WECHAT_EVENTS = ("subscribe", "unsubscribe", "CLICK", "SCAN", "VIEW", "TEMPLATESENDJOBFINISH", "")


def wechat_push(r: random.Random, app_id: str) -> str:
    """The XML of one push (text, picture, voice, menu click, scan...), fields gone astray."""
    fields: dict[str, object] = {
        "ToUserName": app_id,
        "FromUserName": r.choice(["o_fuzz1", "o_fuzz2", text(r)[:40], ""]),
        "CreateTime": r.choice([1_700_000_000, 0, -1, 2**70, "now"]),
        "MsgType": r.choice(WECHAT_TYPES),
        "MsgId": r.choice([r.randint(1, 2**63), r.randint(1, 2**63), -1, 2**80, "id"]),
    }
    extra = {
        "Content": text(r),
        "Recognition": text(r),
        "MediaId": text(r)[:40],
        "PicUrl": "http://x/" + text(r)[:20],
        "Event": r.choice(WECHAT_EVENTS),
        "EventKey": r.choice([payload(r), "qrscene_" + _arg(r), _arg(r), text(r)[:40]]),
        "bizmsgmenuid": _arg(r),
        "Location_X": _arg(r),
    }
    for name in r.sample(list(extra), r.randint(0, 4)):
        fields[name] = extra[name]
    if r.random() < 0.1:
        return r.choice(["<xml>", "", "<xml><a>" * 200, "not xml", "<?xml version='1.0'?><x/>"])
    return "<xml>" + "".join(f"<{k}><![CDATA[{_cdata(v)}]]></{k}>" for k, v in fields.items())


def _cdata(value: object) -> str:
    return str(value).replace("]]>", "]]]]><![CDATA[>")


def wechat_pay_notification(r: random.Random, known: list[str], app_id: str, mch_id: str) -> dict:
    """The fields of a WeChat Pay result notification (the caller signs them)."""
    fields: dict[str, object] = {
        "return_code": r.choice(["SUCCESS", "FAIL", ""]),
        "result_code": r.choice(["SUCCESS", "FAIL"]),
        "appid": r.choice([app_id, "wx_other"]),
        "mch_id": r.choice([mch_id, "999"]),
        "nonce_str": _xml_text(r)[:32],
        "out_trade_no": r.choice([*known, "", "n" * 200]) if known else "none",
        "transaction_id": r.choice([str(r.randint(1, 10**28)), "t" * 300, "", "\x00"]),
        "total_fee": r.choice([1, 100, -1, 2**63, "1.5", ""]),
        "fee_type": r.choice(["CNY", "USD", ""]),
        "openid": _xml_text(r)[:40],
        "time_end": r.choice(["20261129120000", "", "x"]),
        "trade_type": r.choice(["NATIVE", "JSAPI", ""]),
    }
    for name in r.sample(list(fields), r.randint(0, 2)):
        fields[name] = _xml_text(r) if r.random() < 0.5 else str(r.randint(-(2**70), 2**70))
    return fields


def _xml_text(r: random.Random) -> str:
    """Text an XML document can carry (no lone surrogates), NUL and all."""
    return "".join(c for c in text(r) if not "\ud800" <= c <= "\udfff")
