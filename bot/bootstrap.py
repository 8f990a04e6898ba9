"""Builds the real adapters from Settings, once, and hands them down. Nothing is built at
import time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.channels.web import WebChannel
from bot.config import Settings
from bot.gateway import Gateway
from bot.secret_files import read_or_create_secret
from dialogs.engine import DialogEngine
from nlu.embedded import EmbeddedInterpreter
from nlu.rasa import RasaInterpreter
from nlu.types import Interpreter
from scheduler.dispatcher import Channel
from store import catalog
from store.db import make_engine, make_session_factory
from store.models import ChannelIdentity
from store.payments import PaymentProvider, SandboxProvider
from store.search import SearchIndex
from store.shop import Shop
from store.uow import UnitOfWork
from store.wechat_pay import WeChatPayProvider


@dataclass
class App:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    interpreter: EmbeddedInterpreter  # the Rasa backend, when configured, falls back to this
    search_index: SearchIndex
    sandbox: SandboxProvider
    gateway: Gateway
    channels: dict[str, Channel]
    wechat_pay: WeChatPayProvider | None = None  # Native: the QR code sent in the chat
    wechat_jsapi: WeChatPayProvider | None = None  # JSAPI: the pay link's page inside WeChat

    @property
    def wechat_payments(self) -> dict[str, WeChatPayProvider]:
        """The WeChat Pay providers by name (QR code and in-WeChat checkout), if configured."""
        found = (self.wechat_pay, self.wechat_jsapi)
        return {p.name: p for p in found if p is not None}

    def refresh_catalog(self) -> None:
        """Rebuild the search index and NLU vocabulary if the catalog changed (any process)."""
        with UnitOfWork(self.sessions) as uow:
            self.search_index.ensure_current(uow.session)


def catalog_vocabulary(session: Session) -> tuple[list[tuple[str, str]], list[str], list[str]]:
    """Categories, brands and product names NLU should recognize."""
    cats = [(c.en, c.zh) for c in catalog.categories(session)]
    return cats, catalog.brands(session), catalog.product_names(session)


def sandbox_secret(settings: Settings) -> bytes:
    """The configured key, or one generated once per data dir so links survive restarts."""
    if settings.sandbox_secret:
        return settings.sandbox_secret.encode()
    path = Path(settings.data_dir) / "sandbox.key"
    return read_or_create_secret(path, public_dir=Path(settings.media_dir))


def bootstrap(settings: Settings, interpreter: EmbeddedInterpreter | None = None) -> App:
    engine = make_engine(settings.database_url)
    sessions = make_session_factory(engine)
    interpreter = interpreter or EmbeddedInterpreter.load_or_train(
        Path(settings.data_dir) / "nlu-cache", settings.default_language
    )
    parser: Interpreter = interpreter
    if settings.nlu == "rasa":
        parser = RasaInterpreter(
            settings.rasa_url, fallback=interpreter, timeout_s=settings.rasa_timeout_s
        )
    index = SearchIndex(
        on_rebuild=lambda session: interpreter.entities.set_catalog(*catalog_vocabulary(session))
    )
    sandbox = SandboxProvider(sandbox_secret(settings), settings.base_url)
    wechat_pay = make_wechat_pay(settings, "wechatpay")
    wechat_jsapi = make_wechat_pay(settings, "wechatpay_jsapi")
    timeout = timedelta(minutes=settings.payment_timeout_minutes)

    def shop_for(session: Session, identity: ChannelIdentity, now):
        provider: PaymentProvider = sandbox
        if identity.channel == "wechat" and wechat_jsapi is not None:
            provider = wechat_jsapi  # the link opens a checkout inside WeChat
        return Shop(session, identity.customer_id, identity.id, now, index, provider, timeout)

    dialog = DialogEngine(parser, settings.default_language, settings.support_contact)
    queued = frozenset(
        name
        for name, configured in (
            ("telegram", settings.telegram_bot_token),
            ("wechat", settings.wechat_app_id),
        )
        if configured
    )
    gateway = Gateway(sessions, dialog, shop_for, queued_channels=queued)
    channels: dict[str, Channel] = {"web": WebChannel()}
    return App(
        settings,
        engine,
        sessions,
        interpreter,
        index,
        sandbox,
        gateway,
        channels,
        wechat_pay,
        wechat_jsapi,
    )


def make_wechat_pay(settings: Settings, name: str) -> WeChatPayProvider | None:
    if not settings.wechat_pay_mch_id:
        return None
    return WeChatPayProvider(
        settings.wechat_app_id,
        settings.wechat_pay_mch_id,
        settings.wechat_pay_api_key,
        settings.wechat_pay_api_base_url,
        notify_url=f"{settings.base_url}/pay/notify/{name}",
        pay_page_base=settings.base_url,
        sign_type=settings.wechat_pay_sign_type,
        mch_cert=settings.wechat_pay_cert_path or None,
        mch_key=settings.wechat_pay_key_path or None,
        name=name,
    )
