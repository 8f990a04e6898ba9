"""SQLAlchemy 2.x typed models: catalog, customers, carts, orders, payments, conversations,
outbox. Money is integer minor units plus a currency; times are timezone-aware UTC."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Row ids are 32-bit integers on PostgreSQL: an id from outside beyond this names nothing, and
# must never reach a query (it would fail there rather than find nothing).
MAX_ID = 2**31 - 1


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC and always hands back an aware datetime (SQLite drops the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class OrderStatus(enum.StrEnum):
    PENDING_PAYMENT = "pending_payment"  # placed, stock reserved, waiting for money
    PAID = "paid"  # captured, waiting to ship
    SHIPPED = "shipped"  # handed to the carrier
    DELIVERED = "delivered"  # carrier says delivered
    COMPLETED = "completed"  # receipt confirmed or auto-confirmed
    CANCELLED = "cancelled"  # by customer, timeout or merchant; stock released


class PaymentStatus(enum.StrEnum):
    PENDING = "pending"  # link issued, nothing captured
    CAPTURED = "captured"  # money taken, exactly once
    FAILED = "failed"  # provider said no
    VOIDED = "voided"  # order cancelled before capture
    REFUNDED = "refunded"  # money returned


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for (another) delivery attempt
    SENT = "sent"  # the channel accepted it
    DEAD = "dead"  # gave up: unreachable or too many attempts


class ConversationMode(enum.StrEnum):
    BOT = "bot"  # the bot answers
    WAITING_AGENT = "waiting_agent"  # queued for a human; the bot stays quiet
    AGENT = "agent"  # a human holds the conversation


class Meta(Base):
    """Small key/value facts, e.g. the catalog version that invalidates search indexes."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(255))


class Product(Base):
    __tablename__ = "products"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name_en: Mapped[str] = mapped_column(String(200))
    name_zh: Mapped[str] = mapped_column(String(200))
    description_en: Mapped[str] = mapped_column(Text, default="")
    description_zh: Mapped[str] = mapped_column(Text, default="")
    category_en: Mapped[str] = mapped_column(String(100), index=True)
    category_zh: Mapped[str] = mapped_column(String(100))
    brand: Mapped[str] = mapped_column(String(100), default="", index=True)
    image: Mapped[str] = mapped_column(String(500), default="")
    tags: Mapped[list[Any]] = mapped_column(default=list)
    active: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    variants: Mapped[list[Variant]] = relationship(
        back_populates="product", order_by="Variant.id", lazy="selectin"
    )


class Variant(Base):
    """A sellable SKU. `stock` is what can still be sold: reserved units are already out."""

    __tablename__ = "variants"
    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    color: Mapped[str] = mapped_column(String(32), default="")
    size: Mapped[str] = mapped_column(String(16), default="")
    price: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    stock: Mapped[int] = mapped_column(Integer, default=0)
    # Plain lazy load: a many-to-one is served from the identity map when the product is
    # already loaded, which is the common case and avoids a join on every variant query.
    product: Mapped[Product] = relationship(back_populates="variants")


class Customer(Base):
    __tablename__ = "customers"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    phone: Mapped[str] = mapped_column(String(32), default="")
    language: Mapped[str] = mapped_column(String(8), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChannelIdentity(Base):
    """Who a customer is on one channel; one customer may have several."""

    __tablename__ = "channel_identities"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(128))
    display_name: Mapped[str] = mapped_column(String(100), default="")
    reachable: Mapped[bool] = mapped_column(default=True)
    last_inbound_at: Mapped[datetime | None] = mapped_column(default=None)
    # Platforms that limit free-form messages after each customer interaction (WeChat: 5
    # within 48 h of a message): how many we may still send, and until when (None: never).
    window_until: Mapped[datetime | None] = mapped_column(default=None)
    window_quota: Mapped[int] = mapped_column(Integer, default=0)


class Address(Base):
    __tablename__ = "addresses"
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str] = mapped_column(String(32))
    address: Mapped[str] = mapped_column(String(500))
    last_used_at: Mapped[datetime] = mapped_column(default=utcnow)


class CartLine(Base):
    __tablename__ = "cart_lines"
    __table_args__ = (UniqueConstraint("customer_id", "variant_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    variant_id: Mapped[int] = mapped_column(ForeignKey("variants.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    variant: Mapped[Variant] = relationship(lazy="joined")


class Order(Base):
    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    identity_id: Mapped[int | None] = mapped_column(ForeignKey("channel_identities.id"))
    status: Mapped[OrderStatus] = mapped_column(String(32), index=True)
    payment_status: Mapped[PaymentStatus] = mapped_column(String(32))
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[int] = mapped_column(BigInteger)
    ship_name: Mapped[str] = mapped_column(String(100))
    ship_phone: Mapped[str] = mapped_column(String(32))
    ship_address: Mapped[str] = mapped_column(String(500))
    language: Mapped[str] = mapped_column(String(8), default="zh")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    pay_by: Mapped[datetime]
    paid_at: Mapped[datetime | None] = mapped_column(default=None)
    cancelled_at: Mapped[datetime | None] = mapped_column(default=None)
    lines: Mapped[list[OrderLine]] = relationship(order_by="OrderLine.id", lazy="selectin")


class OrderLine(Base):
    """A snapshot: later catalog edits never change what was ordered or its price."""

    __tablename__ = "order_lines"
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    variant_id: Mapped[int] = mapped_column(ForeignKey("variants.id"))
    sku: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str] = mapped_column(String(200))
    name_zh: Mapped[str] = mapped_column(String(200))
    color: Mapped[str] = mapped_column(String(32))
    size: Mapped[str] = mapped_column(String(16))
    unit_price: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[int] = mapped_column(Integer)


class OrderEvent(Base):
    """Audit trail: one row per state change, with who did it."""

    __tablename__ = "order_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    type: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str] = mapped_column(String(32), default="")
    to_status: Mapped[str] = mapped_column(String(32), default="")
    actor: Mapped[str] = mapped_column(String(64), default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Payment(Base):
    __tablename__ = "payments"
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    provider: Mapped[str] = mapped_column(String(32))
    status: Mapped[PaymentStatus] = mapped_column(String(32))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    token: Mapped[str] = mapped_column(String(64), unique=True)
    provider_ref: Mapped[str | None] = mapped_column(String(128), unique=True, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    captured_at: Mapped[datetime | None] = mapped_column(default=None)
    # What the provider said when the payment was opened there (WeChat Pay: sign type, trade
    # type, code_url), needed to check its notifications and to show the QR code again.
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class PaymentNotification(Base):
    """Every notification id seen once: a replay finds its row and changes nothing."""

    __tablename__ = "payment_notifications"
    __table_args__ = (UniqueConstraint("provider", "notify_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    notify_id: Mapped[str] = mapped_column(String(128))
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"))
    outcome: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class Conversation(Base):
    __tablename__ = "conversations"
    id: Mapped[int] = mapped_column(primary_key=True)
    identity_id: Mapped[int] = mapped_column(ForeignKey("channel_identities.id"), unique=True)
    mode: Mapped[ConversationMode] = mapped_column(String(16), default=ConversationMode.BOT)
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Message(Base):
    """The transcript. `dedupe_key` makes a platform retry or an outbox re-delivery a no-op."""

    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_conversation_id_id", "conversation_id", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    direction: Mapped[str] = mapped_column(String(3))
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True, default=None)
    reply_to: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), default=None)
    text: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxMessage(Base):
    """A push that is not a direct reply, written in the transaction that caused it."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_customer", "identity_id", "status"),  # pushes wait for earlier ones
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    identity_id: Mapped[int] = mapped_column(ForeignKey("channel_identities.id"))
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    template: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    language: Mapped[str] = mapped_column(String(8))
    status: Mapped[OutboxStatus] = mapped_column(String(16), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Parts already delivered, for a push that takes several platform calls: a retry goes on
    # from here instead of repeating what the customer already has.
    progress: Mapped[int] = mapped_column(Integer, default=0)
    # Set when part `progress` is handed to the platform, before the call, and committed; a
    # worker that finds it set on a claimed row cannot know whether the customer got that part
    # (the sender died waiting for the answer), so on a platform without idempotency keys the
    # part is not sent again: the row is "in doubt" there (at most once, noted in last_error).
    in_flight_at: Mapped[datetime | None] = mapped_column(default=None)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    # How the channel delivered it, where it has several ways (WeChat: "passive" reply,
    # "custom" service message, "template" message, or "passive+custom"; see outbox.PASSIVE).
    sent_as: Mapped[str] = mapped_column(String(32), default="")


class PlatformToken(Base):
    """A platform credential shared by every worker (WeChat's access_token: a new one
    invalidates the old after 5 minutes, so workers must not each fetch their own)."""

    __tablename__ = "platform_tokens"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    token: Mapped[str] = mapped_column(Text, default="")
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
