"""Delivers outbox rows through the channel adapters, with retries and backoff.

A row is leased before sending and marked sent after; a crash in between means the lease
runs out and the row is sent again, so channels de-duplicate by the outbox key where the
platform allows (the web chat records each delivery under a unique key)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from bot.messages import Outbound
from dialogs.notifications import render
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


def dispatch_due(
    sessions: sessionmaker[Session],
    channels: dict[str, Channel],
    clock: Callable[[], datetime] = utcnow,
    limit: int = 50,
) -> int:
    """Deliver what is due now; returns how many were sent."""
    with UnitOfWork(sessions) as uow:
        claimed = [
            (
                row.id,
                uow.session.get(ChannelIdentity, row.identity_id),
                row.template,
                row.params,
                row.language,
            )
            for row in outbox.claim_due(uow.session, clock(), limit)
        ]
        uow.commit()
    sent = 0
    for outbox_id, identity, template, params, language in claimed:
        sent += _deliver(
            sessions, channels, outbox_id, identity, render(template, params, language), clock
        )
    return sent


def _deliver(
    sessions: sessionmaker[Session],
    channels: dict[str, Channel],
    outbox_id: int,
    identity: ChannelIdentity | None,
    messages: list[Outbound],
    clock: Callable[[], datetime],
) -> int:
    key = f"outbox:{outbox_id}"
    channel = channels.get(identity.channel) if identity else None
    try:
        if identity is None or channel is None:
            raise DeliveryError("no channel for this identity", unreachable=True)
        channel.send(identity, messages, key)
    except DeliveryError as error:
        log.warning("outbox %s not delivered: %s", outbox_id, error)
        with UnitOfWork(sessions) as uow:
            outbox.mark_failed(
                uow.session, outbox_id, str(error), clock(), unreachable=error.unreachable
            )
            uow.commit()
        return 0
    with UnitOfWork(sessions) as uow:
        if outbox.mark_sent(uow.session, outbox_id, clock()) is not None:
            conversation = conversations.open_conversation(uow.session, identity.id)
            for i, message in enumerate(messages):
                conversations.record_outbound(
                    uow.session,
                    conversation.id,
                    message.to_dict(),
                    clock(),
                    dedupe_key=f"{key}:{i}",
                )
        uow.commit()
    return 1
