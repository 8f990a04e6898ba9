"""What a WeChat push becomes for the dialogs: the same payloads as buttons elsewhere."""

import pytest

from bot.channels.wechat import EVENT_WINDOW, MESSAGE_WINDOW, Rejected, _xml_fields, to_inbound
from tests.fakes.wechat import render_xml


def push(**fields) -> dict:
    base = {"ToUserName": "gh_shop", "FromUserName": "o_1", "CreateTime": 1700000000}
    xml = render_xml(base | fields).encode()
    return {"xml": xml, **_xml_fields(xml)}


def test_text_voice_and_image_messages() -> None:
    text = to_inbound(push(MsgType="text", Content="红色T恤", MsgId=11))
    assert (text.chat_id, text.message_id, text.text) == ("o_1", "11", "红色T恤")
    assert text.window == MESSAGE_WINDOW
    spoken = to_inbound(
        push(MsgType="voice", MediaId="V1", Format="amr", Recognition="你好。", MsgId=12)
    )
    assert spoken.text == "你好。" and spoken.attachments == ("wechat-voice:V1",)
    photo = to_inbound(push(MsgType="image", PicUrl="http://x/p", MediaId="P1", MsgId=13))
    assert photo.attachments == ("wechat:P1",) and photo.text == ""
    place = to_inbound(
        push(
            MsgType="location", Location_X=31.2, Location_Y=121.5, Scale=15, Label="上海", MsgId=14
        )
    )
    assert place.attachments == ("wechat-location:14",)


def test_a_tap_on_a_message_menu_is_its_number() -> None:
    tapped = to_inbound(push(MsgType="text", Content="确认下单", MsgId=15, bizmsgmenuid="2"))
    assert tapped.text == "2"


@pytest.mark.parametrize(
    ("event", "payload"),
    [
        ({"Event": "subscribe"}, "start"),
        ({"Event": "subscribe", "EventKey": "qrscene_12", "Ticket": "T"}, "start?p=12"),
        ({"Event": "SCAN", "EventKey": "12", "Ticket": "T"}, "start?p=12"),
        ({"Event": "CLICK", "EventKey": "view_cart"}, "view_cart"),
        ({"Event": "CLICK", "EventKey": "clear"}, "start"),  # not ours: never a shop action
        ({"Event": "unsubscribe"}, "unsubscribe"),
    ],
)
def test_events_become_the_payloads_buttons_carry(event, payload) -> None:
    inbound = to_inbound(push(MsgType="event", **event))
    assert inbound.payload == payload
    assert inbound.message_id == "event:1700000000"  # FromUserName + CreateTime de-duplicate
    assert inbound.window == (None if payload == "unsubscribe" else EVENT_WINDOW)


def test_other_events_are_not_answered() -> None:
    assert (
        to_inbound(push(MsgType="event", Event="TEMPLATESENDJOBFINISH", Status="success")) is None
    )


@pytest.mark.parametrize(
    "body",
    [
        b"<xml><a>1</a>",  # cut short
        b'<!DOCTYPE x [<!ENTITY e "boom">]><xml><a>&e;</a></xml>',  # entities
        b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><a>&e;</a></xml>',
        b"<html><a>1</a></html>",  # not WeChat's root
    ],
)
def test_unsafe_or_broken_xml_is_refused(body) -> None:
    with pytest.raises(Rejected):
        _xml_fields(body)
