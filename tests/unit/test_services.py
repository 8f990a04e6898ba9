"""Store rules. The same tests run on SQLite files and PostgreSQL in tests/integration."""

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from store import carts, customers, orders, payments
from store.errors import DomainError, ErrorCode
from store.models import (
    ChannelIdentity,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    OutboxMessage,
    Payment,
    PaymentStatus,
    Variant,
    utcnow,
)
from store.uow import UnitOfWork
from tests.conftest import SANDBOX, new_customer

SHIP = orders.ShippingDetails("张伟", "138 1234 5678", "上海市浦东新区世纪大道100号")


def stock(sessions, sku: str) -> int:
    with UnitOfWork(sessions) as uow:
        return uow.session.scalars(select(Variant.stock).filter_by(sku=sku)).one()


def place(sessions, customer_id: int, lines: dict[str, int]) -> Order:
    with UnitOfWork(sessions) as uow:
        for sku, qty in lines.items():
            carts.add_to_cart(uow.session, customer_id, sku, qty)
        order = orders.place_order(
            uow.session,
            orders.Recipient(customer_id, None, "zh"),
            SHIP,
            utcnow(),
            timedelta(minutes=30),
        )
        uow.commit()
        return order


@pytest.mark.parametrize("quantity", [0, -1, 10**9])
def test_silly_quantities_are_refused_and_cart_unchanged(sessions, quantity: int) -> None:
    customer = new_customer(sessions)
    with UnitOfWork(sessions) as uow:
        with pytest.raises(DomainError) as error:
            carts.add_to_cart(uow.session, customer, "TEE-1-RED-M", quantity)
        assert error.value.code == ErrorCode.BAD_QUANTITY
        assert carts.get_cart(uow.session, customer).empty


def test_cannot_put_more_in_cart_than_in_stock(sessions) -> None:
    customer = new_customer(sessions)
    with UnitOfWork(sessions) as uow:
        with pytest.raises(DomainError) as error:
            carts.add_to_cart(uow.session, customer, "TEE-1-RED-L", 6)
        assert error.value.code == ErrorCode.OUT_OF_STOCK and error.value.params["available"] == 5


def test_unknown_sku_is_refused(sessions) -> None:
    customer = new_customer(sessions)
    with UnitOfWork(sessions) as uow:
        with pytest.raises(DomainError) as error:
            carts.add_to_cart(uow.session, customer, "NOPE-1", 1)
        assert error.value.code == ErrorCode.UNKNOWN_SKU


def test_placing_an_order_reserves_stock_snapshots_prices_and_empties_cart(sessions) -> None:
    customer = new_customer(sessions)
    order = place(sessions, customer, {"TEE-1-RED-M": 2, "BAG-1-BLK": 1})
    assert order.number.startswith("CS") and order.total == 2 * 7900 + 25900
    assert stock(sessions, "TEE-1-RED-M") == 8 and stock(sessions, "BAG-1-BLK") == 0
    with UnitOfWork(sessions) as uow:
        uow.session.scalars(select(Variant).filter_by(sku="TEE-1-RED-M")).one().price = 9900
        uow.commit()
    with UnitOfWork(sessions) as uow:
        line = uow.session.scalars(
            select(OrderLine).filter_by(order_id=order.id, sku="TEE-1-RED-M")
        ).one()
        assert line.unit_price == 7900
        assert carts.get_cart(uow.session, customer).empty
        assert uow.session.scalars(select(OrderEvent.type).filter_by(order_id=order.id)).all() == [
            "placed"
        ]


def test_an_order_that_would_oversell_reserves_nothing(sessions) -> None:
    first, second = new_customer(sessions), new_customer(sessions)
    with UnitOfWork(sessions) as uow:
        carts.add_to_cart(uow.session, second, "TEE-1-RED-M", 1)
        carts.add_to_cart(uow.session, second, "BAG-1-BLK", 1)
        uow.commit()
    place(sessions, first, {"BAG-1-BLK": 1})
    with pytest.raises(DomainError) as error:
        place(sessions, second, {})
    assert error.value.code == ErrorCode.OUT_OF_STOCK
    assert stock(sessions, "TEE-1-RED-M") == 10


def test_empty_cart_cannot_be_ordered(sessions) -> None:
    with pytest.raises(DomainError) as error:
        place(sessions, new_customer(sessions), {})
    assert error.value.code == ErrorCode.EMPTY_CART


@pytest.mark.parametrize("phone", ["12345", "abc", "+1 23", "138123456789"])
def test_invalid_phone_is_refused(sessions, phone: str) -> None:
    customer = new_customer(sessions)
    with UnitOfWork(sessions) as uow:
        carts.add_to_cart(uow.session, customer, "TEE-1-RED-M", 1)
        with pytest.raises(DomainError) as error:
            orders.place_order(
                uow.session,
                orders.Recipient(customer, None, "zh"),
                orders.ShippingDetails("张伟", phone, "上海市浦东新区世纪大道100号"),
                utcnow(),
                timedelta(minutes=30),
            )
        assert error.value.code == ErrorCode.BAD_PHONE


def test_cancelling_an_unpaid_order_releases_stock_once(sessions) -> None:
    customer = new_customer(sessions)
    order = place(sessions, customer, {"TEE-1-RED-M": 3})
    with UnitOfWork(sessions) as uow:
        orders.cancel_order(uow.session, customer, order.number, "customer", utcnow())
        uow.commit()
    assert stock(sessions, "TEE-1-RED-M") == 10
    with UnitOfWork(sessions) as uow:
        with pytest.raises(DomainError) as error:
            orders.cancel_order(uow.session, customer, order.number, "customer", utcnow())
        assert error.value.code == ErrorCode.ORDER_NOT_CANCELLABLE
    assert stock(sessions, "TEE-1-RED-M") == 10


def test_someone_elses_order_is_invisible(sessions) -> None:
    order = place(sessions, new_customer(sessions), {"TEE-1-RED-M": 1})
    with UnitOfWork(sessions) as uow:
        with pytest.raises(DomainError) as error:
            orders.get_order(uow.session, new_customer(sessions), order.number)
        assert error.value.code == ErrorCode.UNKNOWN_ORDER


def test_unpaid_orders_are_cancelled_after_the_timeout(sessions) -> None:
    order = place(sessions, new_customer(sessions), {"TEE-1-RED-M": 2})
    with UnitOfWork(sessions) as uow:
        assert orders.cancel_expired(uow.session, utcnow()) == []
        assert orders.cancel_expired(uow.session, utcnow() + timedelta(minutes=31)) == [
            order.number
        ]
        uow.commit()
    assert stock(sessions, "TEE-1-RED-M") == 10


# --- payments -----------------------------------------------------------------------------


def pay_link(sessions, order: Order) -> Payment:
    with UnitOfWork(sessions) as uow:
        payment = payments.start_payment(
            uow.session, SANDBOX, uow.session.get(Order, order.id), utcnow()
        )
        uow.commit()
        return payment


def notify(sessions, body: bytes, headers: dict[str, str]) -> str:
    with UnitOfWork(sessions) as uow:
        outcome = payments.handle_notification(uow.session, SANDBOX, body, headers, utcnow())
        uow.commit()
        return outcome


def order_state(sessions, order: Order) -> tuple[str, str, int]:
    with UnitOfWork(sessions) as uow:
        row = uow.session.get(Order, order.id)
        pushes = uow.session.scalar(select(func.count()).select_from(OutboxMessage))
        return row.status, row.payment_status, pushes


def test_signed_notification_marks_paid_and_queues_one_confirmation(sessions) -> None:
    order = place(sessions, new_customer(sessions), {"TEE-1-RED-M": 1})
    payment = pay_link(sessions, order)
    assert pay_link(sessions, order).token == payment.token  # asking again: same link
    assert notify(sessions, *SANDBOX.notification_for(payment, utcnow())) == "captured"
    assert order_state(sessions, order) == (OrderStatus.PAID, PaymentStatus.CAPTURED, 0)


def test_duplicate_and_second_notifications_change_nothing(sessions) -> None:
    customer = new_customer(sessions)
    with UnitOfWork(sessions) as uow:
        from store.customers import identify

        identity = identify(uow.session, "web", "dupe-test")
        uow.commit()
    with UnitOfWork(sessions) as uow:
        carts.add_to_cart(uow.session, identity.customer_id, "TEE-1-RED-M", 1)
        order = orders.place_order(
            uow.session,
            orders.Recipient(identity.customer_id, identity.id, "en"),
            SHIP,
            utcnow(),
            timedelta(minutes=30),
        )
        uow.commit()
    assert customer
    payment = pay_link(sessions, order)
    body, headers = SANDBOX.notification_for(payment, utcnow())
    assert notify(sessions, body, headers) == "captured"
    assert notify(sessions, body, headers) == "duplicate"
    assert notify(sessions, *SANDBOX.notification_for(payment, utcnow())) == "already_captured"
    assert order_state(sessions, order) == (OrderStatus.PAID, PaymentStatus.CAPTURED, 1)


def test_forged_notifications_are_rejected(sessions) -> None:
    order = place(sessions, new_customer(sessions), {"TEE-1-RED-M": 1})
    payment = pay_link(sessions, order)
    body, headers = SANDBOX.notification_for(payment, utcnow())
    tampered = body.replace(str(payment.amount).encode(), b"1")
    for bad_body, bad_headers in [
        (tampered, headers),
        (body, {}),
        (body, {"x-sandbox-signature": "0" * 64}),
    ]:
        with pytest.raises(DomainError) as error:
            notify(sessions, bad_body, bad_headers)
        assert error.value.code == ErrorCode.BAD_NOTIFICATION
    assert order_state(sessions, order)[:2] == (OrderStatus.PENDING_PAYMENT, PaymentStatus.PENDING)


def test_stale_replayed_notification_is_rejected(sessions) -> None:
    order = place(sessions, new_customer(sessions), {"TEE-1-RED-M": 1})
    payment = pay_link(sessions, order)
    old = SANDBOX.notification_for(payment, utcnow() - timedelta(hours=1))
    with pytest.raises(DomainError):
        notify(sessions, *old)
    assert order_state(sessions, order)[0] == OrderStatus.PENDING_PAYMENT


def test_wrong_amount_is_never_marked_paid(sessions) -> None:
    order = place(sessions, new_customer(sessions), {"TEE-1-RED-M": 1})
    payment = pay_link(sessions, order)
    data = json.loads(SANDBOX.notification_for(payment, utcnow())[0])
    data["amount"] = 1
    body = json.dumps(data).encode()
    assert notify(sessions, body, {"x-sandbox-signature": SANDBOX.sign(body)}) == "amount_mismatch"
    assert order_state(sessions, order)[0] == OrderStatus.PENDING_PAYMENT


def test_payment_for_a_cancelled_order_does_not_revive_it(sessions) -> None:
    customer = new_customer(sessions)
    order = place(sessions, customer, {"TEE-1-RED-M": 1})
    payment = pay_link(sessions, order)
    with UnitOfWork(sessions) as uow:
        orders.cancel_order(uow.session, customer, order.number, "customer", utcnow())
        uow.commit()
    assert notify(sessions, *SANDBOX.notification_for(payment, utcnow())) == "order_not_payable"
    assert order_state(sessions, order)[0] == OrderStatus.CANCELLED
    assert stock(sessions, "TEE-1-RED-M") == 10


def test_paid_or_cancelled_orders_get_no_new_payment_link(sessions) -> None:
    customer = new_customer(sessions)
    order = place(sessions, customer, {"TEE-1-RED-M": 1})
    with UnitOfWork(sessions) as uow:
        orders.cancel_order(uow.session, customer, order.number, "customer", utcnow())
        uow.commit()
    with pytest.raises(DomainError) as error:
        pay_link(sessions, order)
    assert error.value.code == ErrorCode.ORDER_NOT_PAYABLE


def wechat_identity(sessions) -> int:
    with UnitOfWork(sessions) as uow:
        identity = customers.identify(uow.session, "wechat", "o_window")
        uow.commit()
        return identity.id


def interact(sessions, identity_id: int, now, window) -> None:
    with UnitOfWork(sessions) as uow:
        customers.note_inbound(uow.session.get(ChannelIdentity, identity_id), now, window)
        uow.commit()


def spend(sessions, identity_id: int, count: int, now) -> bool:
    with UnitOfWork(sessions) as uow:
        allowed = customers.take_from_window(uow.session, identity_id, count, now)
        uow.commit()
        return allowed


def test_a_reply_window_allows_its_quota_once_and_closes_on_time(sessions) -> None:
    identity = wechat_identity(sessions)
    now = utcnow()
    assert not spend(sessions, identity, 1, now)  # never wrote: nothing may be pushed
    interact(sessions, identity, now, (5, 48 * 3600))
    assert spend(sessions, identity, 3, now)
    assert not spend(sessions, identity, 3, now)  # only 2 left: nothing is spent
    assert spend(sessions, identity, 2, now)
    assert not spend(sessions, identity, 1, now)
    # a menu click resets to the larger of what is left and what it grants, never adds up
    interact(sessions, identity, now, (3, 60))
    assert spend(sessions, identity, 3, now) and not spend(sessions, identity, 1, now)
    interact(sessions, identity, now, (5, 48 * 3600))
    assert not spend(sessions, identity, 1, now + timedelta(hours=48, minutes=1))
