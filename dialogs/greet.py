"""Greeting, help, thanks, goodbye and the fallback."""

from __future__ import annotations

from bot.messages import Outbound
from dialogs.context import Ctx


def _menu(ctx: Ctx) -> tuple:
    return (
        ctx.button("categories", "browse_categories"),
        ctx.button("cart", "view_cart"),
        ctx.button("orders", "orders"),
    )


def greet(ctx: Ctx) -> list[Outbound]:
    return [ctx.say("greet", *_menu(ctx))]


def help_(ctx: Ctx) -> list[Outbound]:
    return [ctx.say("help", *_menu(ctx))]


def thanks(ctx: Ctx) -> list[Outbound]:
    return [ctx.say("thanks")]


def goodbye(ctx: Ctx) -> list[Outbound]:
    return [ctx.say("goodbye")]


def fallback(ctx: Ctx) -> list[Outbound]:
    ctx.state.fallbacks += 1
    return [ctx.say("fallback", *_menu(ctx))]


def not_yet(ctx: Ctx) -> list[Outbound]:
    """Intents the shop understands but cannot serve in chat yet."""
    return [ctx.say("not_yet", *_menu(ctx))]
