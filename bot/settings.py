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

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("telegram_bot_token", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

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
