"""A customer buys through the web chat's HTTP API and pays on the sandbox page."""

import re

import httpx
import pytest
from sqlalchemy import select

from store.models import Order, OrderEvent, OrderStatus
from store.uow import UnitOfWork
from tests.e2e.conftest import WebChatCustomer


def button(messages: list[dict], action: str) -> dict:
    for message in messages:
        for b in message["buttons"] + [b for c in message["cards"] for b in c["buttons"]]:
            if b["payload"].split("?")[0] == action:
                return b
    raise AssertionError(f"no {action} button in {messages}")


def press(customer: WebChatCustomer, messages: list[dict], action: str) -> list[dict]:
    b = button(messages, action)
    return customer.send(text=b["label"], payload=b["payload"])


def text(messages: list[dict]) -> str:
    return "\n".join(m["text"] for m in messages)


SCRIPTS = {
    "zh": {
        "search": "有没有红色的T恤",
        "qty": "2",
        "checkout": "去结算",
        "form": ["王小明", "139 1234 5678", "北京市朝阳区建国路88号3号楼1201"],
        "yes": "好的",
        "paid": "已收到付款",
        "orders": "我的订单",
        "status": "已付款",
    },
    "en": {
        "search": "runing shoes under 500",
        "qty": "1",
        "checkout": "checkout please",
        "form": ["Jane Doe", "+1 415 555 0132", "500 Market Street, San Francisco, CA 94105"],
        "yes": "yes",
        "paid": "Payment received",
        "orders": "my orders",
        "status": "Paid",
    },
}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_customer_searches_buys_pays_and_sees_the_order_paid(live_shop, lang) -> None:
    s = SCRIPTS[lang]
    customer = WebChatCustomer(live_shop.url)
    assert customer.send(payload="start")  # the page greets on first visit

    # search → product → variant → quantity → cart
    results = customer.send(s["search"])
    assert results[0]["cards"] and all(
        c["image_url"].startswith("/media/") for c in results[0]["cards"]
    )
    image = httpx.get(live_shop.url + results[0]["cards"][0]["image_url"])
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    choices = press(customer, results, "pick")
    asked = press(customer, choices, "variant") if "variant?" in str(choices) else choices
    added = customer.send(s["qty"]) if "add?" in str(asked) else asked
    assert button(added, "checkout")

    # checkout form → summary → confirm → payment link
    prompts = [customer.send(s["checkout"])]
    for answer in s["form"]:
        prompts.append(customer.send(answer))
    assert button(prompts[-1], "confirm")
    placed = customer.send(s["yes"])
    link = placed[0]["link"]["url"]
    number = re.search(r"CS\d{6}[0-9A-Z]{5}", text(placed)).group(0)

    # the sandbox pay page is clearly a test and shows the amount
    page = httpx.get(link)
    assert page.status_code == 200 and ("TEST PAYMENT" in page.text or "测试支付" in page.text)
    amount = re.search(r'id="amount">([^<]+)<', page.text).group(1)
    assert amount in text(placed)
    paid_page = httpx.post(link, follow_redirects=True)
    assert "Paid" in paid_page.text or "已付款" in paid_page.text

    # the confirmation arrives in the chat without the customer typing
    pushed = customer.wait_for_push(s["paid"])
    assert number in pushed["text"]
    assert s["status"] in text(customer.send(s["orders"]))
    with UnitOfWork(live_shop.app.sessions) as uow:
        order = uow.session.scalars(select(Order).filter_by(number=number)).one()
        assert order.status == OrderStatus.PAID

    # paying again changes nothing
    again = httpx.post(link, follow_redirects=True)
    assert again.status_code == 200
    with UnitOfWork(live_shop.app.sessions) as uow:
        events = uow.session.scalars(select(OrderEvent.type).filter_by(order_id=order.id)).all()
    assert events.count("paid") == 1


def place_order(live_shop) -> tuple[WebChatCustomer, str, str]:
    customer = WebChatCustomer(live_shop.url)
    customer.send("hello")
    customer.send(payload="add?sku=TS-001-RED-M&qty=1")
    customer.send("checkout")
    for answer in ["Jane Doe", "+1 415 555 0132", "500 Market Street, San Francisco"]:
        customer.send(answer)
    placed = customer.send(payload="confirm")
    return (
        customer,
        placed[0]["link"]["url"].rsplit("/", 1)[1],
        re.search(r"CS\d{6}[0-9A-Z]{5}", text(placed)).group(0),
    )


def order_status(live_shop, number: str) -> str:
    with UnitOfWork(live_shop.app.sessions) as uow:
        return uow.session.scalars(select(Order.status).filter_by(number=number)).one()


def test_forged_and_replayed_notifications_over_http_change_nothing(live_shop) -> None:
    from store.models import utcnow
    from store.payments import payment_by_token

    _, token, number = place_order(live_shop)
    with UnitOfWork(live_shop.app.sessions) as uow:
        payment = payment_by_token(uow.session, token)
    body, headers = live_shop.app.sandbox.notification_for(payment, utcnow())
    notify = live_shop.url + "/pay/notify/sandbox"

    forged = httpx.post(notify, content=body, headers={"x-sandbox-signature": "f" * 64})
    assert (
        forged.status_code == 400 and order_status(live_shop, number) == OrderStatus.PENDING_PAYMENT
    )
    unsigned = httpx.post(notify, content=b'{"amount": 1}')
    assert unsigned.status_code == 400

    first = httpx.post(notify, content=body, headers=headers)
    replay = httpx.post(notify, content=body, headers=headers)
    assert first.json() == {"outcome": "captured"} and replay.json() == {"outcome": "duplicate"}
    assert order_status(live_shop, number) == OrderStatus.PAID


def test_cancelled_order_cannot_be_paid_on_the_pay_page(live_shop) -> None:
    customer, token, number = place_order(live_shop)
    ask = customer.send(payload=f"cancel?n={number}")
    assert button(ask, "cancel")
    customer.send(payload=f"cancel?n={number}&ok=1")
    page = httpx.get(f"{live_shop.url}/pay/{token}")
    assert "cannot be paid" in page.text and 'id="pay"' not in page.text
    httpx.post(f"{live_shop.url}/pay/{token}")
    assert order_status(live_shop, number) == OrderStatus.CANCELLED


def test_bad_requests_to_the_chat_api_are_refused_cleanly(live_shop) -> None:
    api = live_shop.url + "/chat/api/messages"
    assert httpx.post(api, json={"client_id": "1 2", "text": "hi"}).status_code == 422
    assert (
        httpx.post(
            api, content=b"not json", headers={"content-type": "application/json"}
        ).status_code
        == 422
    )
    assert WebChatCustomer(live_shop.url).poll() == []  # a new session has no history
    assert httpx.get(live_shop.url + "/pay/not-a-token").status_code == 404
    assert httpx.get(live_shop.url + "/healthz").json() == {"status": "ok"}
