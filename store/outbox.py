"""The outbox: pushes written with the state change that caused them, claimed and delivered
by the dispatcher with retries. A claim is a lease: a worker that dies mid-send leaves the
row to be picked up again when the lease runs out."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session, aliased

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
) -> OutboxMessage | None:
    """Queue a push once per `dedupe_key`; enqueuing the same key again is a no-op (None)."""
    if session.scalars(select(OutboxMessage.id).filter_by(dedupe_key=dedupe_key)).first():
        return None
    row = OutboxMessage(
        identity_id=identity_id,
        template=template,
        params=params,
        language=language,
        dedupe_key=dedupe_key,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(row)
    return row


def lease_if_first(session: Session, row: OutboxMessage, now: datetime) -> bool:
    """Lease a just-queued row to the caller, who sends it right after commit, unless an
    older push to the same customer must go first. A crash before sending only delays it:
    the lease runs out and a dispatcher claims it."""
    older = session.scalars(
        select(OutboxMessage.id).where(
            OutboxMessage.identity_id == row.identity_id,
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.dedupe_key != row.dedupe_key,
        )
    ).first()
    if older is not None:
        return False
    row.attempts, row.next_attempt_at = 1, now + LEASE
    return True


def claim_due(
    session: Session, now: datetime, channels: Iterable[str], limit: int = 50
) -> list[tuple[OutboxMessage, ChannelIdentity]]:
    """Lease up to `limit` due rows for these channels to this worker (SKIP LOCKED keeps
    workers apart), each with its recipient. A row waits while an earlier one to the same
    customer is leased or backing off, so pushes reach each chat in the order written."""
    earlier = aliased(OutboxMessage)
    blocked = exists().where(
        earlier.identity_id == OutboxMessage.identity_id,
        earlier.id < OutboxMessage.id,
        earlier.status == OutboxStatus.PENDING,
        earlier.next_attempt_at > now,
    )
    rows = list(
        session.execute(
            select(OutboxMessage, ChannelIdentity)
            .join(ChannelIdentity, ChannelIdentity.id == OutboxMessage.identity_id)
            .where(
                OutboxMessage.status == OutboxStatus.PENDING,
                OutboxMessage.next_attempt_at <= now,
                ChannelIdentity.channel.in_(list(channels)),
                ~blocked,
            )
            .order_by(OutboxMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=OutboxMessage)
        )
    )
    claimed = []
    for row, identity in rows:
        if row.attempts >= MAX_ATTEMPTS:  # leased that often and never reported back
            why = row.last_error or "the sender never reported back (crashed or cut off)"
            mark_dead(row, f"gave up after {row.attempts} attempts: {why}")
            continue
        row.attempts += 1
        row.next_attempt_at = now + LEASE
        claimed.append((row, identity))
    return claimed


def mark_dead(row: OutboxMessage, reason: str) -> None:
    """A push that can never be delivered (it cannot be shown, or the address is no address):
    dead now with its reason, so it neither retries nor holds back the customer's next pushes."""
    row.status, row.last_error, row.in_flight_at = OutboxStatus.DEAD, reason[:500], None


def hand_over(
    session: Session,
    outbox_id: int,
    part: int,
    seen: tuple[int, bool],
    now: datetime,
    note: str | None = None,
) -> bool:
    """Record, before the platform call, that part `part` is being handed over (and with it that
    every earlier part went out). Only from the state this worker left or claimed the row in,
    `seen` = (progress, a part was in flight): False when another worker took the row over
    (the lease ran out) or it is no longer pending, and then the caller must not send."""
    progress, in_flight = seen
    values: dict[str, Any] = {"progress": part, "in_flight_at": now}
    if note is not None:
        values["last_error"] = note[:500]
    done = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == outbox_id,
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.progress == progress,
            OutboxMessage.in_flight_at.is_not(None)
            if in_flight
            else OutboxMessage.in_flight_at.is_(None),
        )
        .values(**values)
    )
    return done.rowcount == 1


def release(session: Session, outbox_ids: list[int], now: datetime) -> None:
    """Hand back claimed rows that were not tried (an earlier push to the chat failed)."""
    if outbox_ids:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(outbox_ids), OutboxMessage.status == OutboxStatus.PENDING)
            .values(attempts=OutboxMessage.attempts - 1, next_attempt_at=now)
        )


def retry_at(session: Session, outbox_id: int, when: datetime, progress: int, reason: str) -> None:
    """The platform said when to come back (HTTP 429): not a failure, so no attempt is spent."""
    row = session.get(OutboxMessage, outbox_id, with_for_update=True)
    if row is None or row.status != OutboxStatus.PENDING:
        return
    row.attempts = max(row.attempts - 1, 0)
    row.next_attempt_at, row.last_error = when, reason[:500]
    row.progress, row.in_flight_at = progress, None  # that part was refused: resume there


def mark_sent(
    session: Session, outbox_id: int, now: datetime, sent_as: str = "", note: str = ""
) -> OutboxMessage | None:
    """Delivered; `note` says what the customer may be missing (a part in doubt)."""
    row = session.get(OutboxMessage, outbox_id, with_for_update=True)
    if row is None or row.status != OutboxStatus.PENDING:
        return None
    row.status, row.sent_at, row.last_error = OutboxStatus.SENT, now, note[:500]
    row.in_flight_at = None
    row.sent_as = _joined(row.sent_as, sent_as)
    return row


# How a WeChat reply went out, where WeChat's webhook answer could carry its first part.
PASSIVE = "passive"  # the first part was the webhook's answer (a passive reply)
PASSIVE_LOST = "passive-lost"  # ... and WeChat retried, so it was lost: sent again (below)
RETRIED = "retried"  # a retry was answered "success" before a decision: no passive reply
FIRST_PART_ONLY = "first_part_only"  # a row's param: deliver only the reply's first part


def mark_passive(session: Session, outbox_id: int, parts: int, now: datetime) -> bool:
    """The first part goes back in the webhook's answer (WeChat's passive reply): sent when it
    is the only part, else the rest stays leased to the caller. False if no longer ours, or a
    retry elsewhere was already answered without it."""
    row = session.get(OutboxMessage, outbox_id, with_for_update=True)
    if row is None or row.status != OutboxStatus.PENDING or row.progress > 0 or row.sent_as:
        return False
    row.sent_as, row.progress = PASSIVE, 1
    if parts == 1:
        row.status, row.sent_at = OutboxStatus.SENT, now
    return True


def settle_retry(
    session: Session, message_id: int, now: datetime, *, carry: bool, lost: bool
) -> bool:
    """A platform retry of a customer message whose reply is queued here, answered by a worker
    that did not decide that reply. True when this retry may carry the passive reply again
    (`carry`: no answer can have carried it before). Otherwise a reply still undecided may no
    longer go passively, and one that did is sent again when the retry shows it `lost`."""
    row = session.scalars(
        select(OutboxMessage).filter_by(dedupe_key=f"reply:{message_id}").with_for_update()
    ).first()
    if row is None:
        return False
    if first_sent_as(row) == PASSIVE:
        if carry:
            return True
        if lost:
            resend_passive(session, row.id, now)
        return False
    if not row.sent_as and row.status == OutboxStatus.PENDING and row.progress == 0:
        row.sent_as = RETRIED
    return False


def resend_passive(session: Session, outbox_id: int, now: datetime) -> OutboxMessage | None:
    """The passive reply of this row never reached the customer (WeChat retried after it):
    queue its first part again, once, as a push of its own; the rest goes on as it was."""
    row = session.get(OutboxMessage, outbox_id, with_for_update=True)
    if row is None or first_sent_as(row) != PASSIVE:
        return None
    row.sent_as = PASSIVE_LOST + row.sent_as.removeprefix(PASSIVE)
    params = {**row.params, FIRST_PART_ONLY: True}
    key = f"{PASSIVE_LOST}:{row.id}"
    return enqueue(session, row.identity_id, row.template, params, row.language, key, now)


def first_sent_as(row: OutboxMessage) -> str:
    """How the first part went: "passive+custom" → "passive"."""
    return row.sent_as.split("+", 1)[0]


def reply_to(session: Session, message_id: int) -> OutboxMessage | None:
    """The queued reply to an inbound message (see Gateway: key reply:<message id>)."""
    return session.scalars(
        select(OutboxMessage).filter_by(dedupe_key=f"reply:{message_id}")
    ).first()


def _joined(before: str, now: str) -> str:
    return f"{before}+{now}" if before and now and before != now else before or now


def mark_failed(
    session: Session,
    outbox_id: int,
    error: str,
    now: datetime,
    *,
    unreachable: bool = False,
    progress: int | None = None,
    give_up: bool = False,
) -> None:
    """Back off exponentially; give up when told to (no way to reach the customer with this
    push), when the customer cannot be reached (then on every push still queued for them) or
    retries run out. `progress`: the part the platform refused (the ones before it went
    out); without it, what was in flight stays in doubt."""
    row = session.get(OutboxMessage, outbox_id, with_for_update=True)
    if row is None or row.status != OutboxStatus.PENDING:
        return
    row.last_error = error[:500]
    if progress is not None:
        row.progress, row.in_flight_at = progress, None
    if unreachable:
        identity = session.get(ChannelIdentity, row.identity_id)
        if identity:
            identity.reachable = False
        drop_pending(session, row.identity_id, error)
        return
    if give_up or row.attempts >= MAX_ATTEMPTS:
        row.status = OutboxStatus.DEAD
        if not give_up:
            row.last_error = f"gave up after {row.attempts} attempts: {error}"[:500]
        return
    row.next_attempt_at = now + timedelta(seconds=min(2**row.attempts, 600))


def drop_pending(session: Session, identity_id: int, reason: str) -> None:
    """Give up on everything queued for a customer who cannot be reached."""
    session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.identity_id == identity_id, OutboxMessage.status == OutboxStatus.PENDING
        )
        .values(status=OutboxStatus.DEAD, last_error=reason[:500])
    )
