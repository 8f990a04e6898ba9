"""All stock arithmetic. Each change is one atomic UPDATE, never read-then-write, so two
checkouts racing for the last unit cannot both win on SQLite or PostgreSQL."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from store.models import Variant


def reserve(session: Session, variant_id: int, quantity: int) -> bool:
    """Take `quantity` units out of sellable stock; False (and nothing taken) if short."""
    result = session.execute(
        update(Variant)
        .where(Variant.id == variant_id, Variant.stock >= quantity)
        .values(stock=Variant.stock - quantity)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def release(session: Session, variant_id: int, quantity: int) -> None:
    """Put reserved units back, e.g. when an unpaid order is cancelled."""
    session.execute(
        update(Variant)
        .where(Variant.id == variant_id)
        .values(stock=Variant.stock + quantity)
        .execution_options(synchronize_session=False)
    )
