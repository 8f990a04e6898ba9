"""A real shop (a real payment provider, test payments not asked for) offers no free way to
pay: no sandbox link, no sandbox page, and a channel without a provider takes no orders."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from dialogs.i18n import t
from store.models import Order, OrderStatus, Payment
from store.uow import UnitOfWork
from tests.e2e.conftest import WebChatCustomer
from tests.e2e.test_telegram import shop_until_order_placed, telegram_shop


def test_a_telegram_order_in_a_real_shop_can_only_be_paid_with_the_invoice(
    sample_db, tmp_path, interpreter
) -> None:
    with telegram_shop(
        sample_db, tmp_path, interpreter, webhook=False, sandbox_payments=None
    ) as shop:
        user = shop.fake.user(2001, "Li", "zh-hans")
        shop_until_order_placed(user, "zh")
        [order] = shop.orders_of(user)
        placed = user.wait_for(lambda m: order.number in m.text and m.kind == "text")
        assert "/pay/" not in placed.text
        assert not any(b.get("url") for b in placed.buttons)

        with UnitOfWork(shop.app.sessions) as uow:
            tokens = list(uow.session.scalars(select(Payment.token)))
        http = httpx.Client(base_url=shop.url)
        for token in [*tokens, "anything"]:  # the old free-order hole: POST /pay/<token>
            assert http.get(f"/pay/{token}").status_code == 404
            assert http.post(f"/pay/{token}").status_code == 404
        assert http.post("/pay/notify/sandbox", content=b"{}").status_code == 404
        [order] = shop.orders_of(user)
        assert order.status == OrderStatus.PENDING_PAYMENT


def test_the_web_chat_of_a_shop_without_a_web_provider_takes_no_order(
    sample_db, tmp_path, interpreter
) -> None:
    with telegram_shop(
        sample_db, tmp_path, interpreter, webhook=False, sandbox_payments=None
    ) as shop:
        customer = WebChatCustomer(shop.url)
        customer.send("有没有红色的T恤")
        customer.send(payload="add?sku=" + _any_sku(shop) + "&qty=1")
        replies = customer.send("去结算")
        assert t("zh", "errors.no_payment_method") in "\n".join(m["text"] for m in replies)
        assert "购物车" in customer.send("购物车")[0]["text"]  # the cart is kept
        with UnitOfWork(shop.app.sessions) as uow:
            assert uow.session.scalars(select(Order)).first() is None


def _any_sku(shop) -> str:
    from store.models import Variant

    with UnitOfWork(shop.app.sessions) as uow:
        return uow.session.scalars(select(Variant.sku).where(Variant.stock > 0)).first()
