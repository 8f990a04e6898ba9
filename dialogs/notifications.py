"""Pushes that are not replies (outbox templates), rendered in the customer's language."""

from __future__ import annotations

from typing import Any

from bot.messages import Button, Outbound, payload
from dialogs.i18n import money, t

REPLY = "reply"  # a dialog's answer, queued for a channel that delivers through the outbox


def render(template: str, params: dict[str, Any], language: str) -> list[Outbound]:
    if template == REPLY:
        return [Outbound.from_dict(m) for m in params["messages"]]
    if template == "order_paid":
        text = t(
            language,
            "notifications.order_paid",
            number=params["number"],
            total=money(params["total"], params["currency"]),
        )
        button = Button(t(language, "buttons.orders"), payload("order", n=params["number"]))
        return [Outbound(text=text, buttons=(button,))]
    if template == "order_expired":
        text = t(language, "notifications.order_expired", number=params["number"])
        return [
            Outbound(
                text=text, buttons=(Button(t(language, "buttons.categories"), "browse_categories"),)
            )
        ]
    if template == "payment_refunded":
        total = money(params["total"], params["currency"])
        text = t(language, "notifications.payment_refunded", number=params["number"], total=total)
        return [Outbound(text=text)]
    if template == "payment_not_applied":
        text = t(language, "notifications.payment_not_applied", number=params["number"])
        return [Outbound(text=text)]
    raise KeyError(f"unknown notification template {template!r}")
