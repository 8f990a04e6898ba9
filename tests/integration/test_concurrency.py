"""Many customers racing for the last units never oversell, on SQLite and PostgreSQL."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import func, select

from store import carts, orders
from store.errors import DomainError, ErrorCode
from store.models import Order, Variant, utcnow
from store.uow import UnitOfWork
from tests.conftest import new_customer

SHIP = orders.ShippingDetails("Li Lei", "13800000000", "1 Test Road, Shenzhen")


def test_fifty_checkouts_for_the_last_ten_units_make_exactly_ten_orders(sql_sessions) -> None:
    # given 50 customers, each with one of the 10 remaining units in their cart
    customers = [new_customer(sql_sessions) for _ in range(50)]
    for customer in customers:
        with UnitOfWork(sql_sessions) as uow:
            carts.add_to_cart(uow.session, customer, "RUN-1-BLK-42", 1)
            uow.commit()

    def checkout(customer: int) -> str:
        with UnitOfWork(sql_sessions) as uow:
            try:
                orders.place_order(
                    uow.session,
                    orders.Recipient(customer, None, "en"),
                    SHIP,
                    utcnow(),
                    timedelta(minutes=30),
                )
            except DomainError as error:
                assert error.code == ErrorCode.OUT_OF_STOCK
                return "refused"
            uow.commit()
            return "ordered"

    # when they all check out at once
    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(pool.map(checkout, customers))

    # then exactly ten get an order and the stock is zero, never negative
    assert outcomes.count("ordered") == 10
    with UnitOfWork(sql_sessions) as uow:
        assert uow.session.scalar(select(func.count()).select_from(Order)) == 10
        assert uow.session.scalars(select(Variant.stock).filter_by(sku="RUN-1-BLK-42")).one() == 0
