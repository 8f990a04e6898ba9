"""Per-chat ordering of platform updates that carry consecutive ids (Telegram's update_id)."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

GAP_WAIT_S = 0.3  # the longest an update waits for a missing earlier update_id
MAX_GAP = 64  # a bigger jump in update ids is not waited for (a restart, another worker)
SEEN_IDS = 10_000


@dataclass
class _Chat:
    waiting: list[int] = field(default_factory=list)  # a heap of update ids
    running: bool = False
    turn: asyncio.Condition = field(default_factory=asyncio.Condition)


class Sequencer:
    """One update at a time per chat, lowest update_id first. Telegram numbers updates
    consecutively, so an update that arrives after a small gap waits (until the gap fills, at
    most `gap_wait_s`): a missing update may be this chat's earlier message, still in flight
    on another of the webhook's connections."""

    def __init__(self, gap_wait_s: float = GAP_WAIT_S) -> None:
        self._gap_wait = gap_wait_s
        self._highest: int | None = None
        self._seen: set[int] = set()
        self._arrived = asyncio.Condition()
        self._chats: dict[str, _Chat] = {}

    async def run(self, chat_id: str, update_id: int, work: Callable[[], Awaitable[None]]) -> None:
        if type(update_id) is not int:  # checked at the edge; a wrong type here would break
            raise TypeError("update_id must be an int")  # every later update, not just this one
        missing = self._note(update_id)
        chat = self._chats.setdefault(chat_id, _Chat())
        heapq.heappush(chat.waiting, update_id)
        try:
            async with self._arrived:
                self._arrived.notify_all()  # an update may be waiting for this one
                if missing:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(
                            self._arrived.wait_for(lambda: self._seen.issuperset(missing)),
                            self._gap_wait,
                        )
            async with chat.turn:
                await chat.turn.wait_for(lambda: not chat.running and chat.waiting[0] == update_id)
                chat.running = True
            await work()
        finally:
            async with chat.turn:
                chat.running = False
                chat.waiting.remove(update_id)
                heapq.heapify(chat.waiting)
                chat.turn.notify_all()
            if not chat.waiting:
                self._chats.pop(chat_id, None)

    def arrived(self, update_id: int) -> bool:
        """Whether this update reached the sequencer (it may still be waiting for its turn)."""
        return update_id in self._seen

    def _note(self, update_id: int) -> range:
        """Record an arrival; the ids still missing below it, when the gap is small."""
        highest = self._highest
        self._seen.add(update_id)
        if highest is None or update_id > highest or highest - update_id > SEEN_IDS:
            # the newest so far, or numbering that starts again lower (Telegram picks a new
            # random start after a quiet week)
            self._highest = update_id
        if len(self._seen) > 2 * SEEN_IDS:
            top = self._highest or 0
            self._seen = {i for i in self._seen if top - SEEN_IDS < i <= top}
        if highest is None or not 1 < update_id - highest <= MAX_GAP:
            return range(0)  # in order, a late arrival, or a jump no one is waiting for
        return range(highest + 1, update_id)
