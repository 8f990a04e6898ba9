"""How catalog, cart and order objects read in a chat, in the customer's language."""

from __future__ import annotations

from collections.abc import Sequence

from bot.messages import Card, Link, Outbound
from dialogs.context import Ctx
from dialogs.i18n import money
from store.carts import CartView
from store.lexicon import lexicon
from store.models import Order, Product, Variant
from store.search import ProductSummary, VariantSummary

LOW_STOCK = 5


def name(product: Product | ProductSummary, lang: str) -> str:
    return product.name_zh if lang == "zh" else product.name_en


def variant_label(color: str, size: str, lang: str) -> str:
    parts = [lexicon().color_name(color, lang) if color else "", size]
    return " / ".join(p for p in parts if p)


def stock_text(ctx: Ctx, stock: int) -> str:
    if stock <= 0:
        return ctx.t("stock.sold_out")
    return ctx.t("stock.low" if stock <= LOW_STOCK else "stock.in", n=stock)


def price_text(ctx: Ctx, variants: Sequence[Variant | VariantSummary]) -> str:
    low = min(variants, key=lambda v: v.price)
    text = money(low.price, low.currency)
    return text if all(v.price == low.price for v in variants) else ctx.t("price_from", price=text)


def product_card(ctx: Ctx, product: ProductSummary, color: str | None = None) -> Card:
    variants = [v for v in product.variants if v.color == color] or product.variants
    colors = {v.color for v in product.variants if v.color}
    subtitle = " · ".join(
        p for p in [product.brand, ctx.t("colours", n=len(colors)) if len(colors) > 1 else ""] if p
    )
    return Card(
        title=name(product, ctx.lang),
        subtitle=subtitle,
        image=product.image,
        price=price_text(ctx, variants),
        stock=stock_text(ctx, sum(v.stock for v in variants)),
        buttons=(
            ctx.button("details", "detail", p=product.id),
            ctx.button("add", "pick", p=product.id),
        ),
    )


def variant_buttons(ctx: Ctx, product: Product) -> list:
    return [
        ctx.button_text(
            f"{variant_label(v.color, v.size, ctx.lang) or name(product, ctx.lang)} · {money(v.price, v.currency)}",
            "variant",
            sku=v.sku,
        )
        for v in product.variants
        if v.stock > 0
    ][:12]


def order_lines(ctx: Ctx, order: Order) -> str:
    return "\n".join(
        _line(
            ctx,
            line.name_zh if ctx.lang == "zh" else line.name_en,
            line.color,
            line.size,
            line.quantity,
            money(line.unit_price * line.quantity, order.currency),
        )
        for line in order.lines
    )


def cart_lines(ctx: Ctx, cart: CartView) -> str:
    return "\n".join(
        _line(
            ctx,
            name(line.variant.product, ctx.lang),
            line.variant.color,
            line.variant.size,
            line.quantity,
            money(line.variant.price * line.quantity, line.variant.currency),
        )
        for line in cart.lines
    )


def _line(ctx: Ctx, title: str, color: str, size: str, qty: int, amount: str) -> str:
    variant = variant_label(color, size, ctx.lang)
    return ctx.t("order.line", name=title, variant=variant, qty=qty, amount=amount)


def pay_link(ctx: Ctx, order: Order) -> Link:
    """The payment link for an unpaid order (ORDER_NOT_PAYABLE otherwise)."""
    label = ctx.t("buttons.pay", total=money(order.total, order.currency))
    return Link(ctx.shop.payment_link(order), label, order.number)


def order_summary(ctx: Ctx, order: Order) -> Outbound:
    return Outbound(
        text=ctx.t(
            "order.detail",
            number=order.number,
            status=ctx.t(f"status.{order.status}"),
            lines=order_lines(ctx, order),
            total=money(order.total, order.currency),
            name=order.ship_name,
            phone=order.ship_phone,
            address=order.ship_address,
            date=order.created_at.strftime("%Y-%m-%d %H:%M"),
        )
    )
