"""The built-in web chat: a page plus a small JSON API. Replies come back in the POST;
pushes (outbox) are recorded in the transcript, which the page polls.

The customer is whoever holds the session cookie the server issued (see web_session); every
API request is rate-limited per client address and per session."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from bot.channels.web_session import COOKIE, WebSessions
from bot.messages import Inbound, Outbound
from bot.ratelimit import RateLimits
from dialogs.i18n import LANGUAGES, t
from store import conversations, customers
from store.models import MAX_ID, ChannelIdentity, Message
from store.uow import UnitOfWork

if TYPE_CHECKING:
    from bot.bootstrap import App

PAGE = Path(__file__).resolve().parent.parent / "static" / "chat.html"


class WebChannel:
    """Delivery to the web chat is the transcript row the dispatcher writes; nothing to send."""

    name = "web"

    def __init__(self, sessions: WebSessions, limits: RateLimits) -> None:
        self.sessions = sessions
        self.limits = limits

    def send(self, identity: ChannelIdentity, messages: list[Outbound], key: str) -> None:
        return None


class SendBody(BaseModel):
    client_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    text: str | None = Field(default=None, max_length=8000)
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
        "link": _link(body),
        "image": {"url": media_url(body.image), "caption": ""} if body.image else None,
    }


def _link(body: Outbound) -> dict[str, str] | None:
    link = body.link
    return {"url": link.url, "label": link.label} if link and link.url else None


def media_url(image: str) -> str:
    if not image or image.startswith(("http://", "https://", "/")):
        return image
    return f"/media/{image}"


def router() -> APIRouter:
    api = APIRouter()

    @api.get("/", include_in_schema=False)
    async def chat_page(request: Request) -> Response:
        page = FileResponse(PAGE)
        web = _web(request)
        if web.sessions.read(request.cookies.get(COOKIE)) is None:
            web.sessions.set_cookie(page, web.sessions.issue()[1])
        return page

    @api.post("/chat/api/session")
    async def new_session(request: Request) -> Response:
        """A session for a page that has none (or an expired or forged one)."""
        web = _web(request)
        if web.sessions.read(request.cookies.get(COOKIE)) is not None:
            return JSONResponse({"ok": True})
        if refused := await _limited(web, "sessions", _client(request)):
            return refused
        answer = JSONResponse({"ok": True})
        web.sessions.set_cookie(answer, web.sessions.issue()[1])
        return answer

    @api.post("/chat/api/messages")
    async def send(body: SendBody, request: Request) -> Any:
        session, refused = await _admit(request, "messages")
        if refused:
            return refused
        inbound = Inbound(
            channel="web",
            chat_id=session,
            message_id=body.client_id,
            text=body.text or "",
            payload=body.payload or None,
        )
        handled = await run_in_threadpool(request.app.state.chatshop.gateway.handle, inbound)
        messages = ([handled.inbound] if handled.inbound else []) + handled.replies
        return {"messages": [serialize(m) for m in messages]}

    @api.get("/chat/api/messages")
    async def history(request: Request, after: int = Query(0, ge=0, le=MAX_ID)) -> Any:
        session, refused = await _admit(request, "polls")
        if refused:
            return refused
        chatshop = request.app.state.chatshop
        return {"messages": await run_in_threadpool(_history, chatshop, session, after)}

    return api


def _web(request: Request) -> WebChannel:
    return request.app.state.chatshop.channels["web"]


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def _admit(request: Request, per_session: str) -> tuple[str, Response | None]:
    """The request's session, or the answer refusing it (no session: 401; too fast: 429)."""
    web = _web(request)
    session = web.sessions.read(request.cookies.get(COOKIE))
    if session is None:
        return "", _refusal(401, "web.no_session")
    refused = await _limited(web, "requests", _client(request))
    return session, refused or await _limited(web, per_session, session)


async def _limited(web: WebChannel, rule: str, key: str) -> Response | None:
    wait = await web.limits.hit(rule, key)
    if wait is None:
        return None
    answer = _refusal(429, "web.rate_limited")
    answer.headers["Retry-After"] = str(int(wait + 0.999))
    return answer


def _refusal(status: int, key: str) -> JSONResponse:
    """The API does not know the reader's language: it says it in both, for the page to show."""
    detail = " / ".join(t(lang, key) for lang in LANGUAGES)
    return JSONResponse({"detail": detail, "error": key.split(".")[-1]}, status_code=status)


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
