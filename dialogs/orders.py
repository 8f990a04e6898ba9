"""Listing orders, one order's detail, paying and cancelling."""

from __future__ import annotations

from bot.messages import Outbound
from dialogs.context import Ctx
from dialogs.i18n import money
from dialogs.render import order_summary, pay_link
from store.models import Order, OrderStatus


def list_orders(ctx: Ctx) -> list[Outbound]:
    orders = ctx.shop.orders()
    if not orders:
        return [ctx.say("orders.none", ctx.button("categories", "browse_categories"))]
    lines = "\n".join(
        ctx.t(
            "orders.row",
            number=o.number,
            status=ctx.t(f"status.{o.status}"),
            total=money(o.total, o.currency),
            date=o.created_at.strftime("%m-%d"),
        )
        for o in orders
    )
    buttons = [ctx.button_text(o.number, "order", n=o.number) for o in orders]
    return [Outbound(text=ctx.t("orders.list", lines=lines), buttons=tuple(buttons))]


def status_intent(ctx: Ctx) -> list[Outbound]:
    number = ctx.entity("order_id")
    return _detail(ctx, ctx.shop.order(number)) if number else list_orders(ctx)


def detail(ctx: Ctx) -> list[Outbound]:
    return _detail(ctx, ctx.shop.order(ctx.args.get("n", "")))


def _detail(ctx: Ctx, order: Order) -> list[Outbound]:
    summary = order_summary(ctx, order)
    if order.status != OrderStatus.PENDING_PAYMENT:
        return [summary]
    buttons = (
        ctx.button("pay_now", "pay", n=order.number),
        ctx.button("cancel_order", "cancel", n=order.number),
    )
    return [Outbound(text=summary.text, buttons=buttons)]


def _unpaid_order(ctx: Ctx) -> Order | None:
    number = ctx.args.get("n") or ctx.entity("order_id")
    if number:
        return ctx.shop.order(number)
    return next((o for o in ctx.shop.orders() if o.status == OrderStatus.PENDING_PAYMENT), None)


def pay(ctx: Ctx) -> list[Outbound]:
    order = _unpaid_order(ctx)
    if order is None:
        return [ctx.say("orders.nothing_to_pay", ctx.button("orders", "orders"))]
    total = money(order.total, order.currency)
    return [
        Outbound(
            text=ctx.t("orders.pay", number=order.number, total=total), link=pay_link(ctx, order)
        )
    ]


def cancel(ctx: Ctx) -> list[Outbound]:
    """First press asks for confirmation; the confirmation (ok=1, or 'yes') cancels."""
    order = _unpaid_order(ctx)
    if order is None:
        return [ctx.say("orders.nothing_to_cancel", ctx.button("orders", "orders"))]
    ctx.shop.ensure_cancellable(order)  # ask "are you sure?" only when the answer can be yes
    if ctx.args.get("ok") != "1":
        ctx.state.expecting, ctx.state.order = "cancel", order.number
        return [
            ctx.ask(
                "orders.confirm_cancel",
                ctx.button("yes_cancel", "cancel", n=order.number, ok=1),
                ctx.button("no_keep", "keep"),
                number=order.number,
            )
        ]
    cancelled = ctx.shop.cancel_order(order.number)
    ctx.state.expecting, ctx.state.order = "", ""
    return [
        ctx.say(
            "orders.cancelled",
            ctx.button("categories", "browse_categories"),
            number=cancelled.number,
        )
    ]


def keep(ctx: Ctx) -> list[Outbound]:
    ctx.state.expecting, ctx.state.order = "", ""
    return [ctx.say("orders.kept")]
