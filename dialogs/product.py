"""Product detail, choosing a variant and a quantity, adding to the cart."""

from __future__ import annotations

from bot.messages import Outbound
from dialogs import greet
from dialogs.context import Ctx, whole_number
from dialogs.i18n import money
from dialogs.render import name, price_text, stock_text, variant_buttons, variant_label
from store.carts import MAX_LINE_QUANTITY
from store.errors import DomainError, ErrorCode
from store.lexicon import lexicon
from store.models import Product, Variant


def _product_arg(ctx: Ctx) -> Product:
    product_id = whole_number(ctx.args.get("p"))
    if product_id is None:
        raise DomainError(ErrorCode.UNKNOWN_PRODUCT)
    return ctx.shop.product(product_id)


def _product_in_context(ctx: Ctx) -> Product | None:
    """'the second one' → the second product shown; otherwise the one being looked at."""
    ordinal = ctx.int_arg("ordinal")
    shown = ctx.state.shown
    if ordinal and shown:
        index = ordinal - 1 if ordinal > 0 else len(shown) - 1
        if not 0 <= index < len(shown):
            raise DomainError(ErrorCode.UNKNOWN_PRODUCT)
        return ctx.shop.product(shown[index])
    if ctx.state.focus:
        return ctx.shop.product(ctx.state.focus)
    if len(shown) == 1:
        return ctx.shop.product(shown[0])
    return None


def detail(ctx: Ctx) -> list[Outbound]:
    return _detail(ctx, _product_arg(ctx))


def detail_intent(ctx: Ctx) -> list[Outbound]:
    product = _product_in_context(ctx)
    if product is None:
        return [ctx.say("product.which")]
    return _detail(ctx, product)


def _detail(ctx: Ctx, product: Product) -> list[Outbound]:
    ctx.state.focus = product.id
    colors = sorted({lexicon().color_name(v.color, ctx.lang) for v in product.variants if v.color})
    sizes = list(dict.fromkeys(v.size for v in product.variants if v.size))
    text = ctx.t(
        "product.detail",
        name=name(product, ctx.lang),
        brand=product.brand,
        price=price_text(ctx, product.variants),
        description=product.description_zh if ctx.lang == "zh" else product.description_en,
        colors=", ".join(colors) or "-",
        sizes=", ".join(sizes) or "-",
        stock=stock_text(ctx, sum(v.stock for v in product.variants)),
    )
    buttons = variant_buttons(ctx, product)
    if not buttons:
        return [Outbound(text=text, image=product.image), ctx.say("product.sold_out")]
    return [
        Outbound(text=text, image=product.image),
        Outbound(text=ctx.t("product.choose"), buttons=tuple(buttons)),
    ]


def pick(ctx: Ctx) -> list[Outbound]:
    """'Add to cart' on a card: one variant goes straight in, several need a choice."""
    product = _product_arg(ctx)
    ctx.state.focus = product.id
    in_stock = [v for v in product.variants if v.stock > 0]
    if len(product.variants) == 1 and in_stock:
        return add_variant(ctx, in_stock[0], 1)
    if not in_stock:
        return [ctx.say("product.sold_out")]
    return [Outbound(text=ctx.t("product.choose"), buttons=tuple(variant_buttons(ctx, product)))]


def variant(ctx: Ctx) -> list[Outbound]:
    chosen = ctx.shop.variant(ctx.args.get("sku", ""))
    return _ask_quantity(ctx, chosen)


def _ask_quantity(ctx: Ctx, chosen: Variant) -> list[Outbound]:
    if chosen.stock <= 0:
        raise DomainError(ErrorCode.OUT_OF_STOCK, sku=chosen.sku, available=0)
    ctx.state.sku, ctx.state.expecting, ctx.state.focus = chosen.sku, "quantity", chosen.product_id
    buttons = [
        ctx.button_text(str(n), "add", sku=chosen.sku, qty=n)
        for n in (1, 2, 3)
        if n <= chosen.stock
    ]
    return [
        ctx.ask(
            "product.how_many",
            *buttons,
            name=name(chosen.product, ctx.lang),
            variant=variant_label(chosen.color, chosen.size, ctx.lang),
            price=money(chosen.price, chosen.currency),
            stock=chosen.stock,
        )
    ]


def add(ctx: Ctx) -> list[Outbound]:
    """An 'add' button, or a quantity typed while one is expected."""
    quantity = ctx.int_arg("qty")
    if quantity is None:
        quantity = ctx.int_arg("quantity")
    if quantity is None:
        raise DomainError(ErrorCode.BAD_QUANTITY, max=MAX_LINE_QUANTITY)
    return add_variant(ctx, ctx.shop.variant(ctx.args.get("sku") or ctx.state.sku), quantity)


def add_variant(ctx: Ctx, chosen: Variant, quantity: int) -> list[Outbound]:
    ctx.shop.add_to_cart(chosen.sku, quantity)
    ctx.state.sku, ctx.state.expecting = "", ""
    view = ctx.shop.cart()
    return [
        ctx.say(
            "cart.added",
            ctx.button("view_cart", "view_cart"),
            ctx.button("checkout", "checkout"),
            qty=quantity,
            name=name(chosen.product, ctx.lang),
            variant=variant_label(chosen.color, chosen.size, ctx.lang),
            items=sum(line.quantity for line in view.lines),
            total=money(view.total, view.currency),
        )
    ]


def add_intent(ctx: Ctx) -> list[Outbound]:
    """'来两件M码的', 'add two of those', 'I'll take the red one in L'."""
    product = _product_in_context(ctx)
    if product is None:
        if ctx.state.sku:
            return add(ctx)
        return [ctx.say("product.which")]
    quantity = ctx.int_arg("quantity") or 1
    color, size = ctx.entity("color"), ctx.entity("size")
    matches = [
        v
        for v in product.variants
        if (color is None or v.color == color) and (size is None or v.size.upper() == size.upper())
    ]
    if len(matches) > 1 and color is None and ctx.state.search.get("color"):
        # The colour searched for ("红色的T恤") still applies to "两件M码的".
        matches = [v for v in matches if v.color == ctx.state.search["color"]] or matches
    if len(matches) == 1:
        return add_variant(ctx, matches[0], quantity)
    if not matches:
        return [ctx.say("product.no_such_variant"), *_detail(ctx, product)[1:]]
    return [Outbound(text=ctx.t("product.choose"), buttons=tuple(variant_buttons(ctx, product)))]


def inform(ctx: Ctx) -> list[Outbound]:
    """A bare 'M码' or '要蓝色的' right after looking at a product picks that variant."""
    picked = any(ctx.entity(kind) for kind in ("color", "size", "quantity", "ordinal"))
    if picked and (ctx.state.focus or ctx.state.shown):
        return add_intent(ctx)
    return greet.fallback(ctx)
