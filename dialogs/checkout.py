"""Checkout: a form that asks only for what is missing, a summary, and the order."""

from __future__ import annotations

from dataclasses import replace

from bot.messages import Outbound
from dialogs.cart import view as view_cart
from dialogs.context import Ctx, whole_number
from dialogs.i18n import money
from dialogs.render import cart_lines, pay_link
from store.errors import DomainError, ErrorCode

SLOTS = ("name", "phone", "address")


def start(ctx: Ctx) -> list[Outbound]:
    if ctx.shop.cart().empty:
        raise DomainError(ErrorCode.EMPTY_CART)
    ctx.shop.ensure_can_pay()  # before asking for an address we could not use
    saved = ctx.shop.saved_addresses()
    if ctx.state.form or not saved:  # resume what was already given
        return _next(ctx)
    ctx.state.expecting = "address_choice"
    buttons = [
        ctx.button_text(f"{a.name} · {a.phone[-4:]} · {a.address[:24]}", "addr", id=a.id)
        for a in saved
    ]
    buttons.append(ctx.button("new_address", "addr", id="new"))
    return [ctx.ask("checkout.saved_address", *buttons)]


def choose_address(ctx: Ctx) -> list[Outbound]:
    chosen = whole_number(ctx.args.get("id"))
    address = ctx.shop.saved_address(chosen) if chosen is not None else None
    if address is None:
        ctx.state.form = {}
        return _next(ctx)
    ctx.state.form = {"name": address.name, "phone": address.phone, "address": address.address}
    return _next(ctx)


def fill(ctx: Ctx) -> list[Outbound]:
    """Free text while a form field is awaited: take it as that field's value."""
    if ctx.contact_phone:
        ctx.state.form["phone"] = ctx.shop.validate_contact("phone", ctx.contact_phone)
    slot = ctx.state.expecting
    if slot in SLOTS and ctx.text:
        raw = ctx.entity(slot) or ctx.text
        ctx.state.form[slot] = ctx.shop.validate_contact(slot, raw)
    return _next(ctx)


def _next(ctx: Ctx) -> list[Outbound]:
    missing = [slot for slot in SLOTS if not ctx.state.form.get(slot)]
    if missing:
        ctx.state.expecting = missing[0]
        ask = ctx.say(
            f"checkout.ask_{missing[0]}", ctx.button("cancel_checkout", "cancel_checkout")
        )
        return [replace(ask, ask_contact=missing[0] == "phone")]
    ctx.state.expecting = "confirm"
    return [_summary(ctx)]


def _summary(ctx: Ctx) -> Outbound:
    cart = ctx.shop.cart()
    if cart.empty:
        raise DomainError(ErrorCode.EMPTY_CART)
    return ctx.ask(
        "checkout.summary",
        ctx.button("confirm", "confirm"),
        ctx.button("change_address", "addr", id="new"),
        ctx.button("cancel_checkout", "cancel_checkout"),
        lines=cart_lines(ctx, cart),
        total=money(cart.total, cart.currency),
        **ctx.state.form,
    )


def confirm(ctx: Ctx) -> list[Outbound]:
    form = ctx.state.form
    if not all(form.get(slot) for slot in SLOTS):
        return start(ctx)
    order = ctx.shop.place_order(form["name"], form["phone"], form["address"], ctx.lang)
    link = pay_link(ctx, order)
    ctx.state.form, ctx.state.expecting, ctx.state.order = {}, "", order.number
    total = money(order.total, order.currency)
    return [
        Outbound(
            text=ctx.t(
                "checkout.placed", number=order.number, total=total, minutes=_minutes(ctx, order)
            ),
            link=link,
            buttons=(
                ctx.button("orders", "orders"),
                ctx.button("cancel_order", "cancel", n=order.number),
            ),
        )
    ]


def _minutes(ctx: Ctx, order) -> int:
    return max(1, round((order.pay_by - ctx.shop.now).total_seconds() / 60))


def abort(ctx: Ctx) -> list[Outbound]:
    ctx.state.form, ctx.state.expecting = {}, ""
    return [ctx.say("checkout.aborted"), *view_cart(ctx)]
