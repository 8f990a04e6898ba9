"""Payments behind a provider interface. Notifications are verified by the provider, then
applied here exactly once: a duplicate, replayed, late, forged or wrong-amount notification
never captures twice and never marks the wrong amount paid."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store import orders
from store.errors import DomainError, ErrorCode
from store.models import Order, OrderStatus, Payment, PaymentNotification, PaymentStatus

log = logging.getLogger(__name__)
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")  # what secrets.token_urlsafe makes
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")  # no database text holds a NUL or half a pair


def _storable(text: str) -> bool:
    return not _UNSTORABLE.search(text)


PAY_BY_MARGIN = timedelta(minutes=1)
# Outcomes of a genuine (signed) notification that must not count as accepted: the provider
# is told no, and the money is not captured.
REFUSED = frozenset({"amount_mismatch", "wrong_sign_type"})


@dataclass(frozen=True)
class Notification:
    """A provider's word that money moved, after its signature was checked."""

    notify_id: str
    payment_token: str
    provider_ref: str
    amount: int
    currency: str
    succeeded: bool
    sign_type: str = ""

    def __post_init__(self) -> None:
        # Signed is not the same as well-formed: what we store must fit its column (and a NUL
        # byte fits no PostgreSQL text).
        fits = (
            0 < len(self.notify_id) <= 128
            and len(self.provider_ref) <= 128
            and _storable(self.notify_id + self.provider_ref)
            and _TOKEN.fullmatch(self.payment_token)
            and len(self.currency) == 3
        )
        if not fits:
            raise DomainError(ErrorCode.BAD_NOTIFICATION, reason="malformed")


class PaymentProvider(Protocol):
    name: str

    def payment_url(self, payment: Payment) -> str: ...

    def verify(self, body: bytes, headers: Mapping[str, str], now: datetime) -> Notification:
        """Check authenticity and freshness; raise DomainError(BAD_NOTIFICATION) otherwise."""
        ...


def start_payment(
    session: Session, provider: PaymentProvider, order: Order, now: datetime
) -> Payment:
    """The payment to send the customer to; asking again returns the same link."""
    ensure_payable(order)
    existing = session.scalars(
        select(Payment).filter_by(
            order_id=order.id, provider=provider.name, status=PaymentStatus.PENDING
        )
    ).first()
    if existing:
        return existing
    payment = Payment(
        order_id=order.id,
        provider=provider.name,
        status=PaymentStatus.PENDING,
        amount=order.total,
        currency=order.currency,
        token=secrets.token_urlsafe(24),
        created_at=now,
    )
    session.add(payment)
    session.flush()
    return payment


def ensure_payable(order: Order) -> None:
    if order.status != OrderStatus.PENDING_PAYMENT:
        raise DomainError(ErrorCode.ORDER_NOT_PAYABLE, number=order.number, status=order.status)


def check_payable(
    session: Session, provider: str, token: str, amount: int, currency: str, now: datetime
) -> None:
    """Just before the customer's money moves (Telegram's pre-checkout): is this payment still
    for an unpaid order, with its stock still reserved, at the same amount? DomainError if not."""
    payment = payment_by_token(session, token)
    payment = payment if payment and payment.provider == provider else None
    order = session.get(Order, payment.order_id) if payment else None
    if payment is None or order is None:
        raise DomainError(ErrorCode.UNKNOWN_PAYMENT)
    if order.status == OrderStatus.CANCELLED:
        raise DomainError(ErrorCode.ORDER_EXPIRED, number=order.number)
    if order.status != OrderStatus.PENDING_PAYMENT or payment.status != PaymentStatus.PENDING:
        raise DomainError(ErrorCode.ORDER_NOT_PAYABLE, number=order.number, status=order.status)
    if now > order.pay_by - PAY_BY_MARGIN:
        # About to be auto-cancelled (its stock released): money must not arrive after that.
        raise DomainError(ErrorCode.ORDER_EXPIRED, number=order.number)
    if (amount, currency) != (payment.amount, payment.currency) or order.total != payment.amount:
        raise DomainError(ErrorCode.AMOUNT_CHANGED, number=order.number)


def payment_by_token(session: Session, token: str) -> Payment | None:
    """The payment a pay link names; a token that cannot be ours is not looked up."""
    if not _TOKEN.fullmatch(token):
        return None
    return session.scalars(select(Payment).filter_by(token=token)).first()


def abandoned(session: Session, providers: list[str], limit: int = 20) -> list[Payment]:
    """Open payments of orders that no longer wait for money (paid another way, cancelled or
    expired): their provider-side trade must be closed so the customer cannot pay it."""
    query = (
        select(Payment)
        .join(Order, Order.id == Payment.order_id)
        .where(
            Payment.provider.in_(providers),
            Payment.status == PaymentStatus.PENDING,
            Order.status != OrderStatus.PENDING_PAYMENT,
        )
        .order_by(Payment.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def unapplied(
    session: Session, providers: list[str], limit: int = 20
) -> list[tuple[PaymentNotification, Payment, str]]:
    """Money that arrived for orders that could no longer be paid, not yet given back, with
    the order's language."""
    query = (
        select(PaymentNotification, Payment, Order.language)
        .join(Payment, Payment.id == PaymentNotification.payment_id)
        .join(Order, Order.id == Payment.order_id)
        .where(
            PaymentNotification.provider.in_(providers),
            PaymentNotification.outcome == "order_not_payable",
        )
        .order_by(PaymentNotification.id)
        .limit(limit)
    )
    return [(note, payment, language) for note, payment, language in session.execute(query)]


def mark_refunded(session: Session, notification_id: int, now: datetime) -> None:
    """The provider gave the money back: record it and tell the customer."""
    note = session.get(PaymentNotification, notification_id, with_for_update=True)
    if note is None or note.outcome != "order_not_payable" or note.payment_id is None:
        return
    note.outcome = "refunded"
    payment = session.get(Payment, note.payment_id)
    assert payment is not None
    payment.status = PaymentStatus.REFUNDED
    order = orders.lock_order(session, payment.order_id)
    params = {"total": payment.amount, "currency": payment.currency}
    orders.notify(session, order, "payment_refunded", f"refunded:{note.id}", now, **params)


def mark_closed(session: Session, token: str) -> None:
    """The provider closed the trade (or never had one): this payment can no longer happen."""
    payment = session.scalars(select(Payment).filter_by(token=token).with_for_update()).one()
    if payment.status == PaymentStatus.PENDING:
        payment.status = PaymentStatus.VOIDED


def remember_trade(session: Session, token: str, trade: Mapping[str, object]) -> None:
    """What the provider said when the payment was opened there (WeChat Pay's code_url)."""
    payment = session.scalars(select(Payment).filter_by(token=token).with_for_update()).one()
    payment.data = {**payment.data, **trade}


def handle_notification(
    session: Session,
    provider: PaymentProvider,
    body: bytes,
    headers: Mapping[str, str],
    now: datetime,
) -> str:
    """Verify and apply one notification; returns the outcome recorded for it."""
    note = provider.verify(body, headers, now)
    try:
        with session.begin_nested():
            seen = PaymentNotification(
                provider=provider.name, notify_id=note.notify_id, outcome="new"
            )
            session.add(seen)
            session.flush()
    except IntegrityError:
        return "duplicate"
    payment = session.scalars(
        select(Payment)
        .filter_by(token=note.payment_token, provider=provider.name)
        .with_for_update()
    ).first()
    seen.outcome = _apply(session, payment, note, now) if payment else "unknown_payment"
    seen.payment_id = payment.id if payment else None
    log.info("payment notification %s: %s", provider.name, seen.outcome)
    return seen.outcome


def _apply(session: Session, payment: Payment, note: Notification, now: datetime) -> str:
    expected = payment.data.get("sign_type")
    if expected and note.sign_type and note.sign_type != expected:
        return "wrong_sign_type"  # signed, but not the way this payment was opened
    if (note.amount, note.currency) != (payment.amount, payment.currency):
        return "amount_mismatch"
    if payment.status == PaymentStatus.CAPTURED:
        return "already_captured"
    if not note.succeeded:
        payment.status = PaymentStatus.FAILED
        return "failed"
    order = orders.lock_order(session, payment.order_id)
    if order.status != OrderStatus.PENDING_PAYMENT:
        # Money arrived for an order that can no longer be paid: never revive it, and tell the
        # customer that the shop will refund them (the merchant sees the outcome in the log).
        key = f"payment_not_applied:{payment.id}:{note.notify_id}"[:200]
        orders.notify(session, order, "payment_not_applied", key, now)
        return "order_not_payable"
    payment.status, payment.provider_ref, payment.captured_at = (
        PaymentStatus.CAPTURED,
        note.provider_ref,
        now,
    )
    orders.mark_paid(session, order, payment.provider, now)
    return "captured"


class _SandboxBody(BaseModel):
    notify_id: str
    payment_token: str
    txn_id: str
    amount: int
    currency: str
    status: str
    timestamp: int


class SandboxProvider:
    """A local stand-in for a real gateway: a test pay page plus HMAC-signed notifications."""

    name = "sandbox"
    SIGNATURE_HEADER = "x-sandbox-signature"
    MAX_AGE = timedelta(minutes=10)

    def __init__(self, secret: bytes, base_url: str) -> None:
        self._secret = secret
        self._base_url = base_url.rstrip("/")

    def payment_url(self, payment: Payment) -> str:
        return f"{self._base_url}/pay/{payment.token}"

    def sign(self, body: bytes) -> str:
        return hmac.new(self._secret, body, hashlib.sha256).hexdigest()

    def notification_for(self, payment: Payment, now: datetime) -> tuple[bytes, dict[str, str]]:
        """What the sandbox 'gateway' sends after the customer pays on the test page."""
        body = json.dumps(
            {
                "notify_id": uuid.uuid4().hex,
                "payment_token": payment.token,
                "txn_id": f"sbx_{uuid.uuid4().hex[:20]}",
                "amount": payment.amount,
                "currency": payment.currency,
                "status": "succeeded",
                "timestamp": int(now.timestamp()),
            }
        ).encode()
        return body, {self.SIGNATURE_HEADER: self.sign(body)}

    def verify(self, body: bytes, headers: Mapping[str, str], now: datetime) -> Notification:
        signature = {k.lower(): v for k, v in headers.items()}.get(self.SIGNATURE_HEADER, "")
        if not hmac.compare_digest(signature, self.sign(body)):
            raise DomainError(ErrorCode.BAD_NOTIFICATION, reason="signature")
        try:
            data = _SandboxBody.model_validate_json(body)
        except ValidationError as exc:
            raise DomainError(ErrorCode.BAD_NOTIFICATION, reason="malformed") from exc
        if abs(now.timestamp() - data.timestamp) > self.MAX_AGE.total_seconds():
            raise DomainError(ErrorCode.BAD_NOTIFICATION, reason="stale")
        return Notification(
            notify_id=data.notify_id,
            payment_token=data.payment_token,
            provider_ref=data.txn_id,
            amount=data.amount,
            currency=data.currency,
            succeeded=data.status == "succeeded",
        )


class _TelegramPaid(BaseModel):
    currency: str
    total_amount: int
    invoice_payload: str
    telegram_payment_charge_id: str
    provider_payment_charge_id: str = ""


class TelegramPayments:
    """Telegram Payments: the customer pays an invoice inside Telegram, and its
    `successful_payment` message reaches us through the bot's own authenticated updates (a
    webhook with the secret token, or polling), so verifying means reading it strictly."""

    name = "telegram"

    def payment_url(self, payment: Payment) -> str:
        return ""  # paid in the invoice message, not on a page

    def verify(self, body: bytes, headers: Mapping[str, str], now: datetime) -> Notification:
        try:
            data = _TelegramPaid.model_validate_json(body)
        except ValidationError as exc:
            raise DomainError(ErrorCode.BAD_NOTIFICATION, reason="malformed") from exc
        return Notification(
            notify_id=data.telegram_payment_charge_id,
            payment_token=data.invoice_payload,
            provider_ref=data.telegram_payment_charge_id,
            amount=data.total_amount,
            currency=data.currency,
            succeeded=True,
        )
