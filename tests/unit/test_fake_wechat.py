"""The fake WeChat Official Account platform and WeChat Pay, checked against wechatpy itself."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import io
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
import pytest
import xmltodict
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from wechatpy import WeChatClient, parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import (
    APILimitedException,
    InvalidSignatureException,
    WeChatClientException,
    WeChatPayException,
)
from wechatpy.pay import WeChatPay
from wechatpy.pay.utils import calculate_signature, calculate_signature_hmac
from wechatpy.replies import TextReply
from wechatpy.utils import check_signature

from tests.conftest import free_port, serve_in_thread
from tests.fakes.telegram import tiny_png
from tests.fakes.wechat import (
    SERVICE_UNAVAILABLE,
    Delivery,
    FakeWeChat,
    MessageCrypto,
    parse_xml,
    render_xml,
    running_fake_wechat,
    sha1_signature,
)
from tests.fakes.wechat_pay import FakeWeChatPay, from_xml, running_fake_wechat_pay

AES_KEY = base64.b64encode(bytes(range(32))).decode().rstrip("=")  # 43 characters
MENU = {
    "button": [
        {"type": "click", "name": "今日推荐", "key": "TODAY"},
        {
            "name": "我的",
            "sub_button": [
                {"type": "view", "name": "订单", "url": "https://shop.example/orders"},
                {"type": "click", "name": "购物车", "key": "CART"},
            ],
        },
    ]
}


class FakeWeChatClient(WeChatClient):
    """wechatpy 1.8's WeChatClient pointed at the fake. Every cgi-bin call is built from the
    API_BASE_URL attribute (set on the instance), but fetch_access_token hard-codes
    https://api.weixin.qq.com/cgi-bin/token, so that one method is overridden; trust_env is off
    so that a proxy in the environment cannot catch 127.0.0.1."""

    def __init__(self, fake: FakeWeChat, **kw) -> None:
        super().__init__(fake.app_id, fake.app_secret, timeout=5, **kw)
        self.API_BASE_URL = fake.api_base_url
        self._token_url = fake.token_url
        self._http.trust_env = False

    def fetch_access_token(self):
        params = {"grant_type": "client_credential", "appid": self.appid, "secret": self.secret}
        return self._fetch_access_token(url=self._token_url, params=params)


def pay_client(fake: FakeWeChatPay, **kw) -> WeChatPay:
    """WeChatPay pointed at the fake: API_BASE_URL (instance attribute, trailing slash)."""
    client = WeChatPay(fake.app_id, kw.pop("api_key", fake.api_key), fake.mch_id, timeout=5, **kw)
    client.API_BASE_URL = fake.api_base_url
    client._http.trust_env = False
    return client


@pytest.fixture
def fake() -> Iterator[FakeWeChat]:
    with running_fake_wechat(reply_timeout_s=0.3) as fake:
        yield fake


@pytest.fixture
def wx(fake: FakeWeChat) -> FakeWeChatClient:
    return FakeWeChatClient(fake)


# --- a tiny webhook written with wechatpy, as our WeChat channel would be -----------------------


@dataclass
class Webhook:
    seen: list = field(default_factory=list)  # the messages it parsed, one per attempt
    answer: bytes | None = None  # answered verbatim instead of a passive reply, when set


@contextmanager
def running_webhook(fake: FakeWeChat, *, hold: threading.Event | None = None,
                    answer: bytes | None = None) -> Iterator[Webhook]:  # fmt: skip
    """Serve a webhook that checks signatures and decrypts with wechatpy, then (once `hold` is
    set, if given) answers `hook.answer` verbatim, or echoes text and events in a passive reply
    (encrypted in safe mode)."""
    crypto = WeChatCrypto(fake.token, fake.aes_key, fake.app_id) if fake.aes_key else None
    hook = Webhook(answer=answer)

    async def handle(request: Request) -> Response:
        q = request.query_params
        try:
            check_signature(fake.token, q["signature"], q["timestamp"], q["nonce"])
            if request.method == "GET":
                return Response(q["echostr"])
            body = await request.body()
            if crypto:
                xml = crypto.decrypt_message(body, q["msg_signature"], q["timestamp"], q["nonce"])
            else:
                xml = body.decode()
        except (InvalidSignatureException, KeyError):
            return Response("forbidden", status_code=403)
        message = parse_message(xml)
        hook.seen.append(message)
        if hold is not None:
            await asyncio.to_thread(hold.wait, 60)
        if hook.answer is not None:
            return Response(hook.answer)
        if message.type == "text":
            content = f"echo: {message.content}"
        elif message.type == "event":
            content = f"event: {message.event} {getattr(message, 'key', None) or ''}".strip()
        else:
            return Response("success")
        rendered = TextReply(content=content, message=message).render()
        if crypto:
            rendered = crypto.encrypt_message(rendered, q["nonce"], q["timestamp"])
        return Response(rendered, media_type="application/xml")

    app = Starlette(routes=[Route("/wechat", handle, methods=["GET", "POST"])])
    with serve_in_thread(app, free_port()) as url:
        fake.set_webhook(f"{url}/wechat")
        yield hook


# --- API: tokens, custom messages, templates, menu, media -------------------------------------


def test_token_and_custom_text(fake: FakeWeChat, wx: FakeWeChatClient) -> None:
    user = fake.user("o_user1")
    user.send_text("在吗", deliver=False)  # opens the 48 h window
    assert wx.message.send_text("o_user1", "您好，在的") == {"errcode": 0, "errmsg": "ok"}
    assert len(fake.tokens_issued) == 1
    assert fake.custom_messages["o_user1"][0]["text"] == {"content": "您好，在的"}
    item = user.wait_for("在的")
    assert (item.kind, item.msgtype) == ("custom", "text")
    call = fake.calls_to("message/custom/send")[0]
    assert (call.errcode, call.body["touser"], call.params["access_token"]) == (
        0, "o_user1", fake.tokens_issued[0].token,
    )  # fmt: skip
    for appid, secret, errcode in [("wx_wrong", fake.app_secret, 40013),
                                   (fake.app_id, "wrong", 40125)]:  # fmt: skip
        bad = FakeWeChatClient(fake)
        bad.appid, bad.secret = appid, secret
        with pytest.raises(WeChatClientException) as e:
            bad.fetch_access_token()
        assert e.value.errcode == errcode


def test_token_lifecycle_and_faults(fake: FakeWeChat, wx: FakeWeChatClient) -> None:
    fake.user("o_user1").send_text("hi", deliver=False)
    wx.message.send_text("o_user1", "one")
    first = fake.tokens_issued[0].token
    fake.expire_tokens()  # 42001: wechatpy fetches a new token and retries by itself
    wx.message.send_text("o_user1", "two")
    assert [c.errcode for c in fake.calls_to("message/custom/send")] == [0, 42001, 0]
    assert len(fake.tokens_issued) == 2
    api = f"{fake.api_base_url}user/info"

    def errcode(token: str | None) -> int:
        params = {"openid": "o_user1"} | ({"access_token": token} if token is not None else {})
        return httpx.get(api, params=params).json().get("errcode", 0)

    fresh = fake.tokens_issued[1].token
    fake._tokens[first].expired = False  # superseded, but valid for 5 more minutes
    assert (errcode(first), errcode(fresh)) == (0, 0)
    fake.advance(minutes=6)
    assert (errcode(first), errcode(fresh)) == (40001, 0)
    assert (errcode(None), errcode("!"), errcode("x" * 40)) == (41001, 40014, 40001)
    fake.advance(hours=2)
    assert errcode(fresh) == 42001

    fake.fail_next("message/custom/send", 45009)
    with pytest.raises(APILimitedException) as limited:
        wx.message.send_text("o_user1", "three")
    assert limited.value.errcode == 45009
    fake.fail_next("message/custom/send", http_status=502)
    with pytest.raises(WeChatClientException) as gateway:
        wx.message.send_text("o_user1", "three")
    assert (gateway.value.errcode, gateway.value.response.status_code) == (None, 502)
    fake.fail_next("message/custom/send", 40001)  # wechatpy refreshes the token and retries
    wx.message.send_text("o_user1", "three")
    assert len(fake.tokens_issued) == 3  # injected faults come before the token check


def test_48_hour_window_and_response_quota(fake: FakeWeChat, wx: FakeWeChatClient) -> None:
    user = fake.user("o_user1")
    with pytest.raises(WeChatClientException) as e:
        wx.message.send_text("o_user1", "no interaction yet")
    assert e.value.errcode == 45015
    user.send_text("hello", deliver=False)
    for n in range(5):
        wx.message.send_text("o_user1", f"reply {n}")
    with pytest.raises(WeChatClientException) as e:
        wx.message.send_text("o_user1", "sixth")
    assert (e.value.errcode, e.value.errmsg.split(" rid:")[0]) == (
        45047, "out of response count limit",
    )  # fmt: skip
    user.send_text("again", deliver=False)  # each user message resets the quota
    wx.message.send_text("o_user1", "ok again")
    fake.advance(hours=47, minutes=59)
    wx.message.send_text("o_user1", "still within 48 h")
    fake.advance(minutes=2)
    with pytest.raises(WeChatClientException) as e:
        wx.message.send_text("o_user1", "too late")
    assert e.value.errcode == 45015
    assert "response out of time limit" in e.value.errmsg
    user.subscribe(deliver=False)  # an event: 3 messages within 1 minute
    for _ in range(3):
        wx.message.send_text("o_user1", "welcome")
    with pytest.raises(WeChatClientException) as e:
        wx.message.send_text("o_user1", "fourth")
    assert e.value.errcode == 45047
    user.unsubscribe(deliver=False)
    with pytest.raises(WeChatClientException) as e:
        wx.message.send_text("o_user1", "bye")
    assert e.value.errcode == 45015
    assert len(fake.custom_messages["o_user1"]) == 10


def test_custom_message_kinds_and_media(fake: FakeWeChat, wx: FakeWeChatClient) -> None:
    user = fake.user("o_user1")
    user.send_text("menu?", deliver=False)
    upload = wx.media.upload("image", io.BytesIO(tiny_png()))
    assert upload["type"] == "image" and isinstance(upload["created_at"], int)
    wx.message.send_image("o_user1", upload["media_id"])
    assert wx.media.download(upload["media_id"]).content == tiny_png()
    article = {"title": "T恤", "description": "¥99", "url": "https://x", "image": "https://x/p"}
    wx.message.send_articles("o_user1", [article])
    menu = {"head_content": "请选择", "list": [{"id": "101", "content": "满意"}],
            "tail_content": "谢谢"}  # fmt: skip
    wx.message.send_msg_menu("o_user1", menu)
    assert [i.msgtype for i in user.messages()] == ["image", "news", "msgmenu"]
    assert user.wait_for("满意").text == "请选择\n满意\n谢谢"
    for call, code in [
        (lambda: wx.message.send_image("o_user1", "nope"), 40007),
        (lambda: wx.message.send_articles("o_user1", [article, article]), 45008),
        (lambda: wx.media.upload("image", io.BytesIO(b"not an image")), 40005),
        (lambda: wx.media.upload("sticker", io.BytesIO(tiny_png())), 40004),
        (lambda: wx.message.send_text("o_nobody", "hi"), 40003),
    ]:
        with pytest.raises(WeChatClientException) as e:
            call()
        assert e.value.errcode == code
    info = wx.user.get("o_user1")
    assert (info["subscribe"], info["openid"], info["subscribe_scene"]) == (
        1, "o_user1", "ADD_SCENE_SEARCH",
    )  # fmt: skip


def test_template_messages(fake: FakeWeChat, wx: FakeWeChatClient) -> None:
    fake.add_template("TPL_SHIPPED", ["thing1", "character_string2", "amount3", "time4"])
    user = fake.user("o_user1")  # no interaction needed for templates
    data = {"thing1": {"value": "纯棉T恤 x2", "color": "#173177"},
            "character_string2": {"value": "CS-20240501-0007"}, "amount3": {"value": "¥199.00"},
            "time4": {"value": "2024年5月1日 15:01"}}  # fmt: skip
    result = wx.message.send_template("o_user1", "TPL_SHIPPED", data, url="https://shop/o/7")
    assert result["errcode"] == 0 and result["msgid"] > 0
    sent = fake.template_messages["o_user1"][0]
    assert (sent["template_id"], sent["msgid"], sent["url"]) == (
        "TPL_SHIPPED", result["msgid"], "https://shop/o/7",
    )  # fmt: skip
    assert user.wait_for("纯棉T恤").kind == "template"
    for changed, code in [
        ({"thing1": {"value": "这是一个超过二十个字符的商品名称描述文字啊"}}, 47003),
        ({"thing1": {"value": "第一行\n第二行"}}, 47003),
        ({"amount3": {"value": "199 yuan"}}, 47003),
        ({"character_string2": {"value": "中文"}}, 47003),
        ({"time4": {"value": ""}}, 47003),
    ]:
        with pytest.raises(WeChatClientException) as e:
            wx.message.send_template("o_user1", "TPL_SHIPPED", data | changed)
        assert e.value.errcode == code, changed
    with pytest.raises(WeChatClientException) as e:
        wx.message.send_template("o_user1", "TPL_UNKNOWN", data)
    assert e.value.errcode == 40037
    fake.user("o_gone", subscribed=False)
    with pytest.raises(WeChatClientException) as e:
        wx.message.send_template("o_gone", "TPL_SHIPPED", data)
    assert e.value.errcode == 43004


def test_menu(fake: FakeWeChat, wx: FakeWeChatClient) -> None:
    assert wx.menu.get() is None  # 46003 menu no exist
    assert wx.menu.create(MENU)["errcode"] == 0
    got = wx.menu.get()["menu"]["button"]
    assert got[0] == {**MENU["button"][0], "sub_button": []}
    assert got[1]["sub_button"][1]["key"] == "CART"
    assert fake.menu == MENU and fake.menu_keys() == {"TODAY", "CART"}
    click = {"type": "click", "name": "x", "key": "K"}
    for menu, code in [
        ({"button": [click] * 4}, 40016),
        ({"button": []}, 40016),
        ({"button": [{"name": "多", "sub_button": [click] * 6}]}, 40023),
        ({"button": [click | {"name": "名字太长了太长了"}]}, 40018),
        ({"button": [{"type": "view", "name": "x"}]}, 40020),
        ({"button": [{"type": "poke", "name": "x"}]}, 40017),
        ({"button": [{"name": "x", "sub_button": [click | {"key": "k" * 129}]}]}, 40026),
    ]:
        with pytest.raises(WeChatClientException) as e:
            wx.menu.create(menu)
        assert e.value.errcode == code, menu
    assert fake.menu == MENU


# --- protocol: signatures and the safe-mode envelope -----------------------------------------


def test_crypto_matches_wechatpy() -> None:
    fake = FakeWeChat(aes_key=AES_KEY)
    theirs = WeChatCrypto(fake.token, AES_KEY, fake.app_id)
    xml = render_xml({"ToUserName": fake.original_id, "FromUserName": "o_u", "CreateTime": 1,
                      "MsgType": "text", "Content": "你好 ]]> <xml>", "MsgId": 7})  # fmt: skip
    params, body = fake.envelope(xml, openid="o_u")
    assert set(params) == {"signature", "timestamp", "nonce", "openid", "encrypt_type",
                           "msg_signature"}  # fmt: skip
    check_signature(fake.token, params["signature"], params["timestamp"], params["nonce"])
    decrypted = theirs.decrypt_message(body, params["msg_signature"], params["timestamp"],
                                       params["nonce"])  # fmt: skip
    assert decrypted == xml
    assert parse_message(decrypted).content == "你好 ]]> <xml>"
    # ... and the other way round: wechatpy's encrypted reply, decrypted by the fake
    envelope = xmltodict.parse(theirs.encrypt_message("<xml><a>回复</a></xml>", "123", "456"))[
        "xml"
    ]
    assert envelope["MsgSignature"] == sha1_signature(fake.token, "456", "123",
                                                      envelope["Encrypt"])  # fmt: skip
    assert fake.crypto.decrypt(envelope["Encrypt"]) == "<xml><a>回复</a></xml>"
    with pytest.raises(ValueError, match="appid"):
        MessageCrypto(AES_KEY, "wx_other").decrypt(envelope["Encrypt"])
    with pytest.raises(InvalidSignatureException):
        forged = fake.bad_signature(params)
        theirs.decrypt_message(body, forged["msg_signature"], params["timestamp"], params["nonce"])
    plain = FakeWeChat()
    params, body = plain.envelope(xml)
    assert body.decode() == xml and "msg_signature" not in params
    check_signature(plain.token, params["signature"], params["timestamp"], params["nonce"])
    with pytest.raises(InvalidSignatureException):
        forged = plain.bad_signature(params)
        check_signature(plain.token, forged["signature"], params["timestamp"], params["nonce"])


def test_bad_bodies() -> None:
    for fake in (FakeWeChat(), FakeWeChat(aes_key=AES_KEY)):
        params, body = fake.xml_bomb()
        check_signature(fake.token, params["signature"], params["timestamp"], params["nonce"])
        assert body.startswith(b"<!DOCTYPE xml [") and b"&lol9;" in body
        with pytest.raises(ValueError, match="DTD"):
            parse_xml(body)
        if fake.crypto:  # the msg_signature is valid for the Encrypt inside the bomb
            encrypt = body.split(b"<Encrypt><![CDATA[")[1].split(b"]]>")[0].decode()
            assert params["msg_signature"] == sha1_signature(
                fake.token, params["timestamp"], params["nonce"], encrypt
            )
        params, body = fake.oversized_body(100_000)
        assert len(body) >= 100_000
        check_signature(fake.token, params["signature"], params["timestamp"], params["nonce"])


# --- pushes to the webhook -------------------------------------------------------------------


@pytest.mark.parametrize("aes_key", [None, AES_KEY], ids=["plain", "safe"])
def test_user_messages_reach_a_wechatpy_webhook(aes_key: str | None) -> None:
    with (
        running_fake_wechat(aes_key=aes_key, reply_timeout_s=2) as fake,
        running_webhook(fake) as hook,
    ):
        seen = hook.seen
        assert fake.verify_url().ok
        assert not fake.verify_url(signature="0" * 40).ok
        user = fake.user("o_user1")
        delivery = user.send_text("你好")
        assert delivery.ok and delivery.reply["Content"] == "echo: 你好"
        assert [a.attempt for a in delivery.attempts] == [1]
        assert delivery.attempts[0].params["openid"] == "o_user1"
        assert ("encrypt_type" in delivery.attempts[0].params) == bool(aes_key)
        assert seen[-1].content == "你好" and seen[-1].id == int(delivery.msgid)
        assert user.wait_for("echo").kind == "passive"
        user.subscribe(scene=42)
        assert (seen[-1].event, seen[-1].scene_id) == ("subscribe_scan", "42")
        fake.menu = MENU
        assert user.click("CART").reply["Content"] == "event: click CART"
        with pytest.raises(AssertionError, match="no menu button"):
            user.click("NOPE")
        user.scan("promo")  # already a follower: SCAN
        assert (seen[-1].event, seen[-1].scene_id) == ("scan", "promo")
        voice = user.send_voice(recognition="我要买T恤")
        assert seen[-1].recognition == "我要买T恤" and voice.reply is None  # answered "success"
        image = user.send_image()
        assert httpx.get(seen[-1].image).content == tiny_png()
        assert image.ok and image.reply is None
        assert [i.kind for i in user.messages()] == ["passive"] * 4


def test_slow_webhook_gets_three_attempts_with_the_same_request(fake: FakeWeChat) -> None:
    hold = threading.Event()  # the webhook answers nothing while it is clear

    def unanswered(act: Callable[[], Delivery]) -> Delivery:
        """`act` while the webhook holds every request; the fake must give up by itself."""
        hold.clear()
        deadline = threading.Timer(30, hold.set)  # generous, should the fake wait for ever
        deadline.start()
        delivery = act()
        gave_up_by_itself = not hold.is_set()
        deadline.cancel()
        hold.set()
        assert gave_up_by_itself
        return delivery

    with running_webhook(fake, hold=hold) as hook:
        seen = hook.seen
        user = fake.user("o_user1")
        delivery = unanswered(lambda: user.send_text("slow"))
        assert [(a.attempt, a.outcome) for a in delivery.attempts] == [
            (1, "timeout"), (2, "timeout"), (3, "timeout"),
        ]  # fmt: skip
        assert not delivery.ok and delivery.reply is None
        # a retry repeats the request byte for byte: query string and body
        assert len({(tuple(sorted(a.params.items())), a.sent) for a in delivery.attempts}) == 1
        assert {m.id for m in seen} == {int(delivery.msgid)} and len(seen) == 3
        assert [d.msgid for d in fake.deliveries] == [delivery.msgid] * 3
        assert all(a.elapsed >= 0.25 for a in delivery.attempts)  # waited reply_timeout_s
        assert user.wait_for(SERVICE_UNAVAILABLE).kind == "system"
        event = unanswered(user.subscribe)
        assert len({(m.source, m.time) for m in seen[3:]}) == 1 and len(seen) == 6
        assert event.key == f"o_user1:{event.message['CreateTime']}"


def test_webhook_answers(fake: FakeWeChat) -> None:
    answers = {
        b"success": ("ok", False),
        b"": ("ok", False),
        b'{"msg": "json"}': ("bad_reply", True),
        b"<xml><ToUserName>someone_else</ToUserName></xml>": ("bad_reply", True),
        b"success\n": ("bad_reply", True),
    }
    with running_webhook(fake) as hook:
        for n, (answer, (outcome, notice)) in enumerate(answers.items()):
            hook.answer = answer
            user = fake.user(f"o_user{n}")
            delivery = user.send_text("hi")
            assert [a.outcome for a in delivery.attempts] == [outcome], answer  # never retried
            assert delivery.ok is not notice
            assert (SERVICE_UNAVAILABLE in user.texts()) is notice
    assert len(hook.seen) == len(answers)


def test_http_errors_are_retried_and_plain_replies_refused_in_safe_mode() -> None:
    with running_fake_wechat(reply_timeout_s=1, aes_key=AES_KEY) as fake:
        app = Starlette(routes=[Route("/", lambda r: Response("oops", status_code=500),
                                      methods=["POST"])])  # fmt: skip
        with serve_in_thread(app, free_port()) as url:
            fake.set_webhook(url + "/")
            delivery = fake.user("o_user1").send_text("hi")
        assert [(a.status, a.outcome) for a in delivery.attempts] == [(500, "http_error")] * 3
        # a webhook that forgot safe mode answers a plain reply
        fields = {"ToUserName": "o_user2", "FromUserName": fake.original_id, "CreateTime": 1,
                  "MsgType": "text", "Content": "hi"}  # fmt: skip
        reply = render_xml(fields)
        app = Starlette(routes=[Route("/", lambda r: Response(reply), methods=["POST"])])
        with serve_in_thread(app, free_port()) as url:
            fake.set_webhook(url + "/")
            delivery = fake.user("o_user2").send_text("hi")
        assert delivery.attempts[0].outcome == "bad_reply" and "not encrypted" in delivery.error


def test_template_job_event_is_pushed() -> None:
    with running_fake_wechat(template_job_events=True, reply_timeout_s=2) as fake:
        with running_webhook(fake, answer=b"success") as hook:
            fake.add_template("TPL", ["thing1"])
            wx = FakeWeChatClient(fake)
            fake.user("o_user1")
            msgid = wx.message.send_template("o_user1", "TPL", {"thing1": {"value": "已发货"}})[
                "msgid"
            ]
            fake.close()  # waits for the background push
        assert hook.seen[-1].event == "templatesendjobfinish"
        assert (hook.seen[-1].id, hook.seen[-1].status) == (msgid, "success")


def test_parallel_workers_token_issuance_is_recorded(fake: FakeWeChat) -> None:
    fake.user("o_user1").send_text("hi", deliver=False)
    clients = [FakeWeChatClient(fake) for _ in range(3)]  # no shared token storage
    threads = [threading.Thread(target=c.message.send_text, args=("o_user1", "x")) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(fake.tokens_issued) == 3  # what a shared-cache test would assert == 1
    assert [c.errcode for c in fake.calls_to("token")] == [0, 0, 0]


# --- WeChat Pay ------------------------------------------------------------------------------


def documented_sign(fields: dict, key: str, sign_type: str) -> str:
    """pay.weixin.qq.com's algorithm, written out independently of both the fake and wechatpy."""
    text = "&".join(f"{k}={fields[k]}" for k in sorted(fields) if k != "sign" and fields[k] != "")
    text += f"&key={key}"
    if sign_type == "HMAC-SHA256":
        return hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest().upper()
    return hashlib.md5(text.encode()).hexdigest().upper()


@contextmanager
def running_merchant(answers: list[bytes] | None = None) -> Iterator[tuple[str, list[bytes]]]:
    """A notify_url endpoint answering `answers` in turn (then SUCCESS); yields (url, bodies)."""
    bodies: list[bytes] = []
    pending = list(answers or [])
    ok = b"<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg>OK</return_msg></xml>"

    async def notify(request: Request) -> Response:
        bodies.append(await request.body())
        return Response(pending.pop(0) if pending else ok, media_type="text/xml")

    app = Starlette(routes=[Route("/notify", notify, methods=["POST"])])
    with serve_in_thread(app, free_port()) as url:
        yield f"{url}/notify", bodies


@pytest.fixture
def pay() -> Iterator[FakeWeChatPay]:
    with running_fake_wechat_pay(notify_retry_delays=(0.01, 0.01, 0.01)) as pay:
        yield pay


def test_pay_native_and_jsapi_orders(pay: FakeWeChatPay) -> None:
    client = pay_client(pay)
    for n, sign_type in enumerate(["MD5", "HMAC-SHA256"]):
        native = client.order.create("NATIVE", "T恤", 9900, "https://shop.example/notify",
                                     client_ip="127.0.0.1", out_trade_no=f"N{n}",
                                     product_id="TEE", sign_type=sign_type)  # fmt: skip
        assert native["code_url"].startswith("weixin://wxpay/bizpayurl?pr=")
        assert native["sign"] == documented_sign(native, pay.api_key, sign_type)
        jsapi = client.order.create("JSAPI", "T恤", 100, "https://shop.example/notify",
                                    client_ip="127.0.0.1", out_trade_no=f"J{n}",
                                    user_id="o_user1", sign_type=sign_type)  # fmt: skip
        assert jsapi["prepay_id"].startswith("wx") and "code_url" not in jsapi
        assert jsapi["sign"] == documented_sign(jsapi, pay.api_key, sign_type)
        assert pay.orders[f"J{n}"].sign_type == sign_type
    native = client.order.create("NATIVE", "T恤", 9900, "https://shop.example/notify",
                                 client_ip="127.0.0.1", out_trade_no="A1", product_id="TEE")  # fmt: skip
    assert client.check_signature(native)  # wechatpy's own (MD5) check
    assert pay.orders["A1"].total_fee == 9900
    params = client.jsapi.get_jsapi_params(jsapi["prepay_id"])
    assert params["package"] == f"prepay_id={jsapi['prepay_id']}"
    again = client.order.create("NATIVE", "T恤", 9900, "https://shop.example/notify",
                                client_ip="127.0.0.1", out_trade_no="A1", product_id="TEE")  # fmt: skip
    assert again["code_url"] == native["code_url"]  # the same order again: same code_url
    failures = [
        (dict(total_fee=9901), "FAIL", "OUT_TRADE_NO_USED"),
        (dict(total_fee=-5, out_trade_no="A3"), None, "invalid total_fee"),
        (dict(out_trade_no="A4", product_id=None), "FAIL", "PARAM_ERROR"),
        (dict(out_trade_no="bad no!"), None, "invalid out_trade_no"),
        (dict(notify_url="ftp://shop", out_trade_no="A5"), None, "invalid notify_url"),
    ]
    for change, result_code, error in failures:
        args = dict(trade_type="NATIVE", body="T恤", total_fee=9900, client_ip="127.0.0.1",
                    notify_url="https://shop.example/notify", out_trade_no="A1",
                    product_id="TEE") | change  # fmt: skip
        with pytest.raises(WeChatPayException) as e:
            client.order.create(**args)
        assert e.value.result_code == result_code, change
        assert error in (e.value.errcode or e.value.return_msg), change
    with pytest.raises(WeChatPayException) as e:
        pay_client(pay, api_key="0" * 32).order.query(out_trade_no="A1")
    assert (e.value.return_code, e.value.return_msg) == ("FAIL", "签名错误")
    assert [c.return_code for c in pay.calls][-1] == "FAIL"


def test_pay_flow_notification_query_refund(pay: FakeWeChatPay) -> None:
    client = pay_client(pay)
    with running_merchant(answers=[b"<xml><return_code>FAIL</return_code></xml>", b"oops"]) as (
        url,
        bodies,
    ):
        client.order.create("NATIVE", "T恤", 9900, url, client_ip="127.0.0.1",
                            out_trade_no="B1", product_id="TEE", attach="cart:7")  # fmt: skip
        assert client.order.query(out_trade_no="B1")["trade_state"] == "NOTPAY"
        notification = pay.pay("B1")
        assert [a.acknowledged for a in notification.attempts] == [False, False, True]
        assert len(set(bodies)) == 1  # the same notification each time
        paid = client.parse_payment_result(bodies[0])  # wechatpy verifies the MD5 signature
        assert (paid["total_fee"], paid["cash_fee"], paid["attach"], paid["sign_type"]) == (
            9900, 9900, "cart:7", "MD5",
        )  # fmt: skip
        assert paid["transaction_id"] == pay.orders["B1"].transaction_id
        assert len(paid["transaction_id"]) == 28 and len(paid["time_end"]) == 14
        query = client.order.query(transaction_id=paid["transaction_id"])
        assert (query["trade_state"], query["total_fee"]) == ("SUCCESS", "9900")
        with pytest.raises(WeChatPayException) as e:
            client.order.close("B1")
        assert e.value.errcode == "ORDERPAID"
        attempts = pay.resend("B1", times=5)
        assert len(attempts) == 5 and set(bodies[3:]) == {bodies[0]}
        forged = pay.notification("B1", bad_signature=True)
        with pytest.raises(InvalidSignatureException):
            client.parse_payment_result(forged)
        cheap = client.parse_payment_result(pay.notification("B1", total_fee=1))
        assert cheap["total_fee"] == 1  # correctly signed: only the amount check catches it

        refund = client.refund.apply(9900, 2000, "R1", out_trade_no="B1", notify_url=url)
        assert (refund["refund_fee"], refund["out_refund_no"]) == ("2000", "R1")
        with pytest.raises(WeChatPayException) as e:
            client.refund.apply(9900, 8000, "R2", out_trade_no="B1")
        assert e.value.errcode == "ERROR"
        listed = client.refund.query(out_refund_no="R1")
        assert (listed["refund_count"], listed["refund_status_0"]) == ("1", "SUCCESS")
        assert pay.notify_refund("R1").acknowledged
        refunded = client.parse_refund_notify_result(bodies[-1])
        assert (refunded["refund_fee"], refunded["out_refund_no"]) == (2000, "R1")
    with pytest.raises(WeChatPayException) as e:
        client.order.query(out_trade_no="NOPE")
    assert e.value.errcode == "ORDERNOTEXIST"


def test_pay_hmac_notification_and_close(pay: FakeWeChatPay) -> None:
    client = pay_client(pay)
    client.order.create("JSAPI", "T恤", 500, "http://127.0.0.1:9/notify", client_ip="127.0.0.1",
                        out_trade_no="C1", user_id="o_user1", sign_type="HMAC-SHA256")  # fmt: skip
    xml = pay.pay("C1", deliver=False)
    fields = from_xml(xml)
    assert fields["sign_type"] == "HMAC-SHA256" and fields["openid"] == "o_user1"
    assert fields["sign"] == documented_sign(fields, pay.api_key, "HMAC-SHA256")
    unsigned = {k: v for k, v in fields.items() if k != "sign"}
    assert fields["sign"] == calculate_signature_hmac(unsigned, pay.api_key)
    assert fields["sign"] != calculate_signature(unsigned, pay.api_key)  # wechatpy's parse_payment_
    # result checks MD5 only, so HMAC-SHA256 notifications must be verified by hand
    client.order.create("NATIVE", "帽子", 300, "http://127.0.0.1:9/notify",
                        client_ip="127.0.0.1", out_trade_no="C2", product_id="HAT")  # fmt: skip
    assert client.order.close("C2")["result_code"] == "SUCCESS"
    with pytest.raises(WeChatPayException) as e:
        client.order.create("NATIVE", "帽子", 300, "http://127.0.0.1:9/notify",
                            client_ip="127.0.0.1", out_trade_no="C2", product_id="HAT")  # fmt: skip
    assert e.value.errcode == "ORDERCLOSED"
    refused = pay.send_notification("C1", xml, retry=True)  # nobody listens on port 9
    assert len(refused.attempts) == 4 and not refused.acknowledged
    pay.fail_next("/pay/orderquery")
    with pytest.raises(WeChatPayException) as e:
        client.order.query(out_trade_no="C1")
    assert e.value.errcode == "SYSTEMERROR"


def test_pay_sandbox(pay: FakeWeChatPay) -> None:
    client = pay_client(pay, sandbox=True)  # wechatpy adds sandboxnew/ and fetches the sandbox key
    order = client.order.create("NATIVE", "T恤", 101, "https://shop.example/notify",
                                client_ip="127.0.0.1", out_trade_no="S1", product_id="TEE")  # fmt: skip
    assert order["sign"] == documented_sign(order, pay.sandbox_key, "MD5")
    assert [(c.path, c.sandbox) for c in pay.calls] == [
        ("/pay/getsignkey", True), ("/pay/unifiedorder", True),
    ]  # fmt: skip
    assert client.parse_payment_result(pay.pay("S1", deliver=False))["out_trade_no"] == "S1"
