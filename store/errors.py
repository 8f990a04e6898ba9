"""Domain errors. Adapters turn them into a polite message in the customer's language."""

from __future__ import annotations

import enum


class ErrorCode(enum.StrEnum):
    UNKNOWN_PRODUCT = "unknown_product"
    UNKNOWN_SKU = "unknown_sku"
    BAD_QUANTITY = "bad_quantity"
    OUT_OF_STOCK = "out_of_stock"
    EMPTY_CART = "empty_cart"
    BAD_PHONE = "bad_phone"
    BAD_NAME = "bad_name"
    BAD_ADDRESS = "bad_address"
    UNKNOWN_ORDER = "unknown_order"
    ORDER_NOT_PAYABLE = "order_not_payable"
    ORDER_NOT_CANCELLABLE = "order_not_cancellable"
    BAD_NOTIFICATION = "bad_notification"
    UNKNOWN_PAYMENT = "unknown_payment"
    ORDER_EXPIRED = "order_expired"
    AMOUNT_CHANGED = "amount_changed"
    NO_PAYMENT_METHOD = "no_payment_method"


class DomainError(Exception):
    """A rule said no. `params` fill the customer-facing message for `code`."""

    def __init__(self, code: ErrorCode, **params: object) -> None:
        super().__init__(f"{code}: {params}" if params else str(code))
        self.code = code
        self.params = params
