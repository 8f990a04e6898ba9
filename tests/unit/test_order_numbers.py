"""Order numbers: dated and random (not enumerable), unique, and found however they are typed;
numbers of the first, sequential format keep working. Re-run on SQL in tests/integration."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from store import carts, order_numbers, orders
from store.models import Order, OrderStatus, Variant, utcnow
from store.uow import UnitOfWork
from tests.conftest import new_customer

SHIP = orders.ShippingDetails("Li Lei", "13800000000", "1 Test Road, Shenzhen")
NEW_FORMAT = re.compile(r"CS\d{6}[0-9ABCDEFGHJKMNPQRSTVWXYZ]{5}")


def place(sessions, sku: str = "TEE-1-RED-M", now: datetime | None = None) -> Order:
    customer = new_customer(sessions)
    with UnitOfWork(sessions) as uow:
        carts.add_to_cart(uow.session, customer, sku, 1)
        order = orders.place_order(
            uow.session,
            orders.Recipient(customer, None, "en"),
            SHIP,
            now or utcnow(),
            timedelta(minutes=30),
        )
        uow.commit()
        return order


def test_new_orders_get_a_dated_random_number_not_the_next_in_a_sequence(sessions) -> None:
    day = datetime(2026, 11, 29, 23, 59, tzinfo=UTC)
    numbers = [place(sessions, now=day).number for _ in range(3)]
    assert all(NEW_FORMAT.fullmatch(n) and n.startswith("CS261129") for n in numbers), numbers
    assert len(set(numbers)) == 3
    assert all(len(n) == 13 for n in numbers)  # short enough to read out on the phone


def test_a_number_already_taken_is_drawn_again_and_stock_is_reserved_once(
    sessions, monkeypatch
) -> None:
    taken = place(sessions).number
    draws = iter([taken, "CS261129ABCDE"])
    monkeypatch.setattr(order_numbers, "new_number", lambda now: next(draws))
    order = place(sessions, sku="BAG-1-BLK")
    assert order.number == "CS261129ABCDE"
    with UnitOfWork(sessions) as uow:
        assert uow.session.scalar(select(func.count()).select_from(Order)) == 2
        assert uow.session.scalars(select(Variant.stock).filter_by(sku="BAG-1-BLK")).one() == 0
        assert len(uow.session.get(Order, order.id).lines) == 1


def test_an_order_with_an_old_sequential_number_is_still_found_and_cancelled(sessions) -> None:
    order = place(sessions)
    with UnitOfWork(sessions) as uow:
        uow.session.get(Order, order.id).number = "CS100001"  # placed before numbers changed
        uow.commit()
    with UnitOfWork(sessions) as uow:
        assert orders.get_order(uow.session, order.customer_id, "cs100001").id == order.id
        assert orders.language_of(uow.session, "CS100001") == "en"
        orders.cancel_order(uow.session, order.customer_id, " CS100001 ", "customer", utcnow())
        uow.commit()
    with UnitOfWork(sessions) as uow:
        assert uow.session.get(Order, order.id).status == OrderStatus.CANCELLED


def test_a_new_number_is_found_in_any_case_with_dashes_or_spaces_typed(sessions) -> None:
    order = place(sessions)
    number = order.number
    typed = [
        number.lower(),
        f"{number[:2]}-{number[2:8]}-{number[8:]}",
        f"{number[:8]} {number[8:]}",
    ]
    with UnitOfWork(sessions) as uow:
        for text in typed:
            assert orders.get_order(uow.session, order.customer_id, text).id == order.id, text


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("cs2611297kq4m", "CS2611297KQ4M"),
        ("CS-261129-7KQ4M", "CS2611297KQ4M"),
        ("CS261129 7KQ4M", "CS2611297KQ4M"),
        ("cs2611297kqO1", "CS2611297KQ01"),  # Crockford: O is read as 0
        ("CS2611297KQIL", "CS2611297KQ11"),  # I and L as 1
        ("cs100001", "CS100001"),
        ("CS1000I1", "CS1000I1"),  # the old format was all digits: no reading into it
    ],
)
def test_typed_numbers_are_read_the_way_the_alphabet_means(typed: str, stored: str) -> None:
    assert order_numbers.canonical(typed) == stored


def test_the_random_part_never_uses_letters_that_look_like_digits() -> None:
    now = datetime(2026, 1, 2, tzinfo=UTC)
    drawn = "".join(order_numbers.new_number(now)[8:] for _ in range(2000))
    assert not set(drawn) & set("ILOU")
    assert len(set(drawn)) == 32  # and all of the other 32 do come up
