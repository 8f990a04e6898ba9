"""The built-in web chat: a page plus a small JSON API. Replies come back in the POST;
pushes (outbox) are recorded in the transcript, which the page polls."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from bot.messages import Inbound, Outbound
from store import conversations, customers
from store.models import ChannelIdentity, Message
from store.uow import UnitOfWork

if TYPE_CHECKING:
    from bot.bootstrap import App

SESSION_PATTERN = r"^[A-Za-z0-9_-]{8,64}$"


class WebChannel:
    """Delivery to the web chat is the transcript row the dispatcher writes; nothing to send."""

    name = "web"

    def send(self, identity: ChannelIdentity, messages: list[Outbound], key: str) -> None:
        return None


class SendBody(BaseModel):
    session: str = Field(pattern=SESSION_PATTERN)
    client_id: str = Field(min_length=1, max_length=64)
    text: str | None = Field(default=None, max_length=20000)
    payload: str | None = Field(default=None, max_length=200)


def serialize(message: Message) -> dict[str, Any]:
    body = (
        Outbound.from_dict(message.body)
        if message.direction == "out"
        else Outbound(text=message.text)
    )
    return {
        "id": message.id,
        "direction": message.direction,
        "created_at": message.created_at.isoformat(),
        "text": body.text,
        "buttons": [{"label": b.label, "payload": b.payload} for b in body.buttons],
        "cards": [
            {
                "title": c.title,
                "subtitle": c.subtitle,
                "image_url": media_url(c.image),
                "price": c.price,
                "stock": c.stock,
                "buttons": [{"label": b.label, "payload": b.payload} for b in c.buttons],
            }
            for c in body.cards
        ],
        "link": {"url": body.link.url, "label": body.link.label} if body.link else None,
        "image": {"url": media_url(body.image), "caption": ""} if body.image else None,
    }


def media_url(image: str) -> str:
    if not image or image.startswith(("http://", "https://", "/")):
        return image
    return f"/media/{image}"


def router() -> APIRouter:
    api = APIRouter(prefix="/chat/api")

    @api.post("/messages")
    async def send(body: SendBody, request: Request) -> dict[str, Any]:
        inbound = Inbound(
            channel="web",
            chat_id=body.session,
            message_id=body.client_id,
            text=body.text or "",
            payload=body.payload or None,
        )
        handled = await run_in_threadpool(request.app.state.chatshop.gateway.handle, inbound)
        messages = ([handled.inbound] if handled.inbound else []) + handled.replies
        return {"messages": [serialize(m) for m in messages]}

    @api.get("/messages")
    async def history(
        request: Request, session: str = Query(pattern=SESSION_PATTERN), after: int = Query(0, ge=0)
    ) -> dict[str, Any]:
        return {
            "messages": await run_in_threadpool(
                _history, request.app.state.chatshop, session, after
            )
        }

    return api


def _history(app: App, session: str, after: int) -> list[dict[str, Any]]:
    with UnitOfWork(app.sessions) as uow:
        identity = customers.find_identity(uow.session, "web", session)
        conversation = (
            conversations.conversation_for(uow.session, identity.id) if identity else None
        )
        if conversation is None:
            return []
        return [
            serialize(m) for m in conversations.messages_after(uow.session, conversation.id, after)
        ]
