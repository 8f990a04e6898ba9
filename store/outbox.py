"""The outbox: pushes written with the state change that caused them, claimed and delivered
by the dispatcher with retries. A claim is a lease: a worker that dies mid-send leaves the
row to be picked up again when the lease runs out."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import ChannelIdentity, OutboxMessage, OutboxStatus

LEASE = timedelta(seconds=60)
MAX_ATTEMPTS = 8


def enqueue(
    session: Session,
    identity_id: int,
    template: str,
    params: dict[str, Any],
    language: str,
    dedupe_key: str,
    now: datetime,
) -> None:
    """Queue a push once per `dedupe_key`; enqueuing the same key again is a no-op."""
    if session.scalars(select(OutboxMessage.id).filter_by(dedupe_key=dedupe_key)).first():
        return
    session.add(
        OutboxMessage(
            identity_id=identity_id,
            template=template,
            params=params,
            language=language,
            dedupe_key=dedupe_key,
            next_attempt_at=now,
            created_at=now,
        )
    )


def claim_due(session: Session, now: datetime, limit: int = 50) -> list[OutboxMessage]:
    """Lease up to `limit` due rows to this worker (SKIP LOCKED keeps workers apart)."""
    rows = list(
        session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at <= now
            )
            .order_by(OutboxMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    for row in rows:
        row.attempts += 1
        row.next_attempt_at = now + LEASE
    return rows


def mark_sent(session: Session, outbox_id: int, now: datetime) -> OutboxMessage | None:
    row = session.get(OutboxMessage, outbox_id, with_for_update=True)
    if row is None or row.status != OutboxStatus.PENDING:
        return None
    row.status, row.sent_at, row.last_error = OutboxStatus.SENT, now, ""
    return row


def mark_failed(
    session: Session, outbox_id: int, error: str, now: datetime, *, unreachable: bool = False
) -> None:
    """Back off exponentially; give up when the customer cannot be reached or retries run out."""
    row = session.get(OutboxMessage, outbox_id, with_for_update=True)
    if row is None or row.status != OutboxStatus.PENDING:
        return
    row.last_error = error[:500]
    if unreachable or row.attempts >= MAX_ATTEMPTS:
        row.status = OutboxStatus.DEAD
        if unreachable:
            identity = session.get(ChannelIdentity, row.identity_id)
            if identity:
                identity.reachable = False
        return
    row.next_attempt_at = now + timedelta(seconds=min(2**row.attempts, 600))
