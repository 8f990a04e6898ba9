"""The one way in: error boundary → de-duplicate → load conversation → taken over? → NLU and
dialogs → save state → record replies, all in one transaction per message."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from sqlalchemy.orm import Session, sessionmaker

from bot.messages import Inbound, Outbound
from dialogs.engine import DialogEngine
from dialogs.i18n import t
from dialogs.notifications import REPLY
from dialogs.state import DialogState
from nlu.language import detect_language
from nlu.types import Parse
from scheduler.dispatcher import Claimed
from store import conversations, customers, outbox
from store.models import (
    ChannelIdentity,
    Conversation,
    ConversationMode,
    Customer,
    Message,
    OutboxMessage,
    utcnow,
)
from store.shop import Shop
from store.uow import UnitOfWork

log = logging.getLogger(__name__)

ShopFactory = Callable[[Session, ChannelIdentity, datetime], Shop]


@dataclass
class Handled:
    inbound: Message | None
    replies: list[Message] = field(default_factory=list)
    duplicate: bool = False
    leased: Claimed | None = None  # replies the channel sends now (see outbox.lease_if_first)


class Gateway:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        engine: DialogEngine,
        shop_factory: ShopFactory,
        clock: Callable[[], datetime] = utcnow,
        queued_channels: frozenset[str] = frozenset(),
    ) -> None:
        self._sessions = session_factory
        self._engine = engine
        self._shop = shop_factory
        self._clock = clock
        # Channels whose replies are delivered by the outbox (queued in this transaction, so a
        # crash after commit cannot lose them) rather than returned in the HTTP response.
        self.queued_channels = queued_channels

    def handle(self, inbound: Inbound) -> Handled:
        inbound = inbound.cleaned()
        try:
            return self._handle(inbound)
        except Exception:
            log.exception("failed to handle %s message", inbound.channel)
            return self._apologise(inbound)

    def _handle(self, inbound: Inbound) -> Handled:
        parse = self._engine.understand(inbound)
        now = self._clock()
        try:
            with UnitOfWork(self._sessions) as uow:
                return self._respond(uow, inbound, parse, now)
        except conversations.AlreadyRecorded:
            return self._replay(inbound)

    def _respond(
        self, uow: UnitOfWork, inbound: Inbound, parse: Parse | None, now: datetime
    ) -> Handled:
        s = uow.session
        identity, conversation, message = self._open(s, inbound, now)
        customers.note_inbound(identity, now, inbound.window)
        if conversation.mode != ConversationMode.BOT:
            uow.commit()  # a person holds this conversation: record it, stay quiet
            return Handled(message)
        state = DialogState.from_dict(conversation.state)
        turn = self._engine.step(inbound, state, self._shop(s, identity, now), parse)
        conversation.state = turn.state.to_dict()
        if turn.state.language != state.language:
            customer = s.get(Customer, identity.customer_id)
            if customer is not None:
                customer.language = turn.state.language
        replies, queued = self._record(
            s, identity, conversation, turn.replies, message, inbound, now
        )
        uow.commit()  # assigns the replies' ids (one batched INSERT)
        return Handled(message, replies, leased=queued() if queued else None)

    def _replay(self, inbound: Inbound) -> Handled:
        """A platform retry: answer with what was recorded the first time."""
        with UnitOfWork(self._sessions) as uow:
            original = conversations.inbound_by_key(uow.session, _key(inbound))
            replies = conversations.replies_to(uow.session, original.id) if original else []
            return Handled(original, replies, duplicate=True)

    def _open(
        self, s: Session, inbound: Inbound, now: datetime
    ) -> tuple[ChannelIdentity, Conversation, Message]:
        found = conversations.open_for_chat(s, inbound.channel, inbound.chat_id)
        if found is None:  # first message from this chat
            identity = customers.identify(s, inbound.channel, inbound.chat_id, inbound.display_name)
            found = identity, conversations.open_conversation(s, identity.id)
        identity, conversation = found
        body: dict[str, object] = {"payload": inbound.payload} if inbound.payload else {}
        if inbound.attachments:
            body["attachments"] = list(inbound.attachments)
        message = conversations.record_inbound(
            s, conversation.id, _key(inbound), inbound.text, body, now
        )
        return identity, conversation, message

    def _record(
        self,
        s: Session,
        identity: ChannelIdentity,
        conversation: Conversation,
        replies: list[Outbound],
        to: Message,
        inbound: Inbound,
        now: datetime,
    ) -> tuple[list[Message], Callable[[], Claimed] | None]:
        """Record the replies; for a queued channel also queue them, leased to the caller
        when nothing older waits, and return how to describe that lease after commit."""
        bodies = [r.to_dict() for r in replies]
        queued = None
        if inbound.channel in self.queued_channels and bodies:
            language = (conversation.state or {}).get("language") or "zh"
            params = {"messages": bodies, "pressed": inbound.pressed}
            row = outbox.enqueue(s, identity.id, REPLY, params, language, f"reply:{to.id}", now)
            if row is not None and outbox.lease_if_first(s, row, now):
                queued = partial(_claimed, row, identity, replies)
        recorded = [
            conversations.record_outbound(s, conversation.id, body, now, reply_to=to.id)
            for body in bodies
        ]
        return recorded, queued

    def _apologise(self, inbound: Inbound) -> Handled:
        """Record the message and a polite apology; never show a stack trace to a customer."""
        now = self._clock()
        try:
            with UnitOfWork(self._sessions) as uow:
                identity, conversation, message = self._open(uow.session, inbound, now)
                language = detect_language(
                    inbound.text, (conversation.state or {}).get("language") or "zh"
                )
                sorry = Outbound(text=t(language, "errors.internal"))
                replies, _ = self._record(
                    uow.session, identity, conversation, [sorry], message, inbound, now
                )
                uow.commit()  # a queued apology waits for the dispatcher's next claim
                return Handled(message, replies)
        except conversations.AlreadyRecorded:
            return self._replay(inbound)
        except Exception:
            log.exception("could not even record the apology")
            return Handled(None)


def _claimed(row: OutboxMessage, identity: ChannelIdentity, replies: list[Outbound]) -> Claimed:
    return Claimed(
        row.id,
        identity.id,
        identity.channel,
        identity.external_id,
        row.template,
        row.params,
        row.language,
        row.progress,
        replies,
    )


def _key(inbound: Inbound) -> str:
    return f"in:{inbound.channel}:{inbound.chat_id}:{inbound.message_id}"[:200]
