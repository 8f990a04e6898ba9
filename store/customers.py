"""Customers, their channel identities and saved addresses; contact data validation."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store import outbox
from store.errors import DomainError, ErrorCode
from store.models import MAX_ID, Address, ChannelIdentity, Customer

_CN_MOBILE = re.compile(r"^(?:\+?86|0086)?(1[3-9]\d{9})$")
_INTERNATIONAL = re.compile(r"^(?:\+|00)([1-9]\d{7,14})$")

SEEN_PRECISION = timedelta(minutes=1)  # last_inbound_at serves reply windows measured in hours


def normalize_phone(raw: str) -> str:
    """Return an E.164 number for a CN mobile or international number, or raise BAD_PHONE."""
    compact = re.sub(r"[\s\-().]", "", raw or "")
    if m := _CN_MOBILE.match(compact):
        return "+86" + m.group(1)
    if m := _INTERNATIONAL.match(compact):
        return "+" + m.group(1)
    raise DomainError(ErrorCode.BAD_PHONE)


def clean_name(raw: str) -> str:
    name = " ".join((raw or "").split())
    if not 1 <= len(name) <= 50 or not any(ch.isalpha() for ch in name):
        raise DomainError(ErrorCode.BAD_NAME)
    return name


def clean_address(raw: str) -> str:
    address = " ".join((raw or "").split())
    if not 6 <= len(address) <= 300:
        raise DomainError(ErrorCode.BAD_ADDRESS)
    return address


def find_identity(session: Session, channel: str, external_id: str) -> ChannelIdentity | None:
    return session.scalars(
        select(ChannelIdentity).filter_by(channel=channel, external_id=external_id)
    ).first()


def identify(
    session: Session, channel: str, external_id: str, display_name: str = ""
) -> ChannelIdentity:
    """Find or create the identity (and its customer) for a channel user."""
    if identity := find_identity(session, channel, external_id):
        return identity
    try:
        with session.begin_nested():
            customer = Customer()
            session.add(customer)
            session.flush()
            identity = ChannelIdentity(
                customer_id=customer.id,
                channel=channel,
                external_id=external_id,
                display_name=display_name[:100],
            )
            session.add(identity)
            session.flush()
            return identity
    except IntegrityError:  # created concurrently by another worker
        found = find_identity(session, channel, external_id)
        assert found is not None
        return found


def note_inbound(
    identity: ChannelIdentity, now: datetime, window: tuple[int, float] | None = None
) -> None:
    """The customer wrote: when, that they can be reached again even if they had blocked the
    shop, and the reply window it opens (WeChat's rule: an interaction resets the quota to the
    larger of what is left and what it grants, and the window to the later end; never adds)."""
    if identity.last_inbound_at is None or now - identity.last_inbound_at > SEEN_PRECISION:
        identity.last_inbound_at = now
    if not identity.reachable:
        identity.reachable = True
    if window is None:
        return
    count, seconds = window
    open_ = identity.window_until is not None and identity.window_until > now
    quota = max(identity.window_quota if open_ else 0, count)
    until = max(identity.window_until if open_ else now, now + timedelta(seconds=seconds))  # type: ignore[type-var]
    if (quota, until) != (identity.window_quota, identity.window_until):
        identity.window_quota, identity.window_until = quota, until


def take_from_window(session: Session, identity_id: int, count: int, now: datetime) -> bool:
    """Spend `count` of the customer's reply quota if their window is open and has that many
    left; False (nothing spent) otherwise. Locks the identity, so workers never overspend."""
    identity = session.get(ChannelIdentity, identity_id, with_for_update=True)
    if identity is None or identity.window_until is None or identity.window_until <= now:
        return False
    if identity.window_quota < count:
        return False
    identity.window_quota -= count
    return True


def close_window(session: Session, identity_id: int) -> None:
    """The platform says the window is shut (or the quota gone) although we thought not."""
    identity = session.get(ChannelIdentity, identity_id, with_for_update=True)
    if identity is not None:
        identity.window_quota = 0


def set_reachable(session: Session, channel: str, external_id: str, reachable: bool) -> None:
    """The platform told us the customer blocked (or unblocked) the shop: stop (or resume)
    pushing to them; what is already queued for a blocked customer is dropped."""
    identity = find_identity(session, channel, external_id)
    if identity is None or identity.reachable == reachable:
        return
    identity.reachable = reachable
    if not reachable:
        outbox.drop_pending(session, identity.id, "the customer blocked the shop")


def saved_addresses(session: Session, customer_id: int) -> list[Address]:
    query = (
        select(Address)
        .filter_by(customer_id=customer_id)
        .order_by(Address.last_used_at.desc(), Address.id.desc())
        .limit(3)
    )
    return list(session.scalars(query))


def get_address(session: Session, customer_id: int, address_id: int) -> Address | None:
    address = session.get(Address, address_id) if 0 < address_id <= MAX_ID else None
    return address if address and address.customer_id == customer_id else None


def remember_address(
    session: Session, customer_id: int, name: str, phone: str, address: str, now: datetime
) -> Address:
    existing = session.scalars(
        select(Address).filter_by(customer_id=customer_id, name=name, phone=phone, address=address)
    ).first()
    if existing:
        existing.last_used_at = now
        return existing
    row = Address(
        customer_id=customer_id, name=name, phone=phone, address=address, last_used_at=now
    )
    session.add(row)
    customer = session.get(Customer, customer_id)
    if customer and not customer.name:
        customer.name, customer.phone = name, phone
    return row
