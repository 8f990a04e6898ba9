"""The dialog engine: turns one inbound message into an action, runs that flow step, and
returns the replies and the next state. It sends nothing and knows no platform."""

from __future__ import annotations

import logging
import re
from dataclasses import replace

from bot.messages import Action, Inbound, Outbound
from dialogs import cart, checkout, greet, orders, product, search
from dialogs.context import Ctx, Handler, Turn
from dialogs.i18n import LANGUAGES, t
from dialogs.state import DialogState
from nlu.language import detect_language
from nlu.numbers import to_number
from nlu.types import Interpreter, Parse, ParseContext
from store.errors import DomainError
from store.shop import Shop

log = logging.getLogger(__name__)

MAX_TEXT = 1000
CONFIDENT = 0.5  # below this, free text during a form is taken as the awaited value
UNSURE = 0.45  # below this, the bot asks which of its two best guesses was meant
_MEANINGFUL = re.compile(r"[\w\u3400-\u9fff]")

ROUTES: dict[str, Handler] = {
    "start": greet.greet,
    "greet": greet.greet,
    "help": greet.help_,
    "thanks": greet.thanks,
    "goodbye": greet.goodbye,
    "out_of_scope": greet.fallback,
    "clarify": greet.clarify,
    "human_agent": greet.human_agent,
    "search_product": search.search,
    "browse_categories": search.categories,
    "more": search.more,
    "page": search.page,
    "lang": greet.language,
    "sort": search.sort,
    "cat": search.category,
    "product_detail": product.detail_intent,
    "detail": product.detail,
    "pick": product.pick,
    "variant": product.variant,
    "add": product.add,
    "add_to_cart": product.add_intent,
    "inform": product.inform,
    "view_cart": cart.view,
    "update_cart": cart.update_intent,
    "exchange_request": cart.swap_or_exchange,
    "remove_from_cart": cart.remove_intent,
    "qty": cart.set_quantity,
    "rm": cart.remove,
    "clear": cart.clear,
    "checkout": checkout.start,
    "addr": checkout.choose_address,
    "form": checkout.fill,
    "confirm": checkout.confirm,
    "cancel_checkout": checkout.abort,
    "order_status": orders.status_intent,
    "orders": orders.list_orders,
    "order": orders.detail,
    "pay": orders.pay,
    "cancel_order": orders.cancel,
    "cancel": orders.cancel,
    "keep": orders.keep,
}
# Understood, but served by later parts of the shop (tracking, after-sales, privacy).
for _intent in (
    "track_shipment",
    "payment_issue",
    "complaint",
    "change_address",
    "confirm_receipt",
    "return_request",
    "refund_request",
    "refund_status",
    "review",
    "delete_my_data",
    "faq_shipping",
    "faq_returns_policy",
    "faq_payment_methods",
):
    ROUTES[_intent] = greet.not_yet


class DialogEngine:
    def __init__(
        self, interpreter: Interpreter, default_language: str = "zh", support_contact: str = ""
    ) -> None:
        self.interpreter = interpreter
        self.default_language = default_language
        self.support_contact = support_contact

    def understand(self, inbound: Inbound) -> Parse | None:
        """NLU for free text, done before any database work so transactions stay short."""
        if inbound.payload or inbound.contact_phone or _unusable(inbound.text.strip()):
            return None
        return self.interpreter.parse(inbound.text.strip(), ParseContext())

    def step(
        self, inbound: Inbound, state: DialogState, shop: Shop, parse: Parse | None = None
    ) -> Turn:
        text = inbound.text.strip()
        lang = detect_language(text, state.language or inbound.language or self.default_language)
        before = state.copy()
        before.language = lang
        if inbound.payload:
            action = Action.decode(inbound.payload)
            if action.name == "clarify" and before.unclear:
                # The customer picked one of our guesses: answer the original message with it.
                text, action = before.unclear, Action(action.args.get("i", "out_of_scope"))
                parse = self.interpreter.parse(text, ParseContext())
            if action.name == "start" and action.args.get("lang") in LANGUAGES:
                lang = before.language = action.args["lang"]  # the browser's or app's language
            if action.name == "start" and action.args.get("p"):
                action = Action("detail", action.args)  # a deep link to a product (t.me, QR)
        elif inbound.contact_phone:
            action = Action("form" if before.expecting in checkout.SLOTS else "checkout")
        elif inbound.attachments and not text:
            return Turn([Outbound(text=t(lang, _media_answer(inbound.attachments)))], before)
        elif problem := _unusable(text):
            return Turn([Outbound(text=t(lang, problem))], before)
        else:
            if parse is None or state.expecting in _CONTEXT_ENTITIES:
                # The early parse knew no context; a bare "Zhang Wei" is a name only because
                # the form just asked for one.
                parse = self.interpreter.parse(text, ParseContext(expecting=state.expecting))
            action = _action_for(parse, before, text)
        ctx = Ctx(
            shop,
            before.copy(),
            lang,
            text,
            action.args,
            parse,
            inbound.contact_phone,
            self.support_contact,
        )
        ctx.state.unclear = ""
        if before.expecting and action.name not in _CONTINUES.get(before.expecting, _CHECKOUT):
            # The customer moved on; an old question (and what it was about) no longer holds.
            ctx.state.expecting = ""
            if before.expecting == "quantity":
                ctx.state.sku = ""
        handler = ROUTES.get(action.name, greet.fallback)
        try:
            replies = handler(ctx)
        except DomainError as error:
            return Turn([Outbound(text=t(lang, f"errors.{error.code}", **error.params))], before)
        if handler not in (greet.fallback, greet.clarify):
            ctx.state.fallbacks = 0
        return Turn(_after_phone_question(before, ctx.state, replies), ctx.state)


_CONTEXT_ENTITIES = frozenset({"name", "address"})  # fields whose bare value needs context
# Actions that answer what the dialog is waiting for; anything else drops the expectation.
_CHECKOUT = frozenset({"form", "addr", "confirm", "cancel_checkout", "checkout"})
_CONTINUES = {
    "quantity": frozenset({"add", "add_to_cart", "variant"}),
    "cancel": frozenset({"cancel", "cancel_order", "keep"}),
}


def _media_answer(attachments: tuple[str, ...]) -> str:
    """Attachments are named "<channel>[-<kind>]:<id>"; a photo unless a kind is given."""
    kinds = {a.partition(":")[0].partition("-")[2] or "photo" for a in attachments}
    if kinds == {"voice"}:
        return "media.voice"
    return "media.received" if "photo" in kinds else "media.other"


def _after_phone_question(
    before: DialogState, after: DialogState, replies: list[Outbound]
) -> list[Outbound]:
    """Replies that end the phone question (the number is known, or the customer moved on)
    say so, so a channel can take away the "share my contact" it offered with the question."""
    if before.expecting == "phone" and after.expecting != "phone" and replies:
        return [replace(replies[0], contact_done=True), *replies[1:]]
    return replies


def _unusable(text: str) -> str | None:
    if not text:
        return "input.empty"
    if len(text) > MAX_TEXT:
        return "input.too_long"
    if not _MEANINGFUL.search(text):
        return "input.no_words"
    return None


def _action_for(parse: Parse, state: DialogState, text: str) -> Action:
    """Free text → action, letting what the dialog is waiting for win over weak guesses."""
    intent, sure = parse.intent, parse.confidence >= CONFIDENT
    expecting = state.expecting
    if expecting in checkout.SLOTS:
        if intent == "deny":
            return Action("cancel_checkout")
        if intent in ("inform", "affirm", "out_of_scope") or not sure or parse.first(expecting):
            return Action("form")
    quantity = _bare_number(text) or parse.first("quantity")
    if (
        expecting == "quantity"
        and quantity
        and (intent in ("inform", "add_to_cart", "update_cart") or not sure)
    ):
        return Action("add", {"quantity": quantity})
    if expecting in ("confirm", "address_choice") and intent in ("affirm", "deny"):
        return Action(
            "confirm" if intent == "affirm" and expecting == "confirm" else "cancel_checkout"
        )
    if expecting == "cancel" and intent in ("affirm", "deny"):
        return (
            Action("cancel", {"n": state.order, "ok": "1"})
            if intent == "affirm"
            else Action("keep")
        )
    goods = any(e.type in ("product", "category", "brand") for e in parse.entities)
    if intent == "search_product" and goods:
        return Action(intent)  # a product word is evidence enough to just search
    if parse.confidence < UNSURE and intent != "out_of_scope" and len(parse.ranking) > 1:
        return Action("clarify")
    return Action(intent)


def _bare_number(text: str) -> str | None:
    """'3', '-1', '两', 'two': a message that is nothing but a number."""
    if re.fullmatch(r"-?\d{1,12}", text):
        return text
    number = to_number(text)
    return str(int(number)) if number is not None and number == int(number) else None
