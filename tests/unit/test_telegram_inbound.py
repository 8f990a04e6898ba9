"""Telegram updates: checked at the edge, then turned into Inbound."""

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.channels.telegram_inbound import (
    MalformedUpdate,
    NotAnUpdate,
    Update,
    parse_update,
    read_update,
    to_inbound,
)

USER = {
    "id": 42,
    "is_bot": False,
    "first_name": "Li",
    "last_name": "Wei",
    "language_code": "zh-hans",
}
CHAT = {"id": 42, "type": "private", "first_name": "Li"}


def update(**fields) -> Update:
    return parse_update({"update_id": 900, **fields})


def message(**fields) -> dict:
    return {"message_id": 5, "date": 0, "chat": CHAT, "from": USER, **fields}


def test_text_becomes_an_inbound_keyed_by_update_id() -> None:
    inbound = to_inbound(update(message=message(text="红色T恤")))
    assert (inbound.channel, inbound.chat_id, inbound.message_id) == ("telegram", "42", "900")
    assert inbound.text == "红色T恤" and inbound.display_name == "Li Wei"
    assert inbound.language == "zh"  # from the app, until the customer shows their own


def test_commands_become_payloads() -> None:
    def command(text: str) -> str | None:
        return to_inbound(update(message=message(text=text))).payload

    assert command("/start") == "start"
    assert command("/start p12") == "start?p=12"
    assert command("/start@chatshop_bot p_7") == "start?p=7"
    assert command("/cart") == "view_cart"
    assert command("/orders") == "orders"
    assert command("/help") == "help"
    assert command("/lang en") == "lang?to=en"


def test_a_button_press_carries_its_payload_and_the_pressed_message() -> None:
    query = {
        "id": "q1",
        "from": USER,
        "chat_instance": "c",
        "data": "L|more",
        "message": message(text="Found 12"),
    }
    inbound = to_inbound(update(callback_query=query))
    assert inbound.payload == "more" and inbound.pressed == "list:5"


def test_a_shared_contact_and_a_photo() -> None:
    contact = {"phone_number": "+8613812345678", "first_name": "Li", "user_id": 42}
    assert to_inbound(update(message=message(contact=contact))).contact_phone == "+8613812345678"
    photo = [
        {"file_id": "small", "file_unique_id": "s", "width": 90, "height": 90},
        {"file_id": "big", "file_unique_id": "b", "width": 800, "height": 800},
    ]
    inbound = to_inbound(update(message=message(photo=photo, caption="broken zip")))
    assert inbound.attachments == ("telegram:big",) and inbound.text == "broken zip"


def valid() -> dict:
    return {"update_id": 900, "message": message(text="红色T恤")}


@pytest.mark.parametrize(
    ("spoil", "field"),
    [
        (lambda u: u.update(update_id="900"), "update_id"),
        (lambda u: u.update(update_id=900.0), "update_id"),
        (lambda u: u.update(update_id=2**31), "update_id"),
        (lambda u: u.update(update_id=0), "update_id"),
        (lambda u: u["message"].update(chat={**CHAT, "id": "42"}), "message.chat.id"),
        (lambda u: u["message"].update(chat={**CHAT, "id": 2**53}), "message.chat.id"),
        (lambda u: u["message"].update(chat="private"), "message.chat"),
        (lambda u: u["message"].update({"from": {**USER, "id": True}}), "message.from.id"),
        (lambda u: u["message"].update(text=["红色"]), "message.text"),
        (lambda u: u["message"].update(text="a" * 4097), "message.text"),
        (lambda u: u["message"].update(text="a\udc80"), "message.text"),
        (lambda u: u["message"].update(caption="a\x00"), "message.caption"),
        (lambda u: u["message"].update(photo=[{"file_id": ""}]), "message.photo.0.file_id"),
        (lambda u: u.update(message=None, callback_query=query("x" * 65)), "callback_query.data"),
        (lambda u: u.update(message=None, callback_query=query("码" * 22)), "callback_query.data"),
    ],
)
def test_an_update_outside_telegrams_types_and_ranges_is_refused(spoil, field) -> None:
    raw = valid()
    spoil(raw)
    with pytest.raises(MalformedUpdate) as refused:
        parse_update(raw)
    assert field in refused.value.problems
    assert refused.value.update_id == (raw["update_id"] if field != "update_id" else None)


def query(data: str) -> dict:
    return {"id": "q1", "from": USER, "chat_instance": "c", "data": data}


def test_the_longest_callback_data_and_text_telegram_sends_are_taken() -> None:
    assert to_inbound(update(callback_query=query("码" * 21))).payload == "码" * 21  # 63 bytes
    assert to_inbound(update(message=message(text="长" * 4096))).text == "长" * 4096
    assert to_inbound(update(message=message(chat={**CHAT, "id": -(10**12)}))) is not None


def test_a_body_that_is_not_a_json_object_is_no_update() -> None:
    for body in (b"", b"not json", b"[1, 2]", b"null", b"\xff", b"[" * 100_000):
        with pytest.raises(NotAnUpdate):
            read_update(body)
    assert read_update(json.dumps(valid()).encode()).update_id == 900


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=80),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=12,
)
PATHS = [
    ("update_id",),
    ("message",),
    ("message", "chat"),
    ("message", "chat", "id"),
    ("message", "from"),
    ("message", "text"),
    ("message", "contact"),
    ("message", "photo"),
    ("message", "successful_payment"),
    ("callback_query",),
    ("pre_checkout_query",),
    ("my_chat_member",),
]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(PATHS), JSON)
def test_any_value_anywhere_is_either_read_or_refused_as_malformed(path, value) -> None:
    raw = valid()
    target = raw
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    try:
        parsed = parse_update(raw)
    except MalformedUpdate:
        return  # refused whole, with nothing else raised
    if parsed.message or parsed.callback_query:
        to_inbound(parsed)  # what is read can be used


@settings(max_examples=200, deadline=None)
@given(JSON)
def test_any_json_body_is_an_update_or_refused(value) -> None:
    with contextlib.suppress(NotAnUpdate, MalformedUpdate):  # and nothing else
        read_update(json.dumps(value).encode())
