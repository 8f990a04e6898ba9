"""Search, paging, sorting, filtering and browsing categories."""

from __future__ import annotations

from dataclasses import asdict, replace

from bot.messages import Outbound
from dialogs.context import Ctx, whole_number
from dialogs.render import product_card
from store.search import SearchQuery

_FILTERS = ("category", "brand", "color", "size", "price_min", "price_max")


def _query_from_entities(ctx: Ctx) -> SearchQuery:
    def yuan(kind: str) -> int | None:
        return whole_number(ctx.entity(kind), scale=100)  # minor units

    return SearchQuery(
        text=ctx.text,
        category=ctx.entity("category"),
        brand=ctx.entity("brand"),
        color=ctx.entity("color"),
        size=ctx.entity("size"),
        price_min=yuan("price_min"),
        price_max=yuan("price_max"),
    )


def search(ctx: Ctx) -> list[Outbound]:
    query = _query_from_entities(ctx)
    previous = ctx.state.search
    if previous and _only_refines(ctx, query):
        # "under 300" after "running shoes": narrow the last search instead of starting over.
        merged = {k: v for k, v in asdict(query).items() if k in _FILTERS and v is not None}
        query = replace(SearchQuery(**previous), page=1, **merged)
    return _show(ctx, query)


def _only_refines(ctx: Ctx, query: SearchQuery) -> bool:
    has_filter = any(getattr(query, k) is not None for k in _FILTERS)
    return has_filter and not ctx.shop.search_terms(query.text)


def more(ctx: Ctx) -> list[Outbound]:
    if not ctx.state.search:
        return [ctx.say("search.nothing_to_page")]
    query = SearchQuery(**ctx.state.search)
    return _show(ctx, replace(query, page=query.page + 1), in_place=True)


def page(ctx: Ctx) -> list[Outbound]:
    number = ctx.int_arg("n")
    if not ctx.state.search or number is None:
        return [ctx.say("search.nothing_to_page")]
    return _show(ctx, replace(SearchQuery(**ctx.state.search), page=max(number, 1)), in_place=True)


def sort(ctx: Ctx) -> list[Outbound]:
    by = ctx.args.get("by", "price_asc")
    if not ctx.state.search or by not in ("price_asc", "price_desc", "relevance"):
        return [ctx.say("search.nothing_to_page")]
    return _show(ctx, replace(SearchQuery(**ctx.state.search), sort=by, page=1), in_place=True)


def category(ctx: Ctx) -> list[Outbound]:
    return _show(ctx, SearchQuery(category=ctx.args.get("c", "")))


def categories(ctx: Ctx) -> list[Outbound]:
    buttons = [
        ctx.button_text(c.zh if ctx.lang == "zh" else c.en, "cat", c=c.en)
        for c in ctx.shop.categories()
    ]
    return [Outbound(text=ctx.t("search.categories"), buttons=tuple(buttons))]


def _show(ctx: Ctx, query: SearchQuery, in_place: bool = False) -> list[Outbound]:
    result, products = ctx.shop.search(query)
    if not products:
        ctx.state.search = {}
        return [ctx.say("search.none", ctx.button("categories", "browse_categories"))]
    ctx.state.search = asdict(replace(query, page=result.page))
    ctx.state.shown = [p.id for p in products]
    ctx.state.focus = products[0].id if len(products) == 1 else None
    buttons = []
    if result.page > 1:
        buttons.append(ctx.button("prev", "page", n=result.page - 1))
    if result.page < result.pages:
        buttons.append(ctx.button("more", "more"))
    buttons += [
        ctx.button("cheapest", "sort", by="price_asc"),
        ctx.button("priciest", "sort", by="price_desc"),
    ]
    return [
        Outbound(
            text=ctx.t("search.found", total=result.total, page=result.page, pages=result.pages),
            cards=tuple(product_card(ctx, p, result.color) for p in products),
            buttons=tuple(buttons),
            replace=in_place,
        )
    ]
