"""The services a conversation may use, bound to one customer and one transaction.

Dialogs call these and never touch the session. Each change runs in a savepoint, so a rule
that says no (DomainError) leaves nothing half-done while the transcript still commits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy.orm import Session

from store import carts, catalog, customers, orders, payments
from store.errors import DomainError, ErrorCode
from store.models import Address, Order, Product, Variant
from store.pay_methods import PayMethods
from store.search import ProductSummary, SearchIndex, SearchQuery, SearchResult

T = TypeVar("T")


@dataclass
class Shop:
    session: Session
    customer_id: int
    identity_id: int | None
    now: datetime
    search_index: SearchIndex
    pay: PayMethods  # what this customer's channel can pay with
    payment_timeout: timedelta

    def _mutate(self, fn: Callable[[], T]) -> T:
        with self.session.begin_nested():
            return fn()

    # catalog
    def search(self, query: SearchQuery) -> tuple[SearchResult, list[ProductSummary]]:
        result = self.search_index.search(self.session, query)
        return result, self.search_index.summaries(self.session, result.product_ids)

    def search_terms(self, text: str) -> list[str]:
        return self.search_index.terms(self.session, text)

    def product(self, product_id: int) -> Product:
        return catalog.product_by_id(self.session, product_id)

    def variant(self, sku: str) -> Variant:
        return catalog.variant_by_sku(self.session, sku)

    def categories(self) -> list[catalog.Category]:
        return catalog.categories(self.session)

    # cart
    def cart(self) -> carts.CartView:
        return carts.get_cart(self.session, self.customer_id)

    def add_to_cart(self, sku: str, quantity: int) -> None:
        self._mutate(lambda: carts.add_to_cart(self.session, self.customer_id, sku, quantity))

    def set_quantity(self, sku: str, quantity: int) -> None:
        self._mutate(lambda: carts.set_quantity(self.session, self.customer_id, sku, quantity))

    def change_variant(self, old_sku: str, new_sku: str) -> None:
        self._mutate(lambda: carts.change_variant(self.session, self.customer_id, old_sku, new_sku))

    def remove_from_cart(self, sku: str) -> None:
        self._mutate(lambda: carts.remove_line(self.session, self.customer_id, sku))

    def clear_cart(self) -> None:
        self._mutate(lambda: carts.clear_cart(self.session, self.customer_id))

    # checkout
    def saved_addresses(self) -> list[Address]:
        return customers.saved_addresses(self.session, self.customer_id)

    def saved_address(self, address_id: int) -> Address | None:
        return customers.get_address(self.session, self.customer_id, address_id)

    def validate_contact(self, field: str, value: str) -> str:
        """A checkout field in its stored form, or a DomainError saying what is wrong."""
        check = {
            "name": customers.clean_name,
            "phone": customers.normalize_phone,
            "address": customers.clean_address,
        }[field]
        return check(value)

    def ensure_can_pay(self) -> None:
        """NO_PAYMENT_METHOD where this channel offers no way to pay: an order placed here
        would only hold stock until it expired."""
        if not self.pay.available:
            raise DomainError(ErrorCode.NO_PAYMENT_METHOD)

    def place_order(self, name: str, phone: str, address: str, language: str) -> Order:
        self.ensure_can_pay()
        recipient = orders.Recipient(self.customer_id, self.identity_id, language)
        shipping = orders.ShippingDetails(name, phone, address)
        return self._mutate(
            lambda: orders.place_order(
                self.session, recipient, shipping, self.now, self.payment_timeout
            )
        )

    # orders and payment
    def orders(self) -> list[Order]:
        return orders.list_orders(self.session, self.customer_id)

    def order(self, number: str) -> Order:
        return orders.get_order(self.session, self.customer_id, number)

    def ensure_cancellable(self, order: Order) -> None:
        orders.ensure_cancellable(order)

    def cancel_order(self, number: str) -> Order:
        return self._mutate(
            lambda: orders.cancel_order(
                self.session, self.customer_id, number, "customer", self.now
            )
        )

    def payment_link(self, order: Order) -> str:
        """A link to pay an unpaid order, or "" where the channel pays its own way (invoice,
        QR code); ORDER_NOT_PAYABLE if it is paid or cancelled."""
        self.ensure_can_pay()
        provider = self.pay.link
        if provider is None:
            payments.ensure_payable(order)
            return ""
        payment = self._mutate(
            lambda: payments.start_payment(self.session, provider, order, self.now)
        )
        return provider.payment_url(payment)
