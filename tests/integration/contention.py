"""Two transactions for the same rows, in an order the test fixes instead of the scheduler.

The test holds a first transaction open, starts a `Contender` (a second transaction on its own
connection, in a thread), waits until PostgreSQL reports the contender waiting for a lock, then
lets the first one commit or roll back. No sleeps decide anything: the lock wait is observed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from store.uow import UnitOfWork


class Contender(threading.Thread):
    """Runs `work(session)` in its own PostgreSQL transaction and commits it; keeps what
    `work` returned, or the exception it raised."""

    def __init__(self, sessions: sessionmaker[Session], work: Callable[[Session], Any]) -> None:
        super().__init__(daemon=True)
        self.sessions, self.work = sessions, work
        self.pid: int | None = None
        self.outcome: Any = None
        self.error: BaseException | None = None
        self._connected = threading.Event()

    def run(self) -> None:
        try:
            with UnitOfWork(self.sessions) as uow:
                self.pid = uow.session.scalar(text("SELECT pg_backend_pid()"))
                self._connected.set()
                self.outcome = self.work(uow.session)
                uow.commit()
        except BaseException as exc:  # handed to the test, which asserts on it
            self.error = exc
        finally:
            self._connected.set()

    def start_and_wait_until_blocked(self, seconds: float = 60) -> None:
        """Start, and return once PostgreSQL shows this transaction waiting for a lock (or it
        has already finished: then it did not wait, which the test's assertions will show)."""
        self.start()
        assert self._connected.wait(seconds)
        query = text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid")
        deadline = time.monotonic() + seconds
        with self.sessions.kw["bind"].connect() as conn:
            while self.is_alive() and conn.scalar(query, {"pid": self.pid}) != "Lock":
                assert time.monotonic() < deadline, "the contender neither waited nor ended"
                time.sleep(0.02)

    def result(self, seconds: float = 60) -> Any:
        """What `work` returned, once the transaction has ended; re-raises its error."""
        self.join(seconds)
        assert not self.is_alive(), "the contender is still running"
        if self.error is not None:
            raise self.error
        return self.outcome
