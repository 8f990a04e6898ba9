"""Settings, read once from the environment / `.env` in bootstrap and passed down."""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, BaseModel, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _platform(name: str, default: str = "") -> Any:
    return Field(default=default, validation_alias=AliasChoices(name, f"CHATSHOP_{name}"))


class WeChatTemplate(BaseModel):
    """A template message the merchant set up in the Official Account console: its id and, per
    template field, which of our values fills it (title, number, total, status, time, text)."""

    id: str
    fields: dict[str, str]
    url: str = ""


class Settings(BaseSettings):
    """Every setting is documented in the README's configuration table."""

    model_config = SettingsConfigDict(
        env_file=".env", env_prefix="CHATSHOP_", extra="ignore", populate_by_name=True
    )

    database_url: str = "sqlite:///chatshop-data/chatshop.db"
    data_dir: str = "chatshop-data"
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = ""
    nlu: Literal["embedded", "rasa"] = "embedded"
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_timeout_s: float = 0.5
    support_contact: str = ""
    currency: str = "CNY"
    default_language: str = "zh"
    payment_timeout_minutes: int = 30
    sandbox_secret: str = Field(default="", description="HMAC key; generated per data dir if empty")
    # The sandbox marks orders paid with no money: None means "only in `chatshop demo`, only
    # where no real way to pay exists"; True offers it everywhere (a merchant's explicit ask).
    sandbox_payments: bool | None = None
    # Signs web chat session cookies; generated once per data dir when empty.
    secret_key: str = ""
    # Web chat API limits ("N/second|minute|hour", ";"-separated for several); the buckets
    # live in memory (per process) or in Redis (redis://host:6379, shared by every worker).
    rate_limit_storage: str = "memory://"
    rate_limit_ip: str = "600/minute"
    rate_limit_messages: str = "20/minute"
    rate_limit_polls: str = "120/minute"
    rate_limit_new_sessions: str = "30/minute"
    dispatch_interval_s: float = 1.0
    log_level: str = "INFO"
    api_docs: bool = False  # serve /openapi.json and /docs (for developers; off in production)

    # Platform settings keep the platforms' own names (TELEGRAM_*), as merchants know them.
    telegram_bot_token: str = _platform("TELEGRAM_BOT_TOKEN")
    telegram_api_base_url: str = _platform("TELEGRAM_API_BASE_URL", "https://api.telegram.org")
    telegram_webhook_url: str = _platform("TELEGRAM_WEBHOOK_URL")
    telegram_webhook_secret: str = _platform("TELEGRAM_WEBHOOK_SECRET")
    telegram_payment_provider_token: str = _platform("TELEGRAM_PAYMENT_PROVIDER_TOKEN")
    telegram_messages_per_s: float = Field(
        default=30.0,
        gt=0,
        validation_alias=AliasChoices(
            "TELEGRAM_MESSAGES_PER_S", "CHATSHOP_TELEGRAM_MESSAGES_PER_S"
        ),
    )

    wechat_app_id: str = _platform("WECHAT_APP_ID")
    wechat_app_secret: str = _platform("WECHAT_APP_SECRET")
    wechat_token: str = _platform("WECHAT_TOKEN")
    wechat_aes_key: str = _platform("WECHAT_AES_KEY")
    wechat_api_base_url: str = _platform("WECHAT_API_BASE_URL", "https://api.weixin.qq.com")
    # Pushes outside WeChat's 48-hour window go out as these, by push kind (order_paid, ...).
    wechat_templates: dict[str, WeChatTemplate] = Field(
        default_factory=dict,
        validation_alias=AliasChoices("WECHAT_TEMPLATES", "CHATSHOP_WECHAT_TEMPLATES"),
    )
    wechat_reply_budget_s: float = Field(
        default=3.0,
        gt=0,
        lt=4.5,
        validation_alias=AliasChoices("WECHAT_REPLY_BUDGET_S", "CHATSHOP_WECHAT_REPLY_BUDGET_S"),
    )
    wechat_pay_mch_id: str = _platform("WECHAT_PAY_MCH_ID")
    wechat_pay_api_key: str = _platform("WECHAT_PAY_API_KEY")
    wechat_pay_api_base_url: str = _platform(
        "WECHAT_PAY_API_BASE_URL", "https://api.mch.weixin.qq.com"
    )
    wechat_pay_cert_path: str = _platform("WECHAT_PAY_CERT_PATH")
    wechat_pay_key_path: str = _platform("WECHAT_PAY_KEY_PATH")
    wechat_pay_sign_type: Literal["MD5", "HMAC-SHA256"] = Field(
        default="HMAC-SHA256",
        validation_alias=AliasChoices("WECHAT_PAY_SIGN_TYPE", "CHATSHOP_WECHAT_PAY_SIGN_TYPE"),
    )

    @model_validator(mode="after")
    def _wechat_complete(self) -> Settings:
        if self.wechat_app_id and not (self.wechat_app_secret and self.wechat_token):
            raise ValueError(
                "WECHAT_APP_ID is set, so WECHAT_APP_SECRET and WECHAT_TOKEN must be too"
            )
        if self.wechat_aes_key and len(self.wechat_aes_key) != 43:
            raise ValueError(
                "WECHAT_AES_KEY (EncodingAESKey) must be the 43 characters WeChat shows"
            )
        if self.wechat_pay_mch_id and not (self.wechat_app_id and self.wechat_pay_api_key):
            raise ValueError(
                "WECHAT_PAY_MCH_ID is set, so WECHAT_PAY_API_KEY and WECHAT_APP_ID must be too"
            )
        return self

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> Settings:
        if self.telegram_webhook_url and not re.fullmatch(
            r"[A-Za-z0-9_-]{16,256}", self.telegram_webhook_secret
        ):
            raise ValueError(
                "TELEGRAM_WEBHOOK_URL is set, so TELEGRAM_WEBHOOK_SECRET must be 16-256 "
                "characters of A-Z, a-z, 0-9, _ and - (Telegram sends it with every update)"
            )
        return self

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def local_only(self) -> bool:
        """Reachable from this machine only: listening on loopback, with a loopback public URL."""
        return _loopback(self.host) and _loopback(urlsplit(self.base_url).hostname or "")

    @property
    def media_dir(self) -> str:
        return f"{self.data_dir}/media"


def _loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
