"""Greeting, help, thanks, goodbye and the fallback."""

from __future__ import annotations

from bot.messages import Outbound
from dialogs.context import Ctx
from dialogs.i18n import LANGUAGES


def _menu(ctx: Ctx) -> tuple:
    return (
        ctx.button("categories", "browse_categories"),
        ctx.button("cart", "view_cart"),
        ctx.button("orders", "orders"),
    )


def greet(ctx: Ctx) -> list[Outbound]:
    return [ctx.say("greet", *_menu(ctx))]


def language(ctx: Ctx) -> list[Outbound]:
    """Switch the language on request; without one, offer both."""
    chosen = ctx.args.get("to")
    if chosen not in LANGUAGES:
        return [
            Outbound(
                text=ctx.t("lang.choose"),
                buttons=tuple(
                    ctx.button_text(ctx.t(f"lang.name_{lang}"), "lang", to=lang)
                    for lang in LANGUAGES
                ),
                question=True,
            )
        ]
    ctx.lang = ctx.state.language = chosen
    return [ctx.say("lang.set", *_menu(ctx))]


def help_(ctx: Ctx) -> list[Outbound]:
    return [ctx.say("help", *_menu(ctx))]


def thanks(ctx: Ctx) -> list[Outbound]:
    return [ctx.say("thanks")]


def goodbye(ctx: Ctx) -> list[Outbound]:
    return [ctx.say("goodbye")]


HUMAN_AFTER = 2  # misunderstandings in a row before a person is offered


def fallback(ctx: Ctx) -> list[Outbound]:
    ctx.state.fallbacks += 1
    if ctx.state.fallbacks >= HUMAN_AFTER:
        return [ctx.say("fallback_human", ctx.button("human", "human_agent"), *_menu(ctx))]
    return [ctx.say("fallback", *_menu(ctx))]


def clarify(ctx: Ctx) -> list[Outbound]:
    """Not sure: offer the two best guesses as buttons; the answer replays the message."""
    if ctx.parse is None or len(ctx.parse.ranking) < 2:
        return fallback(ctx)
    ctx.state.fallbacks += 1
    ctx.state.unclear = ctx.text
    guesses = [intent for intent, _ in ctx.parse.ranking[:2]]
    buttons = [ctx.button_text(ctx.t(f"intents.{i}"), "clarify", i=i) for i in guesses]
    if ctx.state.fallbacks >= HUMAN_AFTER:
        buttons.append(ctx.button("human", "human_agent"))
    return [Outbound(text=ctx.t("clarify"), buttons=tuple(buttons), question=True)]


def human_agent(ctx: Ctx) -> list[Outbound]:
    """Until agents can take chats over here, say honestly how to reach a person."""
    ctx.state.fallbacks = 0
    if ctx.support_contact:
        return [ctx.say("human_contact", *_menu(ctx), contact=ctx.support_contact)]
    return [ctx.say("human_unavailable", *_menu(ctx))]


def not_yet(ctx: Ctx) -> list[Outbound]:
    """Intents the shop understands but cannot serve in chat yet."""
    return [ctx.say("not_yet", *_menu(ctx))]
