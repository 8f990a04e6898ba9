"""Viewing and changing the cart."""

from __future__ import annotations

from dataclasses import replace

from bot.messages import Card, Outbound
from dialogs import greet
from dialogs.context import Ctx
from dialogs.i18n import money
from dialogs.render import name, variant_label
from store.carts import CartView


def view(ctx: Ctx, in_place: bool = False) -> list[Outbound]:
    cart = ctx.shop.cart()
    if cart.empty:
        empty = ctx.say("cart.empty", ctx.button("categories", "browse_categories"))
        return [replace(empty, replace=in_place)]
    return [replace(_render(ctx, cart), replace=in_place)]


def _render(ctx: Ctx, cart: CartView) -> Outbound:
    cards = []
    for line in cart.lines:
        v = line.variant
        cards.append(
            Card(
                title=name(v.product, ctx.lang),
                subtitle=variant_label(v.color, v.size, ctx.lang),
                image=v.product.image,
                price=money(v.price * line.quantity, v.currency),
                stock=ctx.t("cart.quantity", qty=line.quantity),
                buttons=(
                    ctx.button_text("−", "qty", sku=v.sku, q=line.quantity - 1),
                    ctx.button_text("+", "qty", sku=v.sku, q=line.quantity + 1),
                    ctx.button("remove", "rm", sku=v.sku),
                ),
            )
        )
    return Outbound(
        text=ctx.t(
            "cart.summary",
            items=sum(x.quantity for x in cart.lines),
            total=money(cart.total, cart.currency),
        ),
        cards=tuple(cards),
        buttons=(
            ctx.button("checkout", "checkout"),
            ctx.button("clear_cart", "clear"),
            ctx.button("keep_shopping", "browse_categories"),
        ),
    )


def set_quantity(ctx: Ctx) -> list[Outbound]:
    quantity = ctx.int_arg("q")
    ctx.shop.set_quantity(ctx.args.get("sku", ""), quantity if quantity is not None else -1)
    return view(ctx, in_place=True)


def remove(ctx: Ctx) -> list[Outbound]:
    ctx.shop.remove_from_cart(ctx.args.get("sku", ""))
    return view(ctx, in_place=True)


def clear(ctx: Ctx) -> list[Outbound]:
    ctx.shop.clear_cart()
    return [ctx.say("cart.cleared", ctx.button("categories", "browse_categories"))]


def _target_line(ctx: Ctx, cart: CartView):
    """The line a free-text change refers to: by position, colour/size, or the only one."""
    ordinal = ctx.int_arg("ordinal")
    if ordinal and 0 < ordinal <= len(cart.lines):
        return cart.lines[ordinal - 1]
    color, size = ctx.entity("color"), ctx.entity("size")
    if color or size:
        hits = [
            line
            for line in cart.lines
            if (not color or line.variant.color == color)
            and (not size or line.variant.size == size)
        ]
        if len(hits) == 1:
            return hits[0]
    terms = set(ctx.shop.search_terms(ctx.text))
    if terms:
        hits = [
            line
            for line in cart.lines
            if terms
            & set(
                ctx.shop.search_terms(
                    line.variant.product.name_en + " " + line.variant.product.name_zh
                )
            )
        ]
        if len(hits) == 1:
            return hits[0]
    return cart.lines[0] if len(cart.lines) == 1 else None


def update_intent(ctx: Ctx) -> list[Outbound]:
    """'make it 3', '改成两件', or another colour/size: '换成蓝色的', 'make it an L'."""
    cart = ctx.shop.cart()
    if cart.empty:
        return view(ctx)
    color, size = ctx.entity("color"), ctx.entity("size")
    if ctx.entity("quantity") is None and (color or size):
        return _swap(ctx, cart, color, size)
    line, quantity = _target_line(ctx, cart), ctx.int_arg("quantity")
    if line is None or quantity is None:
        return [ctx.say("cart.which_line"), _render(ctx, cart)]
    ctx.shop.set_quantity(line.variant.sku, quantity)
    return view(ctx)


def swap_or_exchange(ctx: Ctx) -> list[Outbound]:
    """'换成蓝色的' with goods in the cart means the cart line; about an order it is an
    after-sales exchange, which this chat cannot do yet."""
    color, size = ctx.entity("color"), ctx.entity("size")
    if (color or size) and not ctx.entity("order_id"):
        cart = ctx.shop.cart()
        if not cart.empty:
            return _swap(ctx, cart, color, size)
    return greet.not_yet(ctx)


def _swap(ctx: Ctx, cart: CartView, color: str | None, size: str | None) -> list[Outbound]:
    """Change the line being talked about (the only or the most recently added one)."""
    current = max(cart.lines, key=lambda line: line.id).variant
    wanted = [
        v
        for v in current.product.variants
        if v.color == (color or current.color) and v.size.upper() == (size or current.size).upper()
    ]
    if not wanted:
        return [ctx.say("product.no_such_variant"), _render(ctx, cart)]
    ctx.shop.change_variant(current.sku, wanted[0].sku)
    return view(ctx)


def remove_intent(ctx: Ctx) -> list[Outbound]:
    """'把帽子删了', '清空购物车'."""
    cart = ctx.shop.cart()
    if cart.empty:
        return view(ctx)
    if ctx.entity("scope") == "all":
        return clear(ctx)
    line = _target_line(ctx, cart)
    if line is None:
        return [ctx.say("cart.which_line"), _render(ctx, cart)]
    ctx.shop.remove_from_cart(line.variant.sku)
    return view(ctx)
