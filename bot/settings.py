"""Configuration from the environment and ``.env``, validated once at start-up.

The variable names are a contract documented in ``.env.example`` and the README.
There are no default secrets: without ``TELEGRAM_BOT_TOKEN`` the bot chats in
the terminal instead of polling Telegram.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.content_loader import DEFAULT_CONTENT_DIR


class Settings(BaseSettings):
    """Every setting the bot reads. Field aliases are the environment variable names."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    telegram_bot_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("TELEGRAM_BOT_TOKEN", "telegram_bot_token")
    )
    telegram_api_url: str = Field(
        default="https://api.telegram.org/bot",
        validation_alias=AliasChoices("TELEGRAM_API_URL", "telegram_api_url"),
    )
    database_url: str = Field(
        default="sqlite+aiosqlite:///knotbot.db",
        validation_alias=AliasChoices("DATABASE_URL", "database_url"),
    )
    time_scale: float = Field(
        default=1.0, gt=0, le=1000, validation_alias=AliasChoices("KNOTBOT_TIME_SCALE", "time_scale")
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", validation_alias=AliasChoices("KNOTBOT_LOG_LEVEL", "log_level")
    )
    content_dir: Path = Field(
        default=DEFAULT_CONTENT_DIR, validation_alias=AliasChoices("KNOTBOT_CONTENT_DIR", "content_dir")
    )
    data_dir: Path = Field(
        default=Path("data"), validation_alias=AliasChoices("KNOTBOT_DATA_DIR", "data_dir")
    )
    dispatch_poll_seconds: float = Field(
        default=5.0,
        gt=0,
        le=3600,
        validation_alias=AliasChoices("KNOTBOT_DISPATCH_POLL_SECONDS", "dispatch_poll_seconds"),
    )
    send_rate: float = Field(
        default=28.0, gt=0, le=1000, validation_alias=AliasChoices("KNOTBOT_SEND_RATE", "send_rate")
    )
    chat_burst: int = Field(
        default=4, ge=1, le=1000, validation_alias=AliasChoices("KNOTBOT_CHAT_BURST", "chat_burst")
    )
    lease_seconds: float = Field(
        default=90.0,
        ge=1,
        le=3600,
        validation_alias=AliasChoices("KNOTBOT_LEASE_SECONDS", "lease_seconds"),
    )
    # webhook mode (``knotbot webhook``): see docs/deploy.md
    webhook_url: str | None = Field(
        default=None, validation_alias=AliasChoices("KNOTBOT_WEBHOOK_URL", "webhook_url")
    )
    webhook_secret: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("KNOTBOT_WEBHOOK_SECRET", "webhook_secret")
    )
    webhook_drop_pending: bool = Field(
        default=False,
        validation_alias=AliasChoices("KNOTBOT_WEBHOOK_DROP_PENDING", "webhook_drop_pending"),
    )
    listen_host: str = Field(
        default="0.0.0.0", validation_alias=AliasChoices("KNOTBOT_LISTEN_HOST", "listen_host")
    )
    listen_port: int = Field(
        default=8080, ge=1, le=65535, validation_alias=AliasChoices("KNOTBOT_LISTEN_PORT", "listen_port")
    )
    # privacy and operating (issue 5): see docs/privacy.md and docs/reliability.md
    retention_days: int = Field(
        default=180, ge=1, le=3650, validation_alias=AliasChoices("KNOTBOT_RETENTION_DAYS", "retention_days")
    )
    admin_chat_id: int | None = Field(
        default=None, validation_alias=AliasChoices("KNOTBOT_ADMIN_CHAT_ID", "admin_chat_id")
    )
    metrics_port: int | None = Field(
        default=None, ge=0, le=65535, validation_alias=AliasChoices("KNOTBOT_METRICS_PORT", "metrics_port")
    )
    log_salt: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("KNOTBOT_LOG_SALT", "log_salt")
    )
    flood_limit: int = Field(
        default=20, ge=0, le=10_000, validation_alias=AliasChoices("KNOTBOT_FLOOD_LIMIT", "flood_limit")
    )

    @field_validator("admin_chat_id", "metrics_port", "log_salt", mode="before")
    @classmethod
    def _blank_is_off(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("telegram_bot_token", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("webhook_url", "webhook_secret", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        scheme, _, rest = value.partition("://")
        if scheme not in ("http", "https") or not rest.split("/", 1)[0]:
            raise ValueError(
                "must be the public URL Telegram calls, such as https://bot.example.com/telegram"
            )
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        secret = value.get_secret_value()
        if not 1 <= len(secret) <= 256 or not all(c.isascii() and (c.isalnum() or c in "_-") for c in secret):
            raise ValueError("must be 1-256 characters: letters, digits, _ and - (Telegram's rule)")
        return value

    @property
    def webhook_path(self) -> str:
        """The path of ``KNOTBOT_WEBHOOK_URL``: the route the webhook server answers on."""
        if self.webhook_url is None:
            return "/"
        rest = self.webhook_url.partition("://")[2]
        path = "/" + rest.split("/", 1)[1] if "/" in rest else "/"
        return path.split("?", 1)[0] or "/"

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if "://" not in value:
            raise ValueError("must be a SQLAlchemy URL such as sqlite+aiosqlite:///knotbot.db")
        scheme = value.split("://", 1)[0]
        if scheme in ("sqlite", "postgresql", "postgres"):
            raise ValueError(
                f"needs an async driver: use sqlite+aiosqlite:// or postgresql+asyncpg:// (got {scheme}://)"
            )
        return value

    def scaled(self, seconds: float) -> float:
        """A wait the bot schedules, multiplied by ``KNOTBOT_TIME_SCALE``."""
        return seconds * self.time_scale


class SettingsError(Exception):
    """Settings are invalid; the message is one line naming the variable."""


_ENV_NAMES = {
    "telegram_bot_token": "TELEGRAM_BOT_TOKEN",
    "telegram_api_url": "TELEGRAM_API_URL",
    "database_url": "DATABASE_URL",
    "time_scale": "KNOTBOT_TIME_SCALE",
    "log_level": "KNOTBOT_LOG_LEVEL",
    "content_dir": "KNOTBOT_CONTENT_DIR",
    "data_dir": "KNOTBOT_DATA_DIR",
    "dispatch_poll_seconds": "KNOTBOT_DISPATCH_POLL_SECONDS",
    "retention_days": "KNOTBOT_RETENTION_DAYS",
    "admin_chat_id": "KNOTBOT_ADMIN_CHAT_ID",
    "metrics_port": "KNOTBOT_METRICS_PORT",
    "log_salt": "KNOTBOT_LOG_SALT",
    "flood_limit": "KNOTBOT_FLOOD_LIMIT",
    "lease_seconds": "KNOTBOT_LEASE_SECONDS",
    "send_rate": "KNOTBOT_SEND_RATE",
    "chat_burst": "KNOTBOT_CHAT_BURST",
    "webhook_url": "KNOTBOT_WEBHOOK_URL",
    "webhook_secret": "KNOTBOT_WEBHOOK_SECRET",
    "webhook_drop_pending": "KNOTBOT_WEBHOOK_DROP_PENDING",
    "listen_host": "KNOTBOT_LISTEN_HOST",
    "listen_port": "KNOTBOT_LISTEN_PORT",
}


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning a validation error into one clear line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else "?"
        name = _ENV_NAMES.get(field, field)
        raise SettingsError(f"invalid setting {name}: {err['msg']}") from exc
