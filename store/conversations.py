"""Conversations: mode, dialog state and the transcript of every message in and out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store.models import ChannelIdentity, Conversation, Message

TRANSCRIPT_TEXT_LIMIT = 4000


# Built once: this runs for every inbound message and statement construction is not free.
_FOR_CHAT = (
    select(ChannelIdentity, Conversation)
    .join(Conversation, Conversation.identity_id == ChannelIdentity.id)
    .where(
        ChannelIdentity.channel == bindparam("channel"),
        ChannelIdentity.external_id == bindparam("external_id"),
    )
    .with_for_update(of=Conversation)
)


def open_for_chat(
    session: Session, channel: str, external_id: str
) -> tuple[ChannelIdentity, Conversation] | None:
    """The chat's identity and its row-locked conversation in one query, if both exist."""
    row = session.execute(_FOR_CHAT, {"channel": channel, "external_id": external_id}).first()
    return (row[0], row[1]) if row else None


def open_conversation(session: Session, identity_id: int) -> Conversation:
    """The identity's conversation, row-locked so one chat's messages are handled one by one."""
    query = select(Conversation).filter_by(identity_id=identity_id).with_for_update()
    if conversation := session.scalars(query).first():
        return conversation
    try:
        with session.begin_nested():
            session.add(Conversation(identity_id=identity_id, state={}))
            session.flush()
    except IntegrityError:  # opened concurrently
        pass
    return session.scalars(query.execution_options(populate_existing=True)).one()


def conversation_for(session: Session, identity_id: int) -> Conversation | None:
    return session.scalars(select(Conversation).filter_by(identity_id=identity_id)).first()


class AlreadyRecorded(Exception):
    """This platform message was recorded before; the transaction must be rolled back."""


def record_inbound(
    session: Session,
    conversation_id: int,
    dedupe_key: str,
    text: str,
    body: dict[str, Any],
    now: datetime,
) -> Message:
    """Record a customer message, or raise AlreadyRecorded for a platform retry.

    Optimistic: a plain INSERT against the unique key, no savepoint, because duplicates are
    rare and this runs for every message.
    """
    message = Message(
        conversation_id=conversation_id,
        direction="in",
        dedupe_key=dedupe_key,
        text=text[:TRANSCRIPT_TEXT_LIMIT],
        body=body,
        created_at=now,
    )
    session.add(message)
    try:
        session.flush()
    except IntegrityError as error:
        raise AlreadyRecorded(dedupe_key) from error
    return message


def inbound_by_key(session: Session, dedupe_key: str) -> Message | None:
    return session.scalars(select(Message).filter_by(dedupe_key=dedupe_key)).first()


def record_outbound(
    session: Session,
    conversation_id: int,
    body: dict[str, Any],
    now: datetime,
    reply_to: int | None = None,
    dedupe_key: str | None = None,
) -> Message:
    message = Message(
        conversation_id=conversation_id,
        direction="out",
        reply_to=reply_to,
        dedupe_key=dedupe_key,
        text=str(body.get("text", ""))[:TRANSCRIPT_TEXT_LIMIT],
        body=body,
        created_at=now,
    )
    session.add(message)
    return message


def replies_to(session: Session, message_id: int) -> list[Message]:
    return list(
        session.scalars(select(Message).filter_by(reply_to=message_id).order_by(Message.id))
    )


def messages_after(
    session: Session, conversation_id: int, after: int, limit: int = 100
) -> list[Message]:
    query = (
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.id > after)
        .order_by(Message.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def last_offer(session: Session, channel: str, external_id: str, limit: int = 30) -> list[Message]:
    """The newest reply turn or push since the customer last wrote that offered any buttons,
    oldest first: what a customer's "2" answers where buttons are shown as numbers (WeChat)."""
    newest = session.scalars(
        select(Message)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .join(ChannelIdentity, ChannelIdentity.id == Conversation.identity_id)
        .where(ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id)
        .order_by(Message.id.desc())
        .limit(limit)
    )
    groups: dict[object, list[Message]] = {}
    for message in newest:
        if message.direction == "in":
            break
        # a turn shares its reply_to; a push its outbox key ("outbox:<id>:<part>")
        key = message.reply_to or (message.dedupe_key or "").rpartition(":")[0]
        groups.setdefault(key, []).append(message)
    for group in groups.values():  # newest first
        if any(_offers(m.body) for m in group):
            return group[::-1]
    return []


def _offers(body: dict[str, Any]) -> bool:
    return bool(body.get("buttons")) or any(c.get("buttons") for c in body.get("cards", ()))
