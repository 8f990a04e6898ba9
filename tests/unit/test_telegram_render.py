"""How replies look in Telegram: escaping, limits, lists, photo cards, in-place edits."""

from dataclasses import replace

from telegram import InlineKeyboardMarkup, ReplyKeyboardMarkup, ReplyKeyboardRemove

from bot.channels.telegram_render import (
    CAPTION_LIMIT,
    TEXT_LIMIT,
    Pressed,
    plan,
    public_https,
)
from bot.messages import Button, Card, Link, Outbound


def parts(*messages: Outbound, pressed: Pressed | None = None, links: bool = True):
    return plan(list(messages), pressed, "en", link_buttons=links, invoices=True)


def visible(html_text: str) -> str:
    import html
    import re

    return html.unescape(re.sub(r"<[^>]+>", "", html_text))


def units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def test_customer_text_is_escaped_for_html() -> None:
    [part] = parts(Outbound(text="<b>Tom & Jerry</b> 5 > 3"))
    assert part.html == "&lt;b&gt;Tom &amp; Jerry&lt;/b&gt; 5 &gt; 3"


def test_long_text_is_split_at_line_breaks_under_4096_units() -> None:
    line = "商品描述 & details 😀\n"
    text = line * 400  # ~8000 units with the emoji counting two
    result = parts(Outbound(text=text, buttons=(Button("OK", "ok"),)))
    assert len(result) >= 2
    assert all(units(visible(p.html)) <= TEXT_LIMIT for p in result)
    assert "".join(visible(p.html) + "\n" for p in result).count("😀") == 400
    assert result[-1].markup is not None and all(p.markup is None for p in result[:-1])


def test_a_long_caption_continues_as_text_after_the_photo() -> None:
    result = parts(Outbound(text="x " * 1500, image="catalog/a.png"))
    assert result[0].kind == "photo" and units(visible(result[0].html)) <= CAPTION_LIMIT
    assert result[1].kind == "text"


def test_products_are_listed_in_one_message_with_numbered_buttons() -> None:
    cards = tuple(
        Card(f"Tee {i}", "Nike", price="¥99", buttons=(Button("Details", f"detail?p={i}"),))
        for i in (1, 2)
    )
    [part] = parts(Outbound(text="Found 2", cards=cards, buttons=(Button("More", "more"),)))
    assert "1. <b>Tee 1</b>" in part.html and "2. <b>Tee 2</b>" in part.html
    assert isinstance(part.markup, InlineKeyboardMarkup)
    labels = [b.text for row in part.markup.inline_keyboard for b in row]
    data = [b.callback_data for row in part.markup.inline_keyboard for b in row]
    assert labels == ["1. Details", "2. Details", "More"]
    assert data == ["L|detail?p=1", "L|detail?p=2", "L|more"]


def test_a_picture_and_its_choices_become_one_photo_card() -> None:
    result = parts(
        Outbound(text="Tee, ¥99", image="catalog/tee.png"),
        Outbound(text="Which one?", buttons=(Button("Red / M", "variant?sku=T-R-M"),)),
    )
    [card] = result
    assert card.kind == "photo" and "Which one?" in card.html and card.markup is not None


def test_the_next_page_edits_the_list_in_place() -> None:
    page = Outbound(text="Page 2", cards=(Card("Tee"),), replace=True)
    [part] = parts(page, pressed=Pressed(77, "list"))
    assert part.edit == 77 and part.kind == "text"


def test_an_answered_question_loses_its_buttons() -> None:
    [question] = parts(Outbound(text="How many?", buttons=(Button("1", "add?q=1"),), question=True))
    assert question.markup.inline_keyboard[0][0].callback_data == "Q|add?q=1"
    result = parts(Outbound(text="Added"), pressed=Pressed(12, "question"))
    assert [p.kind for p in result] == ["clear_markup", "text"] and result[0].edit == 12
    assert [p.kind for p in parts(Outbound(text="Hi"), pressed=Pressed(12, "text"))] == ["text"]


def test_a_pay_link_is_a_url_button_and_an_invoice() -> None:
    link = Link("https://shop.example/pay/x", "Pay ¥99", order="CS100001")
    result = parts(Outbound(text="Order placed", link=link))
    assert result[0].markup.inline_keyboard[0][0].url == "https://shop.example/pay/x"
    assert result[1].kind == "invoice" and result[1].order == "CS100001"


def test_local_links_are_shown_as_text_because_telegram_refuses_them_on_buttons() -> None:
    link = Link("http://127.0.0.1:8000/pay/x", "Pay", order="CS1")
    [text, _] = parts(Outbound(text="Order placed", link=link), links=False)
    assert "http://127.0.0.1:8000/pay/x" in text.html and text.markup is None
    assert not public_https("http://127.0.0.1:8000") and public_https("https://shop.example")


def test_asking_for_a_phone_offers_the_share_contact_button() -> None:
    [part] = parts(Outbound(text="Your phone?", ask_contact=True))
    assert isinstance(part.markup, ReplyKeyboardMarkup)
    assert part.markup.keyboard[0][0].request_contact is True


def test_buttons_whose_data_exceeds_64_bytes_are_left_out() -> None:
    [part] = parts(Outbound(text="x", buttons=(Button("ok", "a" * 10), Button("long", "b" * 70))))
    assert [b.text for row in part.markup.inline_keyboard for b in row] == ["ok"]


def test_the_reply_that_ends_the_phone_question_takes_the_contact_keyboard_away() -> None:
    [part] = parts(Outbound(text="Noted.", contact_done=True))
    assert isinstance(part.markup, ReplyKeyboardRemove)


def test_a_reply_with_inline_buttons_is_preceded_by_a_note_that_takes_the_keyboard_away() -> None:
    ask = Outbound(
        text="And the address?", buttons=(Button("Cancel", "cancel"),), contact_done=True
    )
    noted, question = parts(ask)
    assert isinstance(noted.markup, ReplyKeyboardRemove) and noted.html == "Got it."
    assert isinstance(question.markup, InlineKeyboardMarkup)


def test_an_edit_cannot_take_the_keyboard_away_so_a_new_message_does() -> None:
    page = Outbound(text="Page 2", buttons=(Button("More", "more"),), replace=True)
    edit, noted = parts(replace(page, contact_done=True), pressed=Pressed(7, "list"))
    assert edit.edit == 7 and noted.edit is None
    assert isinstance(noted.markup, ReplyKeyboardRemove)
