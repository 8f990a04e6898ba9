"""Test payments are a demo tool: which channels offer them, and when the shop refuses to start."""

from __future__ import annotations

import shutil

import pytest
from sqlalchemy import select

from bot.bootstrap import (
    NO_REAL_PROVIDER,
    bootstrap,
    payment_problem,
    payment_setup,
    sandbox_warning,
)
from bot.config import Settings
from dialogs.i18n import t
from store.errors import DomainError, ErrorCode
from store.models import CartLine, Order, Variant
from store.pay_methods import PayMethods, SandboxMode
from store.uow import UnitOfWork
from tests.conftest import Customer_, make_shop, new_customer, texts

TELEGRAM = {"telegram_bot_token": "1:x", "telegram_payment_provider_token": "p"}
WECHAT = {
    "wechat_app_id": "wx1",
    "wechat_app_secret": "s",
    "wechat_token": "t",
    "wechat_pay_mch_id": "m",
    "wechat_pay_api_key": "k" * 32,
}


def settings(tmp_path, **more) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path}/x.db",
        data_dir=str(tmp_path),
        sandbox_secret="x",
        **more,
    )


def offered(setup, channel: str) -> str:
    methods = setup.for_channel(channel)
    link = methods.link.name if methods.link else "-"
    return f"{link}{'+native' if methods.native else ''}"


def test_a_real_shop_never_offers_test_payments(tmp_path) -> None:
    setup = payment_setup(settings(tmp_path, **TELEGRAM, **WECHAT))
    assert setup.mode == SandboxMode.OFF and setup.sandbox is None
    assert offered(setup, "telegram") == "-+native"
    assert offered(setup, "wechat") == "-+native"  # the JSAPI page is added by bootstrap
    assert offered(setup, "web") == "-"


def test_the_demo_offers_test_payments_only_where_nothing_real_is(tmp_path) -> None:
    setup = payment_setup(settings(tmp_path, **TELEGRAM), demo=True)
    assert setup.mode == SandboxMode.FALLBACK
    assert offered(setup, "web") == "sandbox"
    assert offered(setup, "telegram") == "-+native"
    assert offered(setup, "wechat") == "sandbox"


def test_a_merchant_who_asks_gets_test_payments_beside_real_ones(tmp_path) -> None:
    setup = payment_setup(settings(tmp_path, sandbox_payments=True, **TELEGRAM))
    assert offered(setup, "telegram") == "sandbox+native"
    assert offered(setup, "web") == "sandbox"
    assert payment_setup(settings(tmp_path, sandbox_payments=False), demo=True).sandbox is None


@pytest.mark.parametrize(
    ("more", "demo", "problem"),
    [
        ({}, False, "No way to take payment"),
        (TELEGRAM, False, None),
        (WECHAT, False, None),
        ({}, True, None),
        ({"public_url": "https://shop.example.com"}, True, "only runs on this machine"),
        ({"host": "0.0.0.0"}, True, "only runs on this machine"),
        ({"public_url": "https://shop.example.com", "sandbox_payments": True}, False, None),
        ({"public_url": "http://localhost:8000"}, True, None),
        ({"sandbox_payments": False}, True, "No way to take payment"),
    ],
)
def test_the_shop_refuses_to_start_without_a_safe_way_to_pay(tmp_path, more, demo, problem):
    found = payment_problem(settings(tmp_path, **more), demo)
    assert (found is None) if problem is None else (problem in found)


def test_serve_names_what_is_missing(tmp_path) -> None:
    found = payment_problem(settings(tmp_path))
    assert found == NO_REAL_PROVIDER
    assert "TELEGRAM_PAYMENT_PROVIDER_TOKEN" in found and "WECHAT_PAY_MCH_ID" in found


def test_the_start_warning_names_the_channels_with_test_payments(tmp_path, interpreter) -> None:
    app = bootstrap(settings(tmp_path, sandbox_payments=True, **TELEGRAM), interpreter)
    assert "web, telegram" in sandbox_warning(app)
    app.engine.dispose()
    quiet = bootstrap(settings(tmp_path, **TELEGRAM), interpreter)
    assert sandbox_warning(quiet) is None
    quiet.engine.dispose()


@pytest.mark.parametrize(("lang", "checkout"), [("zh", "去结算"), ("en", "checkout please")])
def test_checkout_is_refused_politely_where_nothing_can_pay(
    sample_db, tmp_path, interpreter, lang, checkout
) -> None:
    db = tmp_path / "shop.db"
    shutil.copyfile(sample_db, db)
    app = bootstrap(
        settings(tmp_path, sandbox_payments=False).model_copy(
            update={"database_url": f"sqlite:///{db}"}
        ),
        interpreter,
    )
    app.refresh_catalog()
    customer = Customer_(app)
    customer.send(payload=f"start?lang={lang}")
    with UnitOfWork(app.sessions) as uow:
        sku = uow.session.scalars(select(Variant.sku).where(Variant.stock > 0)).first()
    customer.send(payload=f"add?sku={sku}&qty=1")
    assert t(lang, "errors.no_payment_method") in texts(customer.send(checkout))
    with UnitOfWork(app.sessions) as uow:
        assert uow.session.scalars(select(Order)).first() is None
        assert uow.session.scalars(select(CartLine)).first() is not None  # the cart is kept
    app.engine.dispose()


def test_the_store_refuses_an_order_it_could_not_take_payment_for(sessions) -> None:
    customer = new_customer(sessions)
    with UnitOfWork(sessions) as uow:
        shop = make_shop(uow.session, customer, pay=PayMethods())
        shop.add_to_cart(uow.session.scalars(select(Variant.sku)).first(), 1)
        with pytest.raises(DomainError) as refused:
            shop.place_order("王小明", "13912345678", "北京市朝阳区建国路88号3号楼", "zh")
        assert refused.value.code == ErrorCode.NO_PAYMENT_METHOD
        assert not shop.orders() and not shop.cart().empty
