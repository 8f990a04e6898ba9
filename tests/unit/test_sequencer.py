"""One chat's updates handled one at a time in update_id order; other chats never wait. No test
here depends on timing: gaps are waited for far longer than a test runs, and arrivals are
observed (`Sequencer.arrived`) instead of slept for."""

import asyncio
from collections.abc import Callable

import pytest

from bot.channels.sequencer import Sequencer

PATIENT = 60.0  # a gap is waited for longer than any test takes: only its arrival ends it


async def until(condition: Callable[[], bool]) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0)

    await asyncio.wait_for(poll(), 10)


def recorder(done: list[int]):
    def work(n: int):
        async def run() -> None:
            done.append(n)

        return run

    return work


def test_updates_of_one_chat_run_in_update_id_order_even_when_they_arrive_swapped() -> None:
    async def scenario() -> list[int]:
        sequencer, done = Sequencer(gap_wait_s=PATIENT), []
        work = recorder(done)
        await sequencer.run("42", 10, work(10))
        later = asyncio.create_task(sequencer.run("42", 12, work(12)))  # 11 is missing
        await until(lambda: sequencer.arrived(12))
        await sequencer.run("42", 11, work(11))  # arrives after 12, still goes first
        await later
        return done

    assert asyncio.run(scenario()) == [10, 11, 12]


def test_other_chats_do_not_wait_for_a_slow_one() -> None:
    async def scenario() -> list[str]:
        sequencer, done = Sequencer(), []
        quick_done = asyncio.Event()

        async def slow() -> None:  # holds chat 1 until chat 2 was handled
            await asyncio.wait_for(quick_done.wait(), 10)
            done.append("slow")

        async def quick() -> None:
            done.append("quick")
            quick_done.set()

        await asyncio.gather(sequencer.run("1", 1, slow), sequencer.run("2", 2, quick))
        return done

    assert asyncio.run(scenario()) == ["quick", "slow"]


def test_an_id_that_is_no_integer_is_refused_and_leaves_no_trace() -> None:
    async def scenario() -> list[int]:
        sequencer, done = Sequencer(gap_wait_s=PATIENT), []
        work = recorder(done)
        await sequencer.run("42", 10, work(10))
        for poison in ("11", 11.0, True):
            with pytest.raises(TypeError):
                await sequencer.run("42", poison, work(-1))  # type: ignore[arg-type]
        assert not sequencer.arrived("11")  # type: ignore[arg-type]
        later = asyncio.create_task(sequencer.run("42", 12, work(12)))
        await until(lambda: sequencer.arrived(12))
        await sequencer.run("42", 11, work(11))
        await later
        return done

    assert asyncio.run(scenario()) == [10, 11, 12]


def test_numbering_that_starts_again_lower_is_still_put_in_order() -> None:
    # Telegram picks a new, random first update_id after a week without updates
    async def scenario() -> list[int]:
        sequencer, done = Sequencer(gap_wait_s=PATIENT), []
        work = recorder(done)
        await sequencer.run("42", 900_000_000, work(1))
        await sequencer.run("42", 5_000, work(2))
        later = asyncio.create_task(sequencer.run("42", 5_002, work(4)))
        await until(lambda: sequencer.arrived(5_002))
        await sequencer.run("42", 5_001, work(3))
        await later
        return done

    assert asyncio.run(scenario()) == [1, 2, 3, 4]
