"""Settings, read once from the environment / `.env` in bootstrap and passed down."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting is documented in the README's configuration table."""

    model_config = SettingsConfigDict(env_file=".env", env_prefix="CHATSHOP_", extra="ignore")

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
    dispatch_interval_s: float = 1.0
    log_level: str = "INFO"

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def media_dir(self) -> str:
        return f"{self.data_dir}/media"
