"""The order state machine. Every transition locks the order row, checks the current state,
records an event and queues its customer push in the same transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store import carts, customers, order_numbers, outbox, stock
from store.errors import DomainError, ErrorCode
from store.models import Order, OrderEvent, OrderLine, OrderStatus, PaymentStatus


@dataclass(frozen=True)
class Recipient:
    """Who placed the order and how to reach them."""

    customer_id: int
    identity_id: int | None
    language: str


@dataclass(frozen=True)
class ShippingDetails:
    name: str
    phone: str
    address: str


NUMBER_ATTEMPTS = 8  # a day has 33.5 million numbers: a second clash is all but impossible


def place_order(
    session: Session,
    recipient: Recipient,
    shipping: ShippingDetails,
    now: datetime,
    payment_timeout: timedelta,
) -> Order:
    """Turn the cart into an order: snapshot prices, reserve stock, empty the cart.

    Raises EMPTY_CART, OUT_OF_STOCK (nothing reserved) or a contact-validation error.
    """
    name = customers.clean_name(shipping.name)
    phone = customers.normalize_phone(shipping.phone)
    address = customers.clean_address(shipping.address)
    cart = carts.get_cart(session, recipient.customer_id)
    if cart.empty:
        raise DomainError(ErrorCode.EMPTY_CART)
    # Lock rows in one global order (variant id) so concurrent checkouts cannot deadlock.
    for line in sorted(cart.lines, key=lambda line: line.variant_id):
        if not stock.reserve(session, line.variant_id, line.quantity):
            session.refresh(line.variant)
            raise DomainError(
                ErrorCode.OUT_OF_STOCK, sku=line.variant.sku, available=line.variant.stock
            )
    order = Order(
        customer_id=recipient.customer_id,
        identity_id=recipient.identity_id,
        status=OrderStatus.PENDING_PAYMENT,
        payment_status=PaymentStatus.PENDING,
        currency=cart.currency,
        total=cart.total,
        ship_name=name,
        ship_phone=phone,
        ship_address=address,
        language=recipient.language,
        created_at=now,
        pay_by=now + payment_timeout,
    )
    _insert_with_new_number(session, order, now)
    for line in cart.lines:
        v = line.variant
        session.add(
            OrderLine(
                order_id=order.id,
                variant_id=v.id,
                sku=v.sku,
                name_en=v.product.name_en,
                name_zh=v.product.name_zh,
                color=v.color,
                size=v.size,
                unit_price=v.price,
                quantity=line.quantity,
            )
        )
    _record(session, order, "placed", "", OrderStatus.PENDING_PAYMENT, "customer", now)
    customers.remember_address(session, recipient.customer_id, name, phone, address, now)
    carts.clear_cart(session, recipient.customer_id)
    session.flush()
    return order


def _insert_with_new_number(session: Session, order: Order, now: datetime) -> None:
    """Insert `order` under a fresh random number. A clash with a number already taken rolls
    back only a savepoint, so the stock locks this transaction holds are kept."""
    session.flush()  # earlier changes stay out of the savepoint a clash rolls back
    for _ in range(NUMBER_ATTEMPTS):
        order.number = order_numbers.new_number(now)
        try:
            with session.begin_nested():
                session.add(order)
                session.flush()
            return
        except IntegrityError:
            if not _number_taken(session, order.number):
                raise  # some other constraint: not ours to retry
    raise RuntimeError(f"no free order number after {NUMBER_ATTEMPTS} attempts")


def _number_taken(session: Session, number: str) -> bool:
    return session.scalars(select(Order.id).filter_by(number=number)).first() is not None


def list_orders(session: Session, customer_id: int, limit: int = 10) -> list[Order]:
    query = select(Order).filter_by(customer_id=customer_id).order_by(Order.id.desc()).limit(limit)
    return list(session.scalars(query))


def get_order(session: Session, customer_id: int | None, number: str) -> Order:
    """An order by number; with `customer_id`, only if it belongs to that customer."""
    wanted = order_numbers.canonical(number)
    order = session.scalars(select(Order).filter_by(number=wanted)).first()
    if order is None or (customer_id is not None and order.customer_id != customer_id):
        raise DomainError(ErrorCode.UNKNOWN_ORDER, number=(number or "")[:20])
    return order


def language_of(session: Session, number: str) -> str | None:
    """The language an order was placed in, to answer about it in that language."""
    wanted = order_numbers.canonical(number)
    return session.scalars(select(Order.language).filter_by(number=wanted)).first()


def lock_order(session: Session, order_id: int) -> Order:
    order = session.scalars(
        select(Order)
        .where(Order.id == order_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    return order


def cancel_order(
    session: Session, customer_id: int | None, number: str, actor: str, now: datetime
) -> Order:
    """Cancel an unpaid order and put its stock back."""
    order = lock_order(session, get_order(session, customer_id, number).id)
    ensure_cancellable(order)
    _cancel(session, order, actor, now)
    return order


def ensure_cancellable(order: Order) -> None:
    """Only an unpaid order can be cancelled here (paid ones need a refund)."""
    if order.status != OrderStatus.PENDING_PAYMENT:
        raise DomainError(ErrorCode.ORDER_NOT_CANCELLABLE, number=order.number, status=order.status)


def _cancel(session: Session, order: Order, actor: str, now: datetime) -> None:
    for line in order.lines:
        stock.release(session, line.variant_id, line.quantity)
    order.status, order.payment_status = OrderStatus.CANCELLED, PaymentStatus.VOIDED
    order.cancelled_at = now
    _record(
        session, order, "cancelled", OrderStatus.PENDING_PAYMENT, OrderStatus.CANCELLED, actor, now
    )


def cancel_expired(session: Session, now: datetime, limit: int = 100) -> list[str]:
    """Cancel unpaid orders past their pay-by time, releasing stock; safe on many workers."""
    expired = list(
        session.scalars(
            select(Order)
            .where(Order.status == OrderStatus.PENDING_PAYMENT, Order.pay_by <= now)
            .order_by(Order.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    for order in expired:
        _cancel(session, order, "payment_timeout", now)
        notify(session, order, "order_expired", f"order_expired:{order.id}", now)
    return [order.number for order in expired]


def mark_paid(session: Session, order: Order, provider: str, now: datetime) -> None:
    """pending_payment → paid, and queue the confirmation push. Caller holds the row lock."""
    if order.status != OrderStatus.PENDING_PAYMENT:
        raise DomainError(ErrorCode.ORDER_NOT_PAYABLE, number=order.number, status=order.status)
    order.status, order.payment_status, order.paid_at = (
        OrderStatus.PAID,
        PaymentStatus.CAPTURED,
        now,
    )
    _record(session, order, "paid", OrderStatus.PENDING_PAYMENT, OrderStatus.PAID, provider, now)
    params = {"total": order.total, "currency": order.currency}
    notify(session, order, "order_paid", f"order_paid:{order.id}", now, **params)


def notify(
    session: Session, order: Order, template: str, key: str, now: datetime, **params: object
) -> None:
    """Queue a push about `order` to the chat it was placed from, once per `key`."""
    if order.identity_id is not None:
        params = {"number": order.number, **params}
        outbox.enqueue(session, order.identity_id, template, params, order.language, key, now)


def _record(
    session: Session,
    order: Order,
    type_: str,
    from_status: str,
    to_status: str,
    actor: str,
    now: datetime,
) -> None:
    session.add(
        OrderEvent(
            order_id=order.id,
            type=type_,
            from_status=str(from_status),
            to_status=str(to_status),
            actor=actor,
            created_at=now,
        )
    )
