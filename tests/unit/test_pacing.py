"""Sends are paced to about one a second per chat, with short bursts."""

import asyncio
import time

from bot.channels.pacing import PER_CHAT, Pace, Window


def test_a_chat_gets_a_short_burst_then_waits_for_its_window() -> None:
    window = Window(*PER_CHAT)
    now = time.monotonic()
    for _ in range(PER_CHAT[0]):
        assert window.wait(now) == 0
        window.finished.append(now)
    assert window.wait(now) > PER_CHAT[1] - 0.01
    assert window.wait(now + PER_CHAT[1] + 0.01) == 0


def test_a_call_in_flight_holds_its_place_until_it_ends() -> None:
    async def scenario() -> float:
        pace = Pace(per_second=1)
        async with pace.slot("42"):
            started = time.monotonic()
            waiting = asyncio.create_task(pace.slot("7").__aenter__())
            await asyncio.sleep(0.1)
            assert not waiting.done()  # the bot-wide ceiling of 1 is taken
        await waiting
        return time.monotonic() - started

    assert asyncio.run(scenario()) >= 1.0
