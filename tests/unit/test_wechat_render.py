"""How replies look in WeChat: one text with numbered choices, pictures only where they are
the point, payment as a link (and a QR code), menus for short questions, 2048-byte limit."""

from pathlib import Path

import pytest
import yaml

from bot.channels.wechat_render import TEXT_LIMIT, WxMessage, choice, options, plan
from bot.messages import Button, Card, Link, Outbound, payload
from dialogs.i18n import LANGUAGES, t


def product_list() -> list[Outbound]:
    """As dialogs.search._show builds it: cards with details/add, then paging and sorting."""
    cards = tuple(
        Card(
            title=f"Tee {i}",
            subtitle="Nike · 2 colours",
            image=f"catalog/TS-00{i}.png",
            price="¥99.00",
            stock="12 in stock",
            buttons=(
                Button("Details", payload("detail", p=i)),
                Button("Add to cart", payload("pick", p=i)),
            ),
        )
        for i in (1, 2, 3)
    )
    return [
        Outbound(
            text="Found 9 products (page 2 of 3):",
            cards=cards,
            buttons=(
                Button("Previous", payload("page", n=1)),
                Button("More", "more"),
                Button("Cheapest first", payload("sort", by="price_asc")),
            ),
        )
    ]


def test_a_product_list_is_one_text_with_numbered_entries_and_choices() -> None:
    messages = product_list()
    [message] = plan(messages, "en")
    assert message.kind == "text"
    assert message.text == (
        "Found 9 products (page 2 of 3):\n\n"
        "1. Tee 1 · ¥99.00 · 12 in stock\n"
        "2. Tee 2 · ¥99.00 · 12 in stock\n"
        "3. Tee 3 · ¥99.00 · 12 in stock\n\n"
        "4. Previous\n5. More\n6. Cheapest first\n\n"
        "Reply with a number to choose"
    )
    assert "Add to cart" not in message.text and "catalog/" not in message.text
    numbered = options(messages)
    assert numbered[0] == "detail?p=1"
    assert numbered[1:] == ["detail?p=2", "detail?p=3", "page?n=1", "more", "sort?by=price_asc"]


def test_the_hint_is_in_the_customers_language() -> None:
    [message] = plan(product_list(), "zh")
    assert message.text.endswith("\n\n回复数字即可选择")


def test_a_product_detail_is_its_picture_then_one_text_with_the_variants() -> None:
    messages = [
        Outbound(text="Tee 1\nNike · ¥99.00\nSoft cotton.", image="catalog/TS-001.png"),
        Outbound(
            text="Please choose a colour / size:",
            buttons=(
                Button("Blue / M · ¥99.00", payload("variant", sku="TS-001-BL-M")),
                Button("Blue / L · ¥99.00", payload("variant", sku="TS-001-BL-L")),
            ),
        ),
    ]
    assert plan(messages, "en") == [
        WxMessage("image", image="catalog/TS-001.png"),
        WxMessage(
            "text",
            text="Tee 1\nNike · ¥99.00\nSoft cotton.\n\nPlease choose a colour / size:\n\n"
            "1. Blue / M · ¥99.00\n2. Blue / L · ¥99.00\n\nReply with a number to choose",
        ),
    ]
    assert options(messages) == ["variant?sku=TS-001-BL-M", "variant?sku=TS-001-BL-L"]


def test_a_single_card_shows_its_picture_details_and_all_its_buttons() -> None:
    [listed] = product_list()
    messages = [
        Outbound(text="Found 1 product:", cards=listed.cards[:1], buttons=(listed.buttons[1],))
    ]
    image, text = plan(messages, "en")
    assert image == WxMessage("image", image="catalog/TS-001.png")
    assert text.text == (
        "Found 1 product:\n\nTee 1\nNike · 2 colours\n¥99.00\n12 in stock\n\n"
        "1. Details\n2. Add to cart\n3. More\n\nReply with a number to choose"
    )
    assert options(messages) == ["detail?p=1", "pick?p=1", "more"]


def test_an_order_confirmation_carries_the_pay_link_and_optionally_a_qr_code() -> None:
    link = Link('https://shop.example/pay/A1?t=x"y', "Pay ¥198.00 <now>", order="A1")
    messages = [
        Outbound(
            text="Order A1 placed: ¥198.00. Please pay within 30 minutes.",
            link=link,
            buttons=(Button("My orders", "orders"), Button("Cancel order", "cancel?n=A1")),
        )
    ]
    [text] = plan(messages, "en")
    assert text.text.endswith(
        "1. My orders\n2. Cancel order\n\nReply with a number to choose\n\n"
        '<a href="https://shop.example/pay/A1?t=x%22y">Pay ¥198.00 &lt;now&gt;</a>'
    )
    assert plan(messages, "en", pay_qr=True) == [text, WxMessage("qr", order="A1")]
    assert options(messages) == ["orders", "cancel?n=A1"]


def test_a_link_without_an_order_gets_no_qr_code() -> None:
    messages = [Outbound(text="Help", link=Link("https://shop.example/faq", "FAQ"))]
    assert [m.kind for m in plan(messages, "en", pay_qr=True)] == ["text"]


def test_a_question_becomes_a_menu_whose_ids_map_through_options() -> None:
    messages = [
        Outbound(text="Added to cart.", buttons=()),
        Outbound(
            text="How many?",
            buttons=(Button("1", "qty?q=1"), Button("2", "qty?q=2"), Button("3", "qty?q=3")),
            question=True,
        ),
    ]
    [menu] = plan(messages, "zh", menus=True)
    assert menu == WxMessage(
        "msgmenu",
        text="Added to cart.\n\nHow many?",
        options=(("1", "1"), ("2", "2"), ("3", "3")),
        tail=t("zh", "wechat.menu_tail"),
    )
    payloads = options(messages)
    assert [payloads[int(id_) - 1] for id_, _ in menu.options] == ["qty?q=1", "qty?q=2", "qty?q=3"]
    assert options(messages) == payloads  # the same whatever the channel's abilities
    [text] = plan(messages, "zh")
    assert "1. 1\n2. 2\n3. 3" in text.text and "回复数字即可选择" in text.text


def test_menus_are_only_for_questions_of_up_to_ten_choices() -> None:
    assert plan(product_list(), "en", menus=True) == plan(product_list(), "en")
    many = tuple(Button(str(i), f"qty?q={i}") for i in range(1, 12))
    messages = [Outbound(text="How many?", buttons=many, question=True)]
    [message] = plan(messages, "en", menus=True)
    assert message.kind == "text" and "11. 11" in message.text


def test_a_long_text_is_split_at_line_breaks_without_breaking_the_link() -> None:
    line = "商品描述 details 😀 " * 8
    link = Link("https://shop.example/pay/A1", "付款 ¥99.00", order="A1")
    messages = [Outbound(text="\n".join([line] * 40), link=link, buttons=(Button("OK", "ok"),))]
    result = plan(messages, "zh", pay_qr=True)
    texts = [m.text for m in result if m.kind == "text"]
    assert len(texts) >= 3 and result[-1] == WxMessage("qr", order="A1")
    assert all(0 < len(x.encode()) <= TEXT_LIMIT for x in texts)
    assert all(x.count("<a ") == x.count("</a>") for x in texts)
    assert '<a href="https://shop.example/pay/A1">付款 ¥99.00</a>' in texts[-1]
    assert sum(x.count("😀") for x in texts) == 8 * 40
    assert all(line.strip() in x.split("\n") for x in texts[:-1])  # whole lines only


def test_a_line_longer_than_the_limit_is_cut_but_never_inside_a_link() -> None:
    anchor = '<a href="https://shop.example/pay/A1">Pay</a>'
    text = "x" * 2040 + anchor + "y" * 3000
    texts = [m.text for m in plan([Outbound(text=text)], "en")]
    assert all(len(x.encode()) <= TEXT_LIMIT for x in texts)
    assert any(x.startswith(anchor) for x in texts) and "".join(texts) == text


def test_a_message_without_buttons_gets_no_hint_and_empty_text_no_message() -> None:
    [message] = plan([Outbound(text="Your cart is empty.")], "en")
    assert message == WxMessage("text", text="Your cart is empty.")
    assert plan([Outbound(image="catalog/a.png"), Outbound(text="  ")], "en") == [
        WxMessage("image", image="catalog/a.png")
    ]
    assert options([Outbound(text="Hi")]) == []


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2", "b"),
        (" 2 ", "b"),
        ("２", "b"),
        ("2.", "b"),
        ("２．", "b"),
        ("3、", "c"),
        ("0", None),
        ("4", None),
        ("12 pieces", None),
        ("2 pieces", None),
        ("two", None),
        ("", None),
    ],
)
def test_a_bare_number_picks_that_choice(text: str, expected: str | None) -> None:
    assert choice(text, ["a", "b", "c"]) == expected


def test_every_response_key_exists_in_every_language() -> None:
    def keys(node: dict, prefix: str = "") -> set[str]:
        found: set[str] = set()
        for key, value in node.items():
            found |= keys(value, f"{prefix}{key}.") if isinstance(value, dict) else {prefix + key}
        return found

    folder = Path(__file__).parents[2] / "dialogs" / "responses"
    each = {
        lang: keys(yaml.safe_load((folder / f"{lang}.yml").read_text("utf-8")))
        for lang in LANGUAGES
    }
    assert {"wechat.reply_number", "wechat.menu_tail"} <= each["en"]
    assert all(found == each["en"] for found in each.values())


def test_a_cart_of_several_lines_names_each_action_after_its_line() -> None:
    # "1" must never silently lower a quantity: each −/+/remove says which line it is for
    lines = tuple(
        Card(
            title=name,
            price="¥99.00",
            buttons=(
                Button("−", payload("qty", sku=sku, q=1)),
                Button("+", payload("qty", sku=sku, q=3)),
                Button("Remove", payload("rm", sku=sku)),
            ),
        )
        for name, sku in (("Tee", "TS-1"), ("Cap", "CP-1"))
    )
    messages = [Outbound(text="Your cart:", cards=lines, buttons=(Button("Checkout", "checkout"),))]
    [message] = plan(messages, "en")
    assert "1. − · Tee" in message.text and "6. Remove · Cap" in message.text
    assert "7. Checkout" in message.text
    assert options(messages)[6] == "checkout"
