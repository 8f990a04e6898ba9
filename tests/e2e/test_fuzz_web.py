"""Property: no input to the web chat API or the payment notification endpoint gets a 5xx or
leaves a traceback in the log, and none of them marks anything paid that should not be.

CHATSHOP_FUZZ_EXAMPLES sets the examples per surface (CI: the default); bench/fuzz.py runs
100,000 per surface against a live server."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from bot.bootstrap import bootstrap
from bot.server import create_app
from store.models import Order, OrderStatus, Payment, PaymentStatus
from store.uow import UnitOfWork
from tests import fuzzing
from tests.conftest import free_port, serve_in_thread
from tests.e2e.conftest import (
    FUZZ,
    UNLIMITED,
    LiveShop,
    WebChatCustomer,
    no_errors,
    sample_shop_settings,
)


@pytest.fixture(scope="module")
def fuzz_shop(sample_db, tmp_path_factory, interpreter) -> Iterator[LiveShop]:
    port, data_dir = free_port(), tmp_path_factory.mktemp("fuzz")
    app = bootstrap(sample_shop_settings(sample_db, data_dir, port, **UNLIMITED), interpreter)
    app.refresh_catalog()
    with serve_in_thread(create_app(app), port) as url:
        yield LiveShop(url, app)
    app.engine.dispose()


@pytest.fixture(scope="module")
def customers(fuzz_shop) -> list[WebChatCustomer]:
    """A few sessions, so fuzzed messages also reach mid-checkout and mid-cart states."""
    return [WebChatCustomer(fuzz_shop.url) for _ in range(4)]


def send(http: httpx.Client, request: fuzzing.Request) -> httpx.Response:
    return http.request(
        request.method,
        request.path,
        content=request.body,
        headers=request.headers,
        params=request.params,
    )


@FUZZ
@given(r=st.randoms(use_true_random=False), who=st.integers(0, 3))
def test_the_chat_api_answers_every_input_without_a_server_error(
    fuzz_shop, customers, tracebacks, r: random.Random, who: int
) -> None:
    http = customers[who].http
    for request in (fuzzing.chat_message(r), fuzzing.chat_history(r)):
        answer = send(http, request)
        assert answer.status_code < 500, (request, answer.text[:300])
        assert answer.headers["content-type"].startswith("application/json")
    no_errors(tracebacks)


@pytest.fixture(scope="module")
def unpaid_orders(fuzz_shop) -> list[str]:
    """Orders waiting for money, so fuzzed notifications also name real payments: their
    payments' tokens."""
    for _ in range(3):
        buyer = WebChatCustomer(fuzz_shop.url)
        buyer.send(payload="add?sku=TS-001-RED-M&qty=1")
        for answer in ["checkout", "Ann Lee", "13800138000", "1 Harbour Road, Hong Kong", "yes"]:
            buyer.send(answer)
    tokens = _tokens(fuzz_shop)
    assert len(tokens) == 3
    return tokens


@pytest.fixture(scope="module")
def http(fuzz_shop) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fuzz_shop.url) as client:  # one connection, not one per input
        yield client


@FUZZ
@given(r=st.randoms(use_true_random=False))
def test_signed_but_malformed_notifications_never_fail_or_pay_wrongly(
    fuzz_shop, unpaid_orders, http, tracebacks, r: random.Random
) -> None:
    sandbox = fuzz_shop.app.sandbox
    assert sandbox is not None
    body = fuzzing.sandbox_notification(r, unpaid_orders, int(time.time()))
    answer = http.post(
        "/pay/notify/sandbox",
        content=body,
        headers={sandbox.SIGNATURE_HEADER: sandbox.sign(body)},
    )
    assert answer.status_code < 500, (body[:300], answer.text[:300])
    no_errors(tracebacks)
    _every_capture_pays_its_own_order_at_its_amount(fuzz_shop)


def _tokens(shop: LiveShop) -> list[str]:
    with UnitOfWork(shop.app.sessions) as uow:
        return list(uow.session.scalars(select(Payment.token).limit(20)))


def _every_capture_pays_its_own_order_at_its_amount(shop: LiveShop) -> None:
    with UnitOfWork(shop.app.sessions) as uow:
        for payment, order in uow.session.execute(
            select(Payment, Order).join(Order, Order.id == Payment.order_id)
        ):
            if payment.status == PaymentStatus.CAPTURED:
                assert order.status == OrderStatus.PAID and payment.amount == order.total
