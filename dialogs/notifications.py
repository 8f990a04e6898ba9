"""Pushes that are not replies (outbox templates), rendered in the customer's language."""

from __future__ import annotations

from typing import Any

from bot.messages import Button, Outbound, payload
from dialogs.i18n import money, t


def render(template: str, params: dict[str, Any], language: str) -> list[Outbound]:
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
    raise KeyError(f"unknown notification template {template!r}")
