"""The getUpdates loop against the fake Bot API server, with the clock and the waits injected:
the tests count calls and waits instead of timing them."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterator

import pytest
from telegram import Bot

from bot.channels.telegram_inbound import Update
from bot.channels.telegram_poll import IDLE_WAIT_S, POLL_TIMEOUT_S, Poller
from tests.fakes.telegram import FakeTelegram, running_fake_telegram


class Enough(Exception):
    """Raised by the injected sleep to end the loop once a test has seen what it needs."""


@pytest.fixture
def emulator() -> Iterator[FakeTelegram]:
    """A Bot API server that answers getUpdates at once, whatever its timeout."""
    with running_fake_telegram(long_polling=False) as fake:
        yield fake


def poll(
    fake: FakeTelegram,
    *,
    clock: Callable[[], float],
    waits: int,
    handled: list[Update] | None = None,
    outcomes: Iterator[bool] | None = None,
    calls: int = 50,
) -> list[float]:
    """Run the loop until it has waited `waits` times (or made `calls` getUpdates calls);
    `outcomes` says, batch by batch, whether handling it went well."""
    slept: list[float] = []
    outcomes = outcomes or itertools.repeat(True)

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) >= waits:
            raise Enough

    async def handle(updates: list[Update]) -> bool:
        (handled if handled is not None else []).extend(updates)
        return next(outcomes)

    async def main() -> None:
        async with Bot(**fake.bot_kwargs()) as bot:
            loop = asyncio.create_task(Poller(bot, handle, sleep=sleep, clock=clock).run())
            while not loop.done() and len(fake.calls_to("getUpdates")) < calls:
                await asyncio.sleep(0.01)
            loop.cancel()
            await asyncio.gather(loop, return_exceptions=True)

    asyncio.run(main())
    return slept


def frozen() -> float:
    return 0.0  # every answer came back at once


def test_empty_answers_from_a_server_that_does_not_long_poll_are_waited_out(emulator) -> None:
    slept = poll(emulator, clock=frozen, waits=8)
    assert len(emulator.calls_to("getUpdates")) == 8  # one wait after each empty answer
    first, cap = IDLE_WAIT_S
    assert slept == [min(first * 2**i, cap) for i in range(8)]
    assert slept[-1] == cap


def test_an_empty_long_poll_that_ran_its_course_is_followed_at_once(emulator) -> None:
    # each answer takes the whole timeout on this clock, as a long poll with nothing to say does
    ticks = itertools.count(0, POLL_TIMEOUT_S)
    slept = poll(emulator, clock=lambda: next(ticks), waits=1, calls=6)
    assert slept == [] and len(emulator.calls_to("getUpdates")) >= 6


def test_a_malformed_update_is_skipped_and_confirmed_with_its_batch(emulator) -> None:
    user = emulator.user(1001)
    bad = emulator.push_raw_update({"message": {"message_id": 1, "chat": {"id": "1001"}}})
    good = user.send_text("hello")
    handled: list[Update] = []
    poll(emulator, clock=frozen, waits=1, handled=handled)
    assert [u.update_id for u in handled] == [good["update_id"]]
    assert emulator.updates_pending() == 0  # both confirmed: the bad one is not asked again
    offsets = [c.params.get("offset") for c in emulator.calls_to("getUpdates")]
    assert offsets[-1] == good["update_id"] + 1 and bad["update_id"] < good["update_id"]


def test_a_batch_that_could_not_be_handled_is_asked_for_again(emulator) -> None:
    user = emulator.user(1001)
    sent = user.send_text("hello")
    poll(emulator, clock=frozen, waits=2, outcomes=iter([False, True]))
    offsets = [c.params.get("offset") for c in emulator.calls_to("getUpdates")]
    assert offsets == [None, None, sent["update_id"] + 1]  # the first try was not confirmed
