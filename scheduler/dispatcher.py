"""Delivers outbox rows through the channel adapters, with retries and backoff.

A row is leased before sending and marked sent after; a crash in between means the lease
runs out and the row is tried again, so channels de-duplicate by the outbox key where the
platform allows (the web chat records each delivery under a unique key), and a channel whose
platform cannot (Telegram) records each part as handed over before its call (`hand_over`):
what a dead worker left in flight is in doubt and not sent again. Rows to one customer go out
in order: when one fails, the ones after it wait for its retry. Every failure counts an
attempt; a row that cannot be shown at all dies at once, and one whose worker keeps dying
with it dies when its attempts run out (`outbox.claim_due`).

The steps (claim, then sent / failed / retry / release) are shared with the asynchronous
Telegram sender, which claims only Telegram rows and paces them itself."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from bot.messages import Outbound
from dialogs.notifications import REPLY, render
from store import conversations, outbox
from store.models import ChannelIdentity, utcnow
from store.uow import UnitOfWork

log = logging.getLogger(__name__)


class DeliveryError(Exception):
    def __init__(self, message: str, *, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable


class Channel(Protocol):
    name: str

    def send(self, identity: ChannelIdentity, messages: list[Outbound], key: str) -> None:
        """Deliver or raise DeliveryError."""
        ...


@dataclass(frozen=True)
class Claimed:
    """A leased outbox row, detached from its session."""

    outbox_id: int
    identity_id: int
    channel: str
    chat_id: str
    template: str
    params: dict[str, Any]
    language: str
    progress: int
    messages: list[Outbound]
    sent_as: str = ""  # how parts already went out (WeChat: "passive")
    in_flight: bool = False  # part `progress` was handed over by a worker that never said more
    attempts: int = 1
    note: str = ""  # what the customer may be missing, recorded with "sent"

    @property
    def key(self) -> str:
        return f"outbox:{self.outbox_id}"

    @property
    def resume_at(self) -> int:
        """The first part to send: a part in doubt is not sent again (see `in_doubt`)."""
        return self.progress + self.in_flight


def claim(
    sessions: sessionmaker[Session], channels: Iterable[str], now: datetime, limit: int = 50
) -> list[Claimed]:
    with UnitOfWork(sessions) as uow:
        claimed = []
        for row, identity in outbox.claim_due(uow.session, now, channels, limit):
            try:
                messages = render(row.template, row.params, row.language)
            except Exception as error:  # it never will render: give up now, once, loudly
                log.exception("outbox %s cannot be rendered; giving up on it", row.id)
                outbox.mark_dead(row, f"cannot be rendered: {error!r}")
                continue
            claimed.append(
                Claimed(
                    row.id,
                    identity.id,
                    identity.channel,
                    identity.external_id,
                    row.template,
                    dict(row.params),
                    row.language,
                    row.progress,
                    messages,
                    row.sent_as,
                    in_flight=row.in_flight_at is not None,
                    attempts=row.attempts,
                )
            )
        uow.commit()
    return claimed


def by_chat(claimed: list[Claimed]) -> list[list[Claimed]]:
    """Claimed rows grouped per customer, each group in the order it was written."""
    ordered = sorted(claimed, key=lambda c: (c.identity_id, c.outbox_id))
    return [list(group) for _, group in groupby(ordered, key=lambda c: c.identity_id)]


def sent(
    sessions: sessionmaker[Session],
    done: Claimed | list[Claimed],
    now: datetime,
    sent_as: str = "",
) -> None:
    """Mark delivered (several in one transaction when given a list), and how where the channel
    has several ways; a push, unlike a reply, is not in the transcript yet, so it is recorded."""
    with UnitOfWork(sessions) as uow:
        for row in done if isinstance(done, list) else [done]:
            marked = outbox.mark_sent(uow.session, row.outbox_id, now, sent_as, row.note)
            if marked is None or row.template == REPLY:
                continue
            conversation = conversations.open_conversation(uow.session, row.identity_id)
            for i, message in enumerate(row.messages):
                body = message.to_dict()
                key = f"{row.key}:{i}"
                conversations.record_outbound(uow.session, conversation.id, body, now, None, key)
        uow.commit()


def failed(
    sessions: sessionmaker[Session],
    row: Claimed,
    error: str,
    now: datetime,
    *,
    unreachable: bool = False,
    progress: int | None = None,
    give_up: bool = False,
) -> None:
    log.warning("outbox %s not delivered: %s", row.outbox_id, error)
    with UnitOfWork(sessions) as uow:
        outbox.mark_failed(
            uow.session,
            row.outbox_id,
            error,
            now,
            unreachable=unreachable,
            progress=progress,
            give_up=give_up,
        )
        uow.commit()


def retry_at(
    sessions: sessionmaker[Session], row: Claimed, when: datetime, progress: int, reason: str
) -> None:
    with UnitOfWork(sessions) as uow:
        outbox.retry_at(uow.session, row.outbox_id, when, progress, reason)
        uow.commit()


class NotOurs(Exception):
    """Another worker took the row over (its lease ran out) and sends the rest."""


@dataclass
class Progress:
    """Where this worker left a claimed row in the database: the part last handed over to the
    platform, if any, and when (monotonic) that was committed and the platform answered."""

    part: int
    in_flight: bool
    note: str = ""  # what the customer may be missing
    committed: float = 0.0
    answered: float = 0.0

    @classmethod
    def of(cls, row: Claimed) -> Progress:
        return cls(row.progress, row.in_flight)


def in_doubt(row: Claimed, parts: int, platform: str) -> str:
    """A part handed over by a worker that died before the platform answered: the customer may
    or may not have it, so it is not sent again (the platform could not tell a repeat apart).
    Logged, and returned as the row's note; "" when nothing is in doubt."""
    if not row.in_flight:
        return ""
    note = (
        f"in doubt: part {row.progress + 1} of {parts} may not have reached the customer "
        f"(its sender stopped before {platform} answered); not sent again"
    )
    log.warning("outbox %s %s", row.outbox_id, note)
    return note


def hand_over(sessions: sessionmaker[Session], row: Claimed, part: int, at: Progress) -> None:
    """Just before the platform call that sends `part`: commit that it is being sent (and so
    that the part before it went out). NotOurs if another worker has the row now."""
    with UnitOfWork(sessions) as uow:
        seen = (at.part, at.in_flight)
        ours = outbox.hand_over(uow.session, row.outbox_id, part, seen, utcnow(), at.note or None)
        uow.commit()
    if not ours:
        raise NotOurs(row.outbox_id)
    at.part, at.in_flight, at.committed = part, True, time.monotonic()


def release(sessions: sessionmaker[Session], rows: list[Claimed], now: datetime) -> None:
    with UnitOfWork(sessions) as uow:
        outbox.release(uow.session, [r.outbox_id for r in rows], now)
        uow.commit()


def dispatch_due(
    sessions: sessionmaker[Session],
    channels: dict[str, Channel],
    clock: Callable[[], datetime] = utcnow,
    limit: int = 50,
) -> int:
    """Deliver what is due now through synchronous channels; returns how many were sent."""
    delivered = 0
    for group in by_chat(claim(sessions, channels, clock(), limit)):
        for i, row in enumerate(group):
            if not _deliver(sessions, channels[row.channel], row, clock):
                with contextlib.suppress(Exception):  # else their leases run out
                    release(sessions, group[i + 1 :], clock())
                break
            delivered += 1
    return delivered


def _deliver(
    sessions: sessionmaker[Session], channel: Channel, row: Claimed, clock: Callable[[], datetime]
) -> bool:
    """One row through a synchronous channel; False holds the customer's later rows back.
    Every failure counts the attempt (see `failed`); if even recording it fails, the lease
    runs out and the next claim counts it."""
    try:
        channel.send(_identity(row), row.messages, row.key)
        sent(sessions, row, clock())
        return True
    except DeliveryError as error:
        with contextlib.suppress(Exception):
            failed(sessions, row, str(error), clock(), unreachable=error.unreachable)
    except Exception as error:  # a bug, or the database: its traceback once per row
        log_crash(row, f"{row.channel} delivery crashed")
        with contextlib.suppress(Exception):
            failed(sessions, row, str(error) or repr(error), clock())
    return False


def log_crash(row: Claimed, what: str) -> None:
    """An unexpected error delivering a row: its traceback on the first attempt only (`failed`
    logs a line for every attempt), so a row failing until it dies leaves one traceback."""
    if row.attempts <= 1:
        log.exception("outbox %s: %s", row.outbox_id, what)


def _identity(row: Claimed) -> ChannelIdentity:
    return ChannelIdentity(id=row.identity_id, channel=row.channel, external_id=row.chat_id)
