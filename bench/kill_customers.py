"""The customers of bench/kill.py: each checks out one SKU and pays, on the web chat or on
Telegram, and behaves as the platform does when the shop does not answer: Telegram delivers an
update again (same update_id) until it gets a 200, the web chat page sends a message again with
the same client_id, a customer presses Pay again."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

import httpx

from bot.channels.web_session import COOKIE

SECRET = "kill-bench-webhook-secret-0123456789"
FIRST_CHAT = 20_000
FORM = {
    "zh": ("李雷", "13812345678", "上海市浦东新区世纪大道100号"),
    "en": ("Jane Doe", "+1 415 555 0132", "500 Market Street, San Francisco"),
}
GIVE_UP_S = 120.0  # a customer whose request never gets through stops trying


async def post_until_answered(http: httpx.AsyncClient, url: str, **kw) -> httpx.Response:
    """Again and again until the shop answers without a server error."""
    deadline = time.monotonic() + GIVE_UP_S
    while True:
        try:
            response = await http.post(url, **kw)
            if response.status_code < 500:
                return response
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"no answer from {url}")
        await asyncio.sleep(0.2)


class WebChat:
    """The web chat's HTTP API as the page uses it (tests/e2e/conftest.py WebChatCustomer):
    a session cookie the server issues, then messages. Kept in this one class so a change of
    how sessions work is made here only."""

    def __init__(self, http: httpx.AsyncClient, url: str, n: int) -> None:
        self.http, self.url = http, url
        self.session = ""  # the chat's id in the shop's database, once issued
        self.cookie = ""
        self.sent = 0

    async def _start(self) -> None:
        """Ask for a session of its own (the client is shared, so its cookie jar is not used)."""
        answer = await post_until_answered(self.http, f"{self.url}/chat/api/session")
        self.cookie = answer.cookies[COOKIE]
        self.session = self.cookie.split(".")[0]
        self.http.cookies.clear()

    async def send(self, text: str | None = None, payload: str | None = None) -> list[dict]:
        if not self.cookie:
            await self._start()
        self.sent += 1
        body = {"client_id": f"k{self.sent}", "text": text, "payload": payload}
        answer = await post_until_answered(
            self.http, f"{self.url}/chat/api/messages", json=body, headers=self._headers()
        )
        answer.raise_for_status()
        return [m for m in answer.json()["messages"] if m["direction"] == "out"]

    async def history(self) -> list[dict]:
        answer = await self.http.get(
            f"{self.url}/chat/api/messages", params={"after": 0}, headers=self._headers()
        )
        answer.raise_for_status()
        return [m for m in answer.json()["messages"] if m["direction"] == "out"]

    def _headers(self) -> dict[str, str]:
        return {"cookie": f"{COOKIE}={self.cookie}"}


class Telegram:
    """Updates posted to the shop's webhook as Telegram posts them, and what the fake Bot API
    server says the bot sent (refreshed in the background)."""

    def __init__(self, http: httpx.AsyncClient, url: str, fake_url: str) -> None:
        self.http, self.url, self.fake_url = http, url, fake_url
        self.ids = iter(range(5_000_000, 10**9))
        self.sends: list[dict] = []

    async def post(self, chat: int, lang: str, **content) -> None:
        user = {"id": chat, "is_bot": False, "first_name": "Kill", "language_code": lang}
        update_id = next(self.ids)
        if "data" in content:  # a button press
            query = {"id": str(update_id), "from": user, "chat_instance": str(chat)}
            update = {"update_id": update_id, "callback_query": query | content}
        else:
            chat_info = {"id": chat, "type": "private", "first_name": "Kill"}
            message = {"message_id": update_id, "from": user, "date": int(time.time())}
            update = {"update_id": update_id, "message": message | {"chat": chat_info} | content}
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        answer = await post_until_answered(
            self.http, f"{self.url}/webhooks/telegram", json=update, headers=headers
        )
        answer.raise_for_status()

    async def watch(self) -> None:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                self.sends = (await self.http.get(f"{self.fake_url}/_bench")).json()["sends"]
            await asyncio.sleep(0.1)

    async def invoice_for(self, chat: int) -> dict:
        deadline = time.monotonic() + GIVE_UP_S
        while time.monotonic() < deadline:
            for send in self.sends:
                if send["chat"] == chat and send["ok"] and send["method"] == "sendInvoice":
                    return send
            await asyncio.sleep(0.3)
        raise TimeoutError(f"no invoice in chat {chat}")


@dataclass
class Customer:
    channel: str  # "web" or "telegram"
    n: int
    lang: str
    sku: str
    qty: int
    chat: int = 0  # Telegram chat id
    web: WebChat | None = None
    pay_link: str = ""  # web: the sandbox pay page
    invoice: dict = field(default_factory=dict)  # telegram: the invoice's payload and amount
    paid: bool = False  # the shop acknowledged the payment
    error: str = ""

    @property
    def chat_id(self) -> str:
        """The chat's id in the shop's database."""
        return self.web.session if self.web else str(self.chat)


def make_customers(web: int, telegram: int, skus: list[str], http, url: str) -> list[Customer]:
    customers = []
    for n in range(web + telegram):
        lang = "zh" if n % 2 else "en"
        sku, qty = skus[n % len(skus)], 1 + (n % 3 == 0)
        if n < web:
            customers.append(Customer("web", n, lang, sku, qty, web=WebChat(http, url, n)))
        else:
            chat = FIRST_CHAT + n - web
            customers.append(Customer("telegram", n, lang, sku, qty, chat=chat))
    return customers


async def checkout(c: Customer, tg: Telegram, placed) -> None:
    """Add one SKU, check out, fill the form, confirm: an order waiting for payment, unless
    the SKU sold out (`placed(chat_id)` says whether an order was placed)."""
    name, phone, address = FORM[c.lang]
    steps = [
        ("payload", f"add?sku={c.sku}&qty={c.qty}"), ("payload", "checkout"),
        ("text", name), ("text", phone), ("text", address), ("payload", "confirm"),
    ]  # fmt: skip
    replies: list[dict] = []
    for kind, value in steps:
        if c.web is not None:
            replies = await c.web.send(**{kind: value})
        else:
            await tg.post(c.chat, c.lang, **{"data" if kind == "payload" else "text": value})
    if c.web is not None:
        links = [m["link"]["url"] for m in replies if m.get("link")]
        c.pay_link = links[0] if links else ""
    elif await asyncio.to_thread(placed, c.chat_id):  # the webhook answers once handled
        c.invoice = await tg.invoice_for(c.chat)


async def pay(c: Customer, http: httpx.AsyncClient, tg: Telegram) -> None:
    if c.pay_link:
        answer = await post_until_answered(http, c.pay_link, follow_redirects=False)
        c.paid = answer.status_code == 303
    elif c.invoice:
        token = c.invoice["key"].removeprefix("invoice:")
        charge = f"{c.chat}-{token[:12]}"
        paid = {"currency": c.invoice["currency"], "total_amount": c.invoice["amount"], "invoice_payload": token,
                "telegram_payment_charge_id": f"tg_{charge}",
                "provider_payment_charge_id": f"provider_{charge}"}  # fmt: skip
        await tg.post(c.chat, c.lang, successful_payment=paid)
        c.paid = True


async def guarded(c: Customer, step) -> None:
    try:
        await step
    except Exception as error:  # one customer's trouble is reported, not fatal to the run
        c.error = f"{type(error).__name__}: {error}"[:200]
