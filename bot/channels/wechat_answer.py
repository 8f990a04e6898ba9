"""How the WeChat webhook answers a push it may see more than once.

WeChat waits 5 s for the answer to a push, then repeats the request byte for byte (3 attempts
in all) and abandons the earlier connection: only the answer to the latest attempt counts. So
the answer to a customer message is decided once, "passive" (the reply's first part is the
answer's XML) or "success" (the reply goes out as customer-service messages), and:

- an attempt that arrives before any response carried the passive reply may carry it;
- an attempt that arrives after one did proves that answer lost (WeChat repeats only what it
  did not get): it is answered "success" and the first part is queued as a service message
  (`outbox.resend_passive`), so the customer never ends up with nothing;
- a repeat later than WeChat's retries could come (RETRY_WINDOW_S) is a replay: "success",
  and nothing is sent again.

Time comes from a `Clock` (the reply budget, arrivals, the nonce memory), so tests decide when
a budget runs out instead of racing the wall clock."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from scheduler.dispatcher import Claimed
from store.models import utcnow

SUCCESS = b"success"
PASSIVE = "passive"
MAX_AGE_S = 300  # a push signed longer ago than this is a replay
RETRY_WINDOW_S = 30.0  # WeChat's 3 attempts, 5 s apart, with room for a slow network


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds, for budgets and ages within this process."""
        ...

    def now(self) -> datetime:
        """Aware UTC, comparable with the times the store records."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return utcnow()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@dataclass
class Attempt:
    """One customer message as this worker sees it, awaited by every request that carries it
    (the first and WeChat's retries). The decision is taken under `lock`, by the worker thread
    when the passive reply is ready and recorded, or by a request whose budget ran out."""

    finished: asyncio.Future[None]
    started: float  # Clock.monotonic() when the first request arrived
    arrived: datetime  # Clock.now() then
    lock: threading.Lock = field(default_factory=threading.Lock)
    decision: str = ""  # "passive" or "success"
    answer: bytes = SUCCESS
    reply_id: int | None = None  # the reply's outbox row, when passive
    leased: Claimed | None = None  # the reply's rest, for the sender after we answered
    served: bool = False  # a response carried the passive reply (set on the event loop only)

    def decide(self, decision: str) -> bool:
        with self.lock:
            if self.decision:
                return False
            self.decision = decision
            return True

    def take_rest(self) -> Claimed | None:
        with self.lock:
            rest, self.leased = self.leased, None
            return rest

    def finish(self) -> None:
        """From the worker thread: wake whoever waits on the event loop."""
        with contextlib.suppress(RuntimeError):  # the loop is gone: the server is stopping
            self.finished.get_loop().call_soon_threadsafe(_resolve, self.finished)

    async def wait(self, seconds: float, clock: Clock) -> bool:
        """True once the work is done; False if `seconds` of `clock` pass first."""
        if self.finished.done() or seconds <= 0:
            return self.finished.done()
        timer = asyncio.ensure_future(clock.sleep(seconds))
        try:
            await asyncio.wait({self.finished, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
        return self.finished.done()


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def is_retry(arrived: datetime, recorded: datetime) -> bool:
    """Whether a request that another worker did not answer came after the message was
    recorded, so after an answer (passive or not) may have gone out to WeChat."""
    return arrived >= recorded


def is_replay(arrived: datetime, recorded: datetime) -> bool:
    """Too late to be one of WeChat's retries of a message recorded at `recorded`."""
    return (arrived - recorded).total_seconds() > RETRY_WINDOW_S


class Nonces:
    """A signed push is good once, except that WeChat's retry repeats it exactly: the same
    timestamp and nonce with the same query and body is that retry (answered as one by its
    MsgId); with anything else changed it is a replay. Per process: across workers a replay
    is still de-duplicated by its MsgId."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._seen: dict[str, tuple[float, bytes]] = {}
        self._lock = threading.Lock()

    def spend(self, query: Mapping[str, str], body: bytes) -> bool:
        """False for a replay: this timestamp and nonce came before with another request."""
        key = f"{query['timestamp']}:{query['nonce']}"
        request = hashlib.sha256(repr(sorted(query.items())).encode() + b"\n" + body).digest()
        now = self._clock.monotonic()
        with self._lock:
            seen = self._seen.get(key)
            if seen is not None:
                return seen[1] == request
            self._seen[key] = (now + 2 * MAX_AGE_S, request)
            if len(self._seen) > 10_000:
                self._seen = {k: v for k, v in self._seen.items() if v[0] > now}
        return True
