"""Hostile and careless inputs for every HTTP surface, drawn from a `random.Random`.

The same generators feed the Hypothesis tests (which hand them a Random they control, so a
failure shrinks to a small example) and `bench/fuzz.py` (a seeded Random, 100,000 inputs per
surface against a live server)."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from urllib.parse import urlencode

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
    return f"{action}?{urlencode(args)}" if args else action


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
    after = r.choice([*NUMBERISH, str(r.randint(-(2**70), 2**70)), text(r)[:20]])
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
