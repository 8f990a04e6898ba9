"""Conversations: mode, dialog state and the transcript of every message in and out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store.models import Conversation, Message

TRANSCRIPT_TEXT_LIMIT = 4000


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


def record_inbound(
    session: Session,
    conversation_id: int,
    dedupe_key: str,
    text: str,
    body: dict[str, Any],
    now: datetime,
) -> Message | None:
    """Record a customer message; None if this platform message was already recorded."""
    try:
        with session.begin_nested():
            message = Message(
                conversation_id=conversation_id,
                direction="in",
                dedupe_key=dedupe_key,
                text=text[:TRANSCRIPT_TEXT_LIMIT],
                body=body,
                created_at=now,
            )
            session.add(message)
            session.flush()
            return message
    except IntegrityError:
        return None


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
    session.flush()
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
