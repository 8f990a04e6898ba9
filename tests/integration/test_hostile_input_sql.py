"""Inputs that once broke the shop on a real database (PostgreSQL above all) get a polite
answer and change nothing: NUL bytes, lone surrogates, numbers that are not numbers, ids past
the database's integers, and signed notifications whose fields cannot be stored."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from bot.bootstrap import App, bootstrap
from bot.config import Settings
from dialogs.i18n import t
from store import payments
from store.errors import DomainError
from store.models import CartLine, Message, PaymentNotification, utcnow
from store.uow import UnitOfWork
from tests.conftest import Customer_, texts


@pytest.fixture
def app(sql_sessions, store_url: str, tmp_path, interpreter) -> Iterator[App]:
    settings = Settings(
        database_url=store_url,
        data_dir=str(tmp_path),
        sandbox_secret="hostile",
        sandbox_payments=True,
    )
    shop = bootstrap(settings, interpreter)
    shop.refresh_catalog()
    yield shop
    shop.engine.dispose()


def count(app: App, model) -> int:
    with UnitOfWork(app.sessions) as uow:
        return uow.session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("text", ["hello\x00there", "red\ud800 t-shirt", "\x00", "\udfff\x07"])
def test_nul_bytes_and_lone_surrogates_are_recorded_cleanly_and_answered(app, text) -> None:
    customer = Customer_(app)
    replies = customer.send(text)
    assert replies and t("en", "errors.internal") not in texts(replies)
    with UnitOfWork(app.sessions) as uow:
        recorded = uow.session.scalars(select(Message.text).filter_by(direction="in")).one()
    assert "\x00" not in recorded and "\ud800" not in recorded


@pytest.mark.parametrize(
    "payload",
    [
        "add?sku=TS-001-RED-M&qty=inf",
        "add?sku=TS-001-RED-M&qty=1e400",
        "add?sku=TS-001-RED-M&qty=nan",
        "pick?p=²",
        "pick?p=99999999999999999999",
        "detail?p=2147483648",
        "addr?id=²",
        "addr?id=9223372036854775808",
        "qty?sku=TS-001-RED-M&q=-inf",
        "page?n=1e400",
    ],
)
def test_numbers_that_are_not_numbers_get_a_polite_answer(app, payload) -> None:
    customer = Customer_(app)
    customer.send(payload="start?lang=en")
    replies = customer.send(payload=payload)
    assert replies and t("en", "errors.internal") not in texts(replies)
    assert count(app, CartLine) == 0


def test_a_signed_notification_too_long_to_store_is_refused(app) -> None:
    assert app.sandbox is not None
    body = json.dumps(
        {
            "notify_id": "n" * 129,
            "payment_token": "t" * 32,
            "txn_id": "x",
            "amount": 1,
            "currency": "CNY",
            "status": "succeeded",
            "timestamp": int(time.time()),
        }
    ).encode()
    headers = {app.sandbox.SIGNATURE_HEADER: app.sandbox.sign(body)}
    with UnitOfWork(app.sessions) as uow, pytest.raises(DomainError):
        payments.handle_notification(uow.session, app.sandbox, body, headers, utcnow())
    assert count(app, PaymentNotification) == 0
