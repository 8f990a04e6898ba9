"""The one ASGI app: web chat, webhooks, pay pages and payment notifications, health."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from bot import pay_pages, security
from bot.bootstrap import App
from bot.channels import telegram, web, wechat
from scheduler.jobs import start_scheduler
from store.uow import UnitOfWork

log = logging.getLogger(__name__)
STATIC = Path(__file__).with_name("static")


def create_app(chatshop: App, run_scheduler: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        scheduler = start_scheduler(chatshop) if run_scheduler else None
        if chatshop.settings.telegram_bot_token:
            api.state.telegram = telegram.TelegramChannel(chatshop)
            await api.state.telegram.start()
        if chatshop.settings.wechat_app_id:
            api.state.wechat = wechat.WeChatChannel(chatshop)
            await api.state.wechat.start()
        yield
        if api.state.telegram:
            await api.state.telegram.stop()
        if api.state.wechat:
            await api.state.wechat.stop()
        if scheduler:
            scheduler.shutdown(wait=False)

    docs = chatshop.settings.api_docs  # the schema and /docs are for developers, off by default
    api = security.HardenedAPI(
        title="chatshop",
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
        max_body_size=security.MAX_BODY,
    )
    api.add_exception_handler(RequestValidationError, security.validation_error)
    api.https = chatshop.settings.base_url.startswith("https://")
    api.state.chatshop = chatshop
    api.state.telegram = None
    api.state.wechat = None
    media = Path(chatshop.settings.media_dir)
    media.mkdir(parents=True, exist_ok=True)
    api.mount("/static", StaticFiles(directory=STATIC), name="static")
    api.mount("/media", StaticFiles(directory=media), name="media")
    api.include_router(web.router())
    api.include_router(telegram.router(), max_body_size=telegram.MAX_BODY)
    api.include_router(wechat.router())
    api.include_router(pay_pages.router(chatshop))

    @api.get("/healthz")
    async def healthz() -> JSONResponse:
        def ping() -> None:
            with UnitOfWork(chatshop.sessions) as uow:
                uow.session.execute(text("SELECT 1"))

        try:
            await run_in_threadpool(ping)
        except Exception:  # health checks report failure, they do not raise
            return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
        return JSONResponse({"status": "ok"})

    return api
