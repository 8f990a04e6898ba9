"""Telegram updates → Inbound, and one chat's updates handled in update_id order."""

import asyncio

from telegram import Bot, Update

from bot.channels.sequencer import Sequencer
from bot.channels.telegram import to_inbound

BOT = Bot("1:TEST")
USER = {
    "id": 42,
    "is_bot": False,
    "first_name": "Li",
    "last_name": "Wei",
    "language_code": "zh-hans",
}
CHAT = {"id": 42, "type": "private", "first_name": "Li"}


def update(**fields) -> Update:
    return Update.de_json({"update_id": 900, **fields}, BOT)


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


def test_updates_of_one_chat_run_in_update_id_order_even_when_they_arrive_swapped() -> None:
    async def scenario() -> list[int]:
        sequencer, done = Sequencer(gap_wait_s=0.2), []

        def work(n: int):
            async def run() -> None:
                await asyncio.sleep(0.01)
                done.append(n)

            return run

        await sequencer.run("42", 10, work(10))
        later = asyncio.create_task(sequencer.run("42", 12, work(12)))  # 11 is missing
        await asyncio.sleep(0.05)
        await sequencer.run("42", 11, work(11))  # arrives late, still goes first
        await later
        return done

    assert asyncio.run(scenario()) == [10, 11, 12]


def test_other_chats_do_not_wait_for_a_slow_one() -> None:
    async def scenario() -> list[str]:
        sequencer, done = Sequencer(), []

        async def slow() -> None:
            await asyncio.sleep(0.3)
            done.append("slow")

        async def quick() -> None:
            done.append("quick")

        await asyncio.gather(sequencer.run("1", 1, slow), sequencer.run("2", 2, quick))
        return done

    assert asyncio.run(scenario()) == ["quick", "slow"]
