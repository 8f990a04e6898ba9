"""Conversations through the gateway and dialog engine, no platform and no HTTP."""

import pytest
from sqlalchemy import select

from bot.messages import Action
from dialogs.i18n import t
from dialogs.state import DialogState
from store.models import Conversation, Message, Order, OrderStatus, Variant
from store.uow import UnitOfWork
from tests.conftest import Customer_, texts


def payloads(replies) -> list[str]:
    found = []
    for reply in replies:
        found += [b.payload for b in reply.buttons]
        for card in reply.cards:
            found += [b.payload for b in card.buttons]
    return found


def first(replies, action: str) -> str:
    return next(p for p in payloads(replies) if Action.decode(p).name == action)


def state_of(app, customer: Customer_) -> DialogState:
    with UnitOfWork(app.sessions) as uow:
        conv = uow.session.scalars(select(Conversation)).all()
        for c in conv:
            from store.models import ChannelIdentity

            if uow.session.get(ChannelIdentity, c.identity_id).external_id == customer.chat_id:
                return DialogState.from_dict(c.state)
    raise AssertionError("no conversation")


def stock(app, sku: str) -> int:
    with UnitOfWork(app.sessions) as uow:
        return uow.session.scalars(select(Variant.stock).filter_by(sku=sku)).one()


@pytest.mark.parametrize(("text", "expect"), [("你好", "欢迎"), ("hi there", "welcome")])
def test_greeting_is_answered_in_the_customers_language(demo_app, text, expect) -> None:
    assert expect in texts(Customer_(demo_app).send(text)).lower()


@pytest.mark.parametrize(("lang", "expect"), [("en", "welcome"), ("zh", "欢迎")])
def test_first_visit_greets_in_the_browsers_language(demo_app, lang, expect) -> None:
    assert expect in texts(Customer_(demo_app).send(payload=f"start?lang={lang}")).lower()


@pytest.mark.parametrize("text", ["你能干嘛", "what can you do?"])
def test_help_explains_what_the_shop_can_do(demo_app, text) -> None:
    replies = Customer_(demo_app).send(text)
    assert "browse_categories" in payloads(replies)


def test_chinese_search_shows_product_cards_with_buttons(demo_app) -> None:
    replies = Customer_(demo_app).send("有没有红色的T恤")
    cards = [c for r in replies for c in r.cards]
    assert cards and all(c.title and c.price.startswith("¥") and c.image for c in cards)
    assert "找到" in texts(replies)
    assert {Action.decode(b.payload).name for b in cards[0].buttons} == {"detail", "pick"}


def test_price_filter_and_refinement_narrow_the_search(demo_app) -> None:
    customer = Customer_(demo_app)
    replies = customer.send("running shoes under 500")
    assert all(float(c.price.lstrip("¥").replace(",", "")) <= 500 for r in replies for c in r.cards)
    replies = customer.send("under 300")
    prices = [float(c.price.lstrip("¥").replace(",", "")) for r in replies for c in r.cards]
    assert prices and max(prices) <= 300
    assert state_of(demo_app, customer).search["price_max"] == 30000


def test_paging_and_sorting(demo_app) -> None:
    customer = Customer_(demo_app)
    customer.send("hello")
    page1 = customer.send(payload="cat?c=Shoes")
    page2 = customer.send(payload=first(page1, "more"))
    assert "page 2" in texts(page2)
    assert {c.title for c in page1[0].cards}.isdisjoint({c.title for c in page2[0].cards})
    cheap = customer.send(payload="sort?by=price_asc")
    prices = [float(c.price.split("¥")[1].split()[0].replace(",", "")) for c in cheap[0].cards]
    assert prices == sorted(prices)


def test_product_detail_variant_quantity_and_cart(demo_app) -> None:
    customer = Customer_(demo_app)
    cards = customer.send("red t-shirt")[0].cards
    detail = customer.send(payload=cards[0].buttons[0].payload)
    variant = first(detail, "variant")
    sku = Action.decode(variant).args["sku"]
    before = stock(demo_app, sku)
    asked = customer.send(payload=variant)
    assert "How many" in texts(asked)
    added = customer.send("2")
    assert "Added 2" in texts(added)
    cart = customer.send("what's in my cart")
    assert cart[0].cards[0].stock == "Qty 2"
    assert stock(demo_app, sku) == before  # carts do not reserve stock


def test_cart_plus_minus_remove_and_clear(demo_app) -> None:
    customer = Customer_(demo_app)
    customer.send("hello")
    customer.send(payload="add?sku=TS-001-RED-M&qty=1")
    customer.send(payload="add?sku=TS-001-WHT-M&qty=1")
    cart = customer.send(payload="qty?sku=TS-001-RED-M&q=3")
    assert "4 item" in texts(cart)
    cart = customer.send(payload="rm?sku=TS-001-WHT-M")
    assert len(cart[0].cards) == 1 and "3 item" in texts(cart)
    assert "empty" in texts(customer.send("empty my cart")).lower()
    assert "empty" in texts(customer.send(payload="view_cart")).lower()


@pytest.mark.parametrize(
    ("payload", "expect"),
    [
        ("add?sku=TS-001-RED-M&qty=0", "1 to 99"),
        ("add?sku=TS-001-RED-M&qty=-1", "1 to 99"),
        ("add?sku=TS-001-RED-M&qty=1000000000", "1 to 99"),
        ("add?sku=TS-001-RED-M&qty=abc", "1 to 99"),
        ("add?sku=NOPE-404&qty=1", "can't find"),
        ("detail?p=999999", "can't find"),
        ("detail?p=abc", "can't find"),
        ("order?n=CS999999", "can't find"),
        ("start?p=999999", "can't find"),  # a deep link to a product that is gone
        ("page?n=abc", "Search for something first"),
        ("lang?to=xx", "Which language"),
    ],
)
def test_bad_button_payloads_get_a_polite_answer_and_change_nothing(
    demo_app, payload, expect
) -> None:
    customer = Customer_(demo_app)
    customer.send("hello")
    replies = customer.send(text="x", payload=payload)
    assert expect in texts(replies)
    assert "empty" in texts(customer.send(payload="view_cart")).lower()


def test_more_than_in_stock_is_refused_with_what_is_left(demo_app) -> None:
    customer = Customer_(demo_app)
    customer.send("hello")
    available = stock(demo_app, "TS-001-RED-M")
    replies = customer.send(payload=f"add?sku=TS-001-RED-M&qty={available + 1}")
    assert f"only {available} left" in texts(replies)


@pytest.mark.parametrize(
    ("text", "expect"),
    [("", "empty"), ("   ", "empty"), ("x" * 10_000, "too long"), ("😂😂👍", "words")],
)
def test_unusable_messages_get_a_polite_answer_and_keep_state(demo_app, text, expect) -> None:
    customer = Customer_(demo_app)
    customer.send("red t-shirt")
    before = state_of(demo_app, customer)
    assert expect in texts(customer.send(text)).lower()
    assert state_of(demo_app, customer).search == before.search


def test_long_messages_are_recorded_truncated(demo_app) -> None:
    customer = Customer_(demo_app)
    customer.send("y" * 10_000)
    with UnitOfWork(demo_app.sessions) as uow:
        longest = max(len(m.text) for m in uow.session.scalars(select(Message)))
    assert longest <= 4000


def checkout_to_summary(customer: Customer_) -> list:
    customer.send("hello")
    customer.send(payload="add?sku=TS-001-RED-M&qty=2")
    assert "name" in texts(customer.send("checkout")).lower()
    assert "phone" in texts(customer.send("Li Lei")).lower()
    assert "doesn't look like a phone" in texts(customer.send("12345"))
    assert "address" in texts(customer.send("+44 7700 900123")).lower()
    return customer.send("221B Baker Street, London NW1 6XE")


def test_checkout_asks_only_for_what_is_missing_then_places_order(demo_app) -> None:
    customer = Customer_(demo_app)
    summary = checkout_to_summary(customer)
    assert "Total: ¥" in texts(summary) and "+447700900123" in texts(summary)
    placed = customer.send("yes")
    assert placed[0].link and placed[0].link.url.startswith("http")
    number = texts(placed).split("Order ")[1].split()[0]
    with UnitOfWork(demo_app.sessions) as uow:
        order = uow.session.scalars(select(Order).filter_by(number=number)).one()
        assert order.status == OrderStatus.PENDING_PAYMENT and order.ship_name == "Li Lei"
    # the second checkout offers the saved address and needs nothing typed
    customer.send(payload="add?sku=TS-001-RED-L&qty=1")
    offer = customer.send("checkout")
    saved = first(offer, "addr")
    assert "Total" in texts(customer.send(payload=saved))


def test_confirming_with_an_empty_cart_is_refused(demo_app) -> None:
    customer = Customer_(demo_app)
    customer.send("hello")
    assert "empty" in texts(customer.send("checkout")).lower()
    assert (
        "empty" in texts(customer.send(payload="confirm")).lower()
        or "name" in texts(customer.send(payload="confirm")).lower()
    )
    with UnitOfWork(demo_app.sessions) as uow:
        assert uow.session.scalars(select(Order)).all() == []


def test_orders_list_detail_and_cancel_releases_stock(demo_app) -> None:
    customer = Customer_(demo_app)
    before = stock(demo_app, "TS-001-RED-M")
    checkout_to_summary(customer)
    customer.send(payload="confirm")
    assert stock(demo_app, "TS-001-RED-M") == before - 2
    listing = customer.send("我的订单")
    detail = customer.send(payload=first(listing, "order"))
    assert "待付款" in texts(detail)
    ask = customer.send(payload=first(detail, "cancel"))
    assert "确定取消" in texts(ask)
    done = customer.send("对")
    assert "已取消" in texts(done)
    assert stock(demo_app, "TS-001-RED-M") == before
    again = customer.send(payload=first(detail, "pay"))
    assert "已付款或已取消" in texts(again)


def test_chinese_follow_up_adds_the_shown_product(demo_app) -> None:
    customer = Customer_(demo_app)
    customer.send("有没有红色的T恤")
    added = customer.send("第一个来两件M码的")
    assert "已加入购物车" in texts(added) and "× 2" in texts(added)


def test_moving_on_drops_an_old_question(demo_app) -> None:
    customer = Customer_(demo_app)
    customer.send("hello")
    customer.send(payload="variant?sku=TS-001-RED-M")  # "how many?"
    customer.send("blue jeans")
    customer.send("2")
    assert "empty" in texts(customer.send(payload="view_cart")).lower()


def test_checkout_resumes_with_what_was_already_given(demo_app) -> None:
    customer = Customer_(demo_app)
    customer.send("hello")
    customer.send(payload="add?sku=TS-001-RED-M&qty=1")
    customer.send("checkout")
    customer.send("Li Lei")
    customer.send(payload="view_cart")
    assert "phone" in texts(customer.send("checkout")).lower()


def test_a_bare_size_after_a_product_picks_that_variant(demo_app) -> None:
    customer = Customer_(demo_app)
    customer.send("你好")
    customer.send(payload="detail?p=1")
    added = customer.send("要红色L码的")
    assert "已加入购物车" in texts(added) and "L" in texts(added)


@pytest.mark.parametrize(("text", "lang"), [("换成白色的", "zh"), ("make it white instead", "en")])
def test_a_cart_line_can_switch_colour_keeping_its_quantity(demo_app, text, lang) -> None:
    customer = Customer_(demo_app)
    customer.send("你好" if lang == "zh" else "hello")
    customer.send(payload="add?sku=TS-001-RED-L&qty=2")
    replies = customer.send(text)
    if clarify := [b for r in replies for b in r.buttons if b.payload.startswith("clarify")]:
        customer.send(payload=clarify[0].payload)  # an unsure parse asks first; either guess swaps
    cart = customer.send(payload="view_cart")
    assert [c.subtitle for c in cart[0].cards] == ["白色 / L" if lang == "zh" else "white / L"]
    assert cart[0].cards[0].stock in ("数量 2", "Qty 2")


def test_an_unsure_guess_becomes_a_question_with_two_buttons_that_replay_the_message(
    demo_app, monkeypatch
) -> None:
    from nlu.types import Parse

    customer = Customer_(demo_app)
    customer.send("hello")
    unsure = Parse("view_cart", 0.35, (), "en", (("view_cart", 0.35), ("search_product", 0.3)))
    monkeypatch.setattr(
        demo_app.gateway._engine.interpreter, "parse", lambda text, context=None: unsure
    )
    asked = customer.send("trolley stuff pls")
    assert [Action.decode(b.payload).args["i"] for b in asked[0].buttons] == [
        "view_cart",
        "search_product",
    ]
    monkeypatch.undo()
    answered = customer.send(payload=asked[0].buttons[0].payload)
    assert "empty" in texts(answered).lower()  # the cart, answered for the original message


def test_two_misunderstandings_in_a_row_offer_a_person(demo_app) -> None:
    customer = Customer_(demo_app)
    customer.send("hello")
    customer.send("asdfgh qwerty")
    second = customer.send("zxcvb poiuy lkjh")
    offered = [p for p in payloads(second) if p == "human_agent"]
    assert offered
    assert "team" in texts(customer.send(payload="human_agent")).lower()


@pytest.mark.parametrize("text", ["shoes", "连衣裙"])
def test_a_bare_product_word_searches_without_asking(demo_app, text) -> None:
    replies = Customer_(demo_app).send(text)
    assert replies[0].cards


@pytest.mark.parametrize(
    ("attachment", "answer"),
    [
        ("wechat:MEDIA1", "media.received"),
        ("wechat-voice:MEDIA2", "media.voice"),
        ("wechat-location:123", "media.other"),
    ],
)
def test_a_message_without_words_is_answered_for_what_it_is(demo_app, attachment, answer) -> None:
    customer = Customer_(demo_app)
    replies = customer.send(attachments=(attachment,))
    assert texts(replies) == t("zh", answer)


def test_the_reply_that_ends_the_phone_question_says_so(demo_app) -> None:
    customer = Customer_(demo_app)
    customer.send("hello")
    customer.send(payload="add?sku=TS-001-RED-M&qty=1")
    customer.send("checkout")
    [ask] = customer.send("Li Lei")
    assert ask.ask_contact and not ask.contact_done
    refused = customer.send("12345")  # not a phone number: the question stands
    assert not any(r.contact_done for r in refused)
    [address] = customer.send("+44 7700 900123")
    assert address.contact_done and not address.ask_contact
    assert not any(r.contact_done for r in customer.send("221B Baker Street, London NW1 6XE"))
