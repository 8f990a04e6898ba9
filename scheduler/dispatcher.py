"""Delivers outbox rows through the channel adapters, with retries and backoff.

A row is leased before sending and marked sent after; a crash in between means the lease
runs out and the row is sent again, so channels de-duplicate by the outbox key where the
platform allows (the web chat records each delivery under a unique key). Rows to one customer
go out in order: when one fails, the ones after it wait for its retry.

The steps (claim, then sent / failed / retry / release) are shared with the asynchronous
Telegram sender, which claims only Telegram rows and paces them itself."""

from __future__ import annotations

import logging
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

    @property
    def key(self) -> str:
        return f"outbox:{self.outbox_id}"


def claim(
    sessions: sessionmaker[Session], channels: Iterable[str], now: datetime, limit: int = 50
) -> list[Claimed]:
    with UnitOfWork(sessions) as uow:
        claimed = []
        for row, identity in outbox.claim_due(uow.session, now, channels, limit):
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
                    render(row.template, row.params, row.language),
                    row.sent_as,
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
            marked = outbox.mark_sent(uow.session, row.outbox_id, now, sent_as)
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
    progress: int = 0,
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
            try:
                channels[row.channel].send(_identity(row), row.messages, row.key)
            except DeliveryError as error:
                failed(sessions, row, str(error), clock(), unreachable=error.unreachable)
                release(sessions, group[i + 1 :], clock())
                break
            sent(sessions, row, clock())
            delivered += 1
    return delivered


def _identity(row: Claimed) -> ChannelIdentity:
    return ChannelIdentity(id=row.identity_id, channel=row.channel, external_id=row.chat_id)
