"""Pacing to a platform's send limits: about one message a second per chat (short bursts
allowed) and a ceiling per bot, counted as sliding windows, paused by a 429's retry_after."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator

PER_CHAT = (3, 3.0)  # at most 3 calls in any 3 s: about one a second, short bursts allowed
IN_FLIGHT_POLL_S = 0.02


class Window:
    """At most `limit` calls in any `seconds`-long window; a 429 pauses it. A call counts from
    when it starts until `seconds` after it finished: the platform saw it somewhere in
    between, so network delays can never squeeze a burst into its window."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit, self.seconds = limit, seconds
        self.finished: deque[float] = deque()  # in order: appended when each call ends
        self.in_flight = 0
        self.paused_until = 0.0

    def wait(self, now: float) -> float:
        if now < self.paused_until:
            return self.paused_until - now
        while self.finished and self.finished[0] <= now - self.seconds:
            self.finished.popleft()
        if len(self.finished) + self.in_flight < self.limit:
            return 0.0
        return self.finished[0] + self.seconds - now if self.finished else IN_FLIGHT_POLL_S

    def pause(self, seconds: float) -> None:
        self.paused_until = max(self.paused_until, time.monotonic() + seconds)

    def idle(self, now: float) -> bool:
        recent = self.finished and self.finished[-1] > now - self.seconds
        return not recent and not self.in_flight and now >= self.paused_until


class Pace:
    """Waits until both the bot's and the chat's window allow one more call."""

    def __init__(self, per_second: float) -> None:
        self.bot = Window(max(int(per_second), 1), 1.0)
        self.chats: dict[str, Window] = {}

    def chat(self, chat_id: str) -> Window:
        window = self.chats.get(chat_id)
        if window is None:
            if len(self.chats) > 10_000:  # forget chats with nothing left in their window
                now = time.monotonic()
                self.chats = {k: w for k, w in self.chats.items() if not w.idle(now)}
            window = self.chats[chat_id] = Window(*PER_CHAT)
        return window

    @contextlib.asynccontextmanager
    async def slot(self, chat_id: str) -> AsyncIterator[None]:
        """Hold one call's place in the bot's and the chat's windows."""
        chat = self.chat(chat_id)
        while (delay := max(self.bot.wait(time.monotonic()), chat.wait(time.monotonic()))) > 0:
            await asyncio.sleep(delay)
        windows = (self.bot, chat)
        for window in windows:
            window.in_flight += 1
        try:
            yield
        finally:
            ended = time.monotonic()
            for window in windows:
                window.in_flight -= 1
                window.finished.append(ended)
