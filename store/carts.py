"""Carts: one per customer. Adding checks what can still be sold; stock is only taken when
the order is placed."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from store.catalog import variant_by_sku
from store.errors import DomainError, ErrorCode
from store.models import CartLine

MAX_LINE_QUANTITY = 99


@dataclass(frozen=True)
class CartView:
    lines: list[CartLine]
    total: int
    currency: str

    @property
    def empty(self) -> bool:
        return not self.lines


def check_quantity(quantity: int) -> int:
    if not isinstance(quantity, int) or not 1 <= quantity <= MAX_LINE_QUANTITY:
        raise DomainError(ErrorCode.BAD_QUANTITY, max=MAX_LINE_QUANTITY)
    return quantity


def get_cart(session: Session, customer_id: int) -> CartView:
    lines = list(
        session.scalars(select(CartLine).filter_by(customer_id=customer_id).order_by(CartLine.id))
    )
    total = sum(line.variant.price * line.quantity for line in lines)
    currency = lines[0].variant.currency if lines else ""
    return CartView(lines, total, currency)


def add_to_cart(session: Session, customer_id: int, sku: str, quantity: int) -> CartLine:
    """Add `quantity` of a SKU; the line's new total may not exceed sellable stock."""
    check_quantity(quantity)
    variant = variant_by_sku(session, sku)
    line = session.scalars(
        select(CartLine).filter_by(customer_id=customer_id, variant_id=variant.id)
    ).first()
    wanted = quantity + (line.quantity if line else 0)
    check_quantity(wanted)
    if wanted > variant.stock:
        raise DomainError(ErrorCode.OUT_OF_STOCK, sku=sku, available=variant.stock)
    if line is None:
        line = CartLine(customer_id=customer_id, variant_id=variant.id, quantity=0)
        session.add(line)
    line.quantity = wanted
    session.flush()
    return line


def set_quantity(session: Session, customer_id: int, sku: str, quantity: int) -> None:
    """Set a line's quantity; 0 removes the line."""
    if quantity == 0:
        return remove_line(session, customer_id, sku)
    check_quantity(quantity)
    variant = variant_by_sku(session, sku)
    line = session.scalars(
        select(CartLine).filter_by(customer_id=customer_id, variant_id=variant.id)
    ).first()
    if line is None:
        raise DomainError(ErrorCode.UNKNOWN_SKU, sku=sku)
    if quantity > variant.stock:
        raise DomainError(ErrorCode.OUT_OF_STOCK, sku=sku, available=variant.stock)
    line.quantity = quantity


def remove_line(session: Session, customer_id: int, sku: str) -> None:
    variant = variant_by_sku(session, sku)
    session.execute(delete(CartLine).filter_by(customer_id=customer_id, variant_id=variant.id))


def clear_cart(session: Session, customer_id: int) -> None:
    session.execute(delete(CartLine).filter_by(customer_id=customer_id))


def change_variant(session: Session, customer_id: int, old_sku: str, new_sku: str) -> CartLine:
    """Swap a line to another colour/size of the same product, keeping its quantity."""
    old, new = variant_by_sku(session, old_sku), variant_by_sku(session, new_sku)
    line = session.scalars(
        select(CartLine).filter_by(customer_id=customer_id, variant_id=old.id)
    ).first()
    if line is None or new.product_id != old.product_id:
        raise DomainError(ErrorCode.UNKNOWN_SKU, sku=new_sku)
    if new.id == old.id:
        return line
    quantity = line.quantity
    session.delete(line)
    session.flush()
    return add_to_cart(session, customer_id, new.sku, quantity)
