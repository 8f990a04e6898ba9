"""Long-polling getUpdates (development, or a shop without a public address).

Each update of a batch is checked at the edge; one that does not fit is logged in one line and
confirmed with the rest, so it can neither wedge the loop nor reach shared state. A batch is
confirmed (the next offset) only once its updates were handled. An empty answer that came
back well before the long-poll timeout means the server does not long-poll: the next call
waits a little, longer each time up to a cap, instead of asking again at once."""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
from collections.abc import Awaitable, Callable, Sequence

from telegram import Bot
from telegram.error import Conflict, RetryAfter, TelegramError
from telegram.warnings import PTBUserWarning

from bot.channels.telegram_inbound import MalformedUpdate, Update, parse_update, usable_id
from bot.channels.telegram_send import retry_seconds

log = logging.getLogger(__name__)

POLL_TIMEOUT_S = 20
ALLOWED_UPDATES = ["message", "callback_query", "pre_checkout_query", "my_chat_member"]
IDLE_WAIT_S = (0.25, 4.0)  # after an empty answer from a server that does not long-poll
ERROR_WAIT_S = (1.0, 30.0)

# Bot.get_updates parses the whole batch itself, so one malformed update fails the batch (and
# PTB logs the raw updates, personal data included); the raw call is the way around it. PTB
# warns on every such call that get_updates exists.
warnings.filterwarnings("ignore", message=r"Please use 'Bot\.getUpdates'", category=PTBUserWarning)

Sleep = Callable[[float], Awaitable[object]]
Handle = Callable[[list[Update]], Awaitable[bool]]


class Poller:
    """getUpdates in a loop, handing each checked batch to `handle`, which says whether all of
    it was handled (if not, the batch is asked for again). `sleep` and `clock` are injectable,
    so a test can count calls and waits instead of timing them."""

    def __init__(
        self,
        bot: Bot,
        handle: Handle,
        *,
        timeout_s: float = POLL_TIMEOUT_S,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._bot, self._handle = bot, handle
        self._timeout, self._sleep, self._clock = timeout_s, sleep, clock
        self._offset: int | None = None
        self._asked_at = 0.0
        self._idle = Backoff(*IDLE_WAIT_S)
        self._errors = Backoff(*ERROR_WAIT_S)

    async def run(self) -> None:
        while True:
            raw = await self._fetch()
            if raw is None:
                continue
            if raw:
                self._idle.reset()
                await self._take(raw)
            elif self._clock() - self._asked_at < self._timeout / 2:
                self._errors.reset()
                await self._sleep(self._idle.next())  # answered at once: no long polling
            else:
                self._errors.reset()
                self._idle.reset()

    async def _fetch(self) -> Sequence[object] | None:
        """One getUpdates call: its raw updates, or None after a failure (waited out)."""
        self._asked_at = self._clock()
        try:
            raw = await self._bot.do_api_request(
                "getUpdates",
                {
                    "offset": self._offset,
                    "timeout": self._timeout,
                    "allowed_updates": ALLOWED_UPDATES,
                },
            )
        except RetryAfter as error:
            await self._sleep(retry_seconds(error))
            return None
        except Conflict:
            log.error("another process is polling this bot, or a webhook is set; waiting")
            await self._sleep(10)
            return None
        except TelegramError as error:
            delay = self._errors.next()
            log.warning("getUpdates failed (%s); retrying in %.0f s", error, delay)
            await self._sleep(delay)
            return None
        if not isinstance(raw, list):
            delay = self._errors.next()
            log.error("getUpdates answered something else than a list; retrying in %.0f s", delay)
            await self._sleep(delay)
            return None
        return raw

    async def _take(self, raw: Sequence[object]) -> None:
        updates: list[Update] = []
        for item in raw:
            try:
                updates.append(parse_update(item))
            except MalformedUpdate as bad:
                log.warning("telegram update %s ignored: malformed %s", bad.update_id, bad.problems)
        ids = [i for i in map(usable_id, raw) if i is not None]
        if not ids:  # nothing to confirm it by: a server this broken is waited out
            delay = self._errors.next()
            log.error("getUpdates answered updates without usable ids; retrying in %.0f s", delay)
            await self._sleep(delay)
            return
        if not await self._handle(updates):
            # Not confirmed, so Telegram sends the batch again; what was handled is
            # de-duplicated, and a payment is never dropped because the database hiccupped.
            await self._sleep(self._errors.next())
            return
        self._errors.reset()
        self._offset = max(ids) + 1


class Backoff:
    """Waits that double from `first` up to `cap`, until reset."""

    def __init__(self, first: float, cap: float) -> None:
        self._first, self._cap = first, cap
        self._next = first

    def next(self) -> float:
        delay, self._next = self._next, min(self._next * 2, self._cap)
        return delay

    def reset(self) -> None:
        self._next = self._first
