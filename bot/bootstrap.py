"""Builds the real adapters from Settings, once, and hands them down. Nothing is built at
import time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.channels.web import WebChannel
from bot.channels.web_session import WebSessions
from bot.config import Settings
from bot.gateway import Gateway
from bot.ratelimit import RateLimits
from bot.secret_files import read_or_create_secret
from dialogs.engine import DialogEngine
from nlu.embedded import EmbeddedInterpreter
from nlu.rasa import RasaInterpreter
from nlu.types import Interpreter
from scheduler.dispatcher import Channel
from store import catalog
from store.db import make_engine, make_session_factory
from store.models import ChannelIdentity
from store.pay_methods import PaymentSetup, SandboxMode
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
    payments: PaymentSetup
    gateway: Gateway
    channels: dict[str, Channel]
    wechat_pay: WeChatPayProvider | None = None  # Native: the QR code sent in the chat
    wechat_jsapi: WeChatPayProvider | None = None  # JSAPI: the pay link's page inside WeChat

    @property
    def sandbox(self) -> SandboxProvider | None:
        """The test-payment provider, None in a real shop (see SandboxMode)."""
        return self.payments.sandbox

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
    return _key(settings.sandbox_secret, settings, "sandbox.key")


def session_secret(settings: Settings) -> bytes:
    return _key(settings.secret_key, settings, "secret.key")


def _key(configured: str, settings: Settings, name: str) -> bytes:
    """The configured key, or one generated once per data dir (0600, never where the media
    folder would publish it) so it survives restarts."""
    if configured:
        return configured.encode()
    path = Path(settings.data_dir) / name
    return read_or_create_secret(path, public_dir=Path(settings.media_dir))


def sandbox_mode(settings: Settings, demo: bool = False) -> SandboxMode:
    """Test payments: on when the merchant says so, in the demo only where nothing real is."""
    if settings.sandbox_payments:
        return SandboxMode.ON
    if settings.sandbox_payments is None and demo:
        return SandboxMode.FALLBACK
    return SandboxMode.OFF


def payment_setup(
    settings: Settings, demo: bool = False, jsapi: WeChatPayProvider | None = None
) -> PaymentSetup:
    """Every way to pay the shop offers, by channel (the in-WeChat page is `jsapi`)."""
    mode = sandbox_mode(settings, demo)
    sandbox = None
    if mode != SandboxMode.OFF:
        sandbox = SandboxProvider(sandbox_secret(settings), settings.base_url)
    native = {
        "telegram": bool(settings.telegram_bot_token and settings.telegram_payment_provider_token),
        "wechat": bool(settings.wechat_pay_mch_id),  # the Native QR code sent in the chat
    }
    links: dict[str, PaymentProvider] = {"wechat": jsapi} if jsapi else {}
    channels = frozenset(name for name, on in native.items() if on)
    return PaymentSetup(sandbox, mode, links, channels)


NO_REAL_PROVIDER = (
    "No way to take payment is configured, so customers could order but never pay. Configure "
    "at least one payment provider: Telegram Payments (TELEGRAM_BOT_TOKEN and "
    "TELEGRAM_PAYMENT_PROVIDER_TOKEN) or WeChat Pay (WECHAT_PAY_MCH_ID and WECHAT_PAY_API_KEY). "
    "To try the shop without real money, run `chatshop demo` on this machine, or set "
    "CHATSHOP_SANDBOX_PAYMENTS=true."
)
PUBLIC_SANDBOX = (
    "`chatshop demo` takes test payments that mark orders paid with no money moving, so it only "
    "runs on this machine, and this server would be reachable from elsewhere ({url}). Set "
    "CHATSHOP_SANDBOX_PAYMENTS=true to run test payments there anyway, or "
    "CHATSHOP_SANDBOX_PAYMENTS=false with a real payment provider."
)
SANDBOX_WARNING = (
    "TEST PAYMENTS ARE ON: anyone can mark an order paid without paying, on {channels}. "
    "Never run a real shop like this (see CHATSHOP_SANDBOX_PAYMENTS in the README)."
)


def payment_problem(settings: Settings, demo: bool = False) -> str | None:
    """Why this shop must not start as configured, or None: a real shop needs a real way to
    pay, and the demo's test payments stay on this machine unless the merchant says so."""
    mode = sandbox_mode(settings, demo)
    if mode == SandboxMode.FALLBACK and not settings.local_only:
        return PUBLIC_SANDBOX.format(url=settings.base_url)
    if mode == SandboxMode.OFF and not payment_setup(settings).real:
        return NO_REAL_PROVIDER
    return None


def sandbox_warning(app: App) -> str | None:
    """The warning to print at start when test payments are on, naming where."""
    if app.sandbox is None:
        return None
    on = {
        "web": True,
        "telegram": bool(app.settings.telegram_bot_token),
        "wechat": bool(app.settings.wechat_app_id),
    }
    offered = [c for c, up in on.items() if up and app.payments.for_channel(c).link is app.sandbox]
    return SANDBOX_WARNING.format(channels=", ".join(offered))


def bootstrap(
    settings: Settings, interpreter: EmbeddedInterpreter | None = None, demo: bool = False
) -> App:
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
    wechat_pay = make_wechat_pay(settings, "wechatpay")
    wechat_jsapi = make_wechat_pay(settings, "wechatpay_jsapi")
    pay = payment_setup(settings, demo, wechat_jsapi)
    timeout = timedelta(minutes=settings.payment_timeout_minutes)

    def shop_for(session: Session, identity: ChannelIdentity, now):
        methods = pay.for_channel(identity.channel)
        return Shop(session, identity.customer_id, identity.id, now, index, methods, timeout)

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
    channels: dict[str, Channel] = {"web": web_channel(settings)}
    return App(
        settings,
        engine,
        sessions,
        interpreter,
        index,
        pay,
        gateway,
        channels,
        wechat_pay,
        wechat_jsapi,
    )


def web_channel(settings: Settings) -> WebChannel:
    limits = {
        "requests": settings.rate_limit_ip,
        "messages": settings.rate_limit_messages,
        "polls": settings.rate_limit_polls,
        "sessions": settings.rate_limit_new_sessions,
    }
    secure = settings.base_url.startswith("https://")
    return WebChannel(
        WebSessions(session_secret(settings), secure),
        RateLimits(settings.rate_limit_storage, limits),
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
