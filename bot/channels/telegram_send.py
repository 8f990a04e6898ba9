"""Delivers Telegram outbox rows, paced to Telegram's limits.

Telegram allows about 30 messages a second per bot and about one a second per chat (short
bursts are tolerated). Rows are claimed through the shared dispatcher steps; each chat's rows
go out in order on their own task, so one slow or rate-limited chat never holds up the rest.
A 429 pauses that chat for `retry_after` and reschedules the row where it stopped; a network
error backs off; a chat that blocked the bot (403) stops receiving and is marked unreachable.

Telegram has no idempotency key, so a message sent twice shows twice. Each call that makes a
message is recorded as handed over, and committed, just before it is made (`hand_over`); the
next hand-over, or "sent" (committed at once, not batched), records that it went out. A worker that finds a part
handed over by one that died cannot know whether the customer got it: the part is in doubt,
noted on the row and not sent again (at most once), and delivery goes on with the next part.
Edits are not recorded: making one again changes nothing the customer sees."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import TypeVar

from sqlalchemy.orm import Session, sessionmaker
from telegram import Bot
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError
from telegram.warnings import PTBDeprecationWarning

from bot.channels.pacing import Pace
from bot.channels.telegram_calls import TelegramCalls
from bot.channels.telegram_render import Part, Pressed, plan
from scheduler import dispatcher
from scheduler.dispatcher import Claimed, NotOurs, Progress
from store.models import utcnow
from store.payments import TelegramPayments

log = logging.getLogger(__name__)

PER_CHAT_CLAIM = 10  # rows a chat takes per claim, so a long queue cannot outlive its lease
CHAT_ID = re.compile(r"-?[0-9]{1,19}")  # Telegram chat ids are 64-bit integers
CONNECTIONS = 8  # Bot API calls at once: the bot's connection pool (telegram.make_bot)
T = TypeVar("T")


class TelegramSender:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        bot: Bot,
        media_dir: Path,
        *,
        link_buttons: bool,
        provider_token: str,
        payments: TelegramPayments,
        interval_s: float = 1.0,
        per_second: float = 30.0,
    ) -> None:
        self._sessions = sessions
        self._link_buttons, self._provider_token = link_buttons, provider_token
        self._calls = TelegramCalls(sessions, bot, media_dir, provider_token, payments)
        self._interval = interval_s
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()  # one delivery per chat
        self._loops: list[asyncio.Task[None]] = []
        self.pace = Pace(per_second)
        self._db = ThreadPoolExecutor(max_workers=4, thread_name_prefix="telegram-outbox")
        # A message is handed over only once a connection is free for its call (the bot's
        # pool, see telegram.make_bot): a wait for one would be part of the window in doubt.
        self._connections = asyncio.Semaphore(CONNECTIONS)

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._loops = [asyncio.create_task(self._dispatch_forever())]

    async def stop(self, timeout_s: float = 5.0) -> None:
        """Stop claiming and let deliveries in flight finish briefly. Anything cut off stays
        leased and goes on when the lease runs out; a part cut off in its call is in doubt."""
        for loop in self._loops:
            loop.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout_s)
        for task in list(self._tasks):
            task.cancel()
        self._db.shutdown(wait=False)

    async def _dispatch_forever(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.dispatch()
            except Exception:  # the loop must outlive a database hiccup
                log.exception("telegram dispatch failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)

    async def dispatch(self) -> None:
        """Claim what is due and start one delivery task per chat."""
        claimed = await self._in_db(dispatcher.claim, self._sessions, ["telegram"], utcnow(), 100)
        for group in dispatcher.by_chat(claimed):
            now, later = group[:PER_CHAT_CLAIM], group[PER_CHAT_CLAIM:]
            if later:
                await self._in_db(dispatcher.release, self._sessions, later, utcnow())
            self._spawn(now)

    def deliver_now(self, row: Claimed) -> None:
        """A reply leased to this process as it was written: no claim needed."""
        self._spawn([row])

    def _spawn(self, rows: list[Claimed]) -> None:
        task = asyncio.create_task(self._deliver_chat(rows))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver_chat(self, group: list[Claimed]) -> None:
        for i, row in enumerate(group):
            at = Progress.of(row)
            try:
                go_on = await self._deliver(row, at)
            except NotOurs:  # and most likely the chat's later rows too: leave them to it
                log.warning("outbox %s was taken over by another worker", row.outbox_id)
                break
            except Exception as error:  # a bug, or the database is down
                go_on = await self._crashed(row, error, at)
            if not go_on:
                with contextlib.suppress(Exception):  # else their leases run out
                    later = group[i + 1 :]
                    await self._in_db(dispatcher.release, self._sessions, later, utcnow())
                break
        self.wake()  # what queued for this chat meanwhile is claimable now

    async def _crashed(self, row: Claimed, error: Exception, at: Progress) -> bool:
        """Count the attempt and back off, keeping a part in doubt that Telegram never
        answered; if even that fails, the lease runs out and the next claim counts it."""
        dispatcher.log_crash(row, "telegram delivery crashed")
        answered = at.in_flight and 0 < at.committed <= at.answered
        try:
            await self._finish(
                dispatcher.failed, row, repr(error), utcnow(),
                progress=at.part + 1 if answered else None,
            )  # fmt: skip
        except Exception:
            log.warning("outbox %s: could not record the failure", row.outbox_id)
        return False

    async def _deliver(self, row: Claimed, at: Progress) -> bool:
        """The row's parts from where it stopped; False holds the chat's later rows back."""
        if not CHAT_ID.fullmatch(row.chat_id):
            return await self._give_up(row, f"{row.chat_id[:40]!r} is not a Telegram chat id")
        try:
            parts = self._plan(row)
        except Exception as error:  # it never will be shown: one traceback, then dead
            log.exception("outbox %s cannot be shown on Telegram", row.outbox_id)
            return await self._give_up(row, f"cannot be shown on Telegram: {error!r}")
        at.note = dispatcher.in_doubt(row, len(parts), "Telegram")
        for index in range(row.resume_at, len(parts)):
            if not await self._deliver_part(row, int(row.chat_id), parts[index], index, at):
                return False
        # Recorded at once rather than in batches: a crash before this leaves the last part in
        # doubt (not resent, noted), so the sooner, the fewer such notes after a crash.
        await self._in_db(dispatcher.sent, self._sessions, replace(row, note=at.note), utcnow())
        _recorded(row, at)
        self.wake()  # the chat's next pushes are claimable now
        return True

    async def _deliver_part(
        self, row: Claimed, chat: int, part: Part | None, index: int, at: Progress
    ) -> bool:
        """One part (an edit that cannot be made goes out as a new message); False: stop."""
        hand_over = partial(self._hand_over, row, index, at)
        try:
            while part is not None:
                async with self.pace.slot(row.chat_id), self._connections:
                    part = await self._calls.call(chat, part, hand_over)
        except RetryAfter as error:
            wait = retry_seconds(error)
            self.pace.chat(row.chat_id).pause(wait)
            when = utcnow() + timedelta(seconds=wait)
            await self._finish(dispatcher.retry_at, row, when, index, str(error))
            return False
        except Forbidden as error:
            await self._finish(dispatcher.failed, row, str(error), utcnow(), unreachable=True)
            return False
        except BadRequest as error:
            if "chat not found" in error.message.lower():
                await self._finish(dispatcher.failed, row, str(error), utcnow(), unreachable=True)
                return False
            # Retrying cannot fix a refused message; skip it loudly, deliver the rest.
            log.error("telegram refused part %d of outbox %s: %s", index, row.outbox_id, error)
        except TelegramError as error:  # network trouble: back off and retry from this part
            await self._finish(dispatcher.failed, row, str(error), utcnow(), progress=index)
            return False
        if at.in_flight and at.part == index:
            at.answered = time.monotonic()
        return True

    async def _hand_over(self, row: Claimed, index: int, at: Progress) -> None:
        """Just before a call that makes a message: commit that it is being made."""
        before = replace(at)
        await self._in_db(dispatcher.hand_over, self._sessions, row, index, at)
        if before.in_flight and before.committed:
            _recorded(row, before)

    async def _give_up(self, row: Claimed, reason: str) -> bool:
        """Dead at once with its reason; the chat's later rows go on."""
        await self._finish(dispatcher.failed, row, reason, utcnow(), give_up=True)
        return True

    async def _finish(self, step: Callable[..., None], row: Claimed, *args, **kwargs) -> None:
        await self._in_db(step, self._sessions, row, *args, **kwargs)

    async def _in_db(self, step: Callable[..., T], *args, **kwargs) -> T:
        """Outbox records run on the sender's own threads, so they never queue behind inbound
        work on the shared executor: that wait would widen the window a crash leaves in doubt."""
        call = partial(step, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._db, call)

    def _plan(self, row: Claimed) -> list[Part]:
        return plan(
            row.messages,
            Pressed.decode(row.params.get("pressed")),
            row.language,
            link_buttons=self._link_buttons,
            invoices=bool(self._provider_token),
        )


def retry_seconds(error: RetryAfter) -> float:
    with warnings.catch_warnings():  # an int in v22, a timedelta from v23: take either
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _recorded(row: Claimed, at: Progress) -> None:
    """How long the part last handed over was in doubt (a crash then would have left it so)."""
    if at.committed and log.isEnabledFor(logging.DEBUG):
        now = time.monotonic()
        answered = at.answered if at.answered >= at.committed else now
        log.debug(
            "outbox %s part %d in doubt %.1f ms: answered after %.1f ms, recorded %.1f ms later",
            row.outbox_id, at.part, (now - at.committed) * 1000,
            (answered - at.committed) * 1000, (now - answered) * 1000,
        )  # fmt: skip
