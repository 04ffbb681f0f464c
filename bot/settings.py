"""Configuration from the environment and ``.env``, validated once at start-up.

The variable names are a contract documented in ``.env.example`` and the README.
There are no default secrets: without ``TELEGRAM_BOT_TOKEN`` the bot chats in
the terminal instead of polling Telegram.
Validation checks what it can without connecting anywhere: ranges and shapes,
that ``DATABASE_URL`` names an installed async driver, and that the content
folder and a SQLite file's folder exist. :func:`load_settings` turns the first
problem into one :class:`SettingsError` line naming the variable.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from bot.content_loader import DEFAULT_CONTENT_DIR
from bot.domain import DEFAULT_RETENTION_DAYS

# KNOTBOT_LEASE_SECONDS' default, its one home: how long a process owns a reply row it claimed (dispatched
# rows: twice this, see bot.delivery.DISPATCH_LEASE_FACTOR); longer than the send limiter's worst wait
DEFAULT_LEASE_SECONDS = 90.0


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
    log_format: Literal["text", "json"] = Field(
        default="text", validation_alias=AliasChoices("KNOTBOT_LOG_FORMAT", "log_format")
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
        default=DEFAULT_LEASE_SECONDS,
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
    max_pending_per_kind: int = Field(
        default=10,
        ge=1,
        le=1000,
        validation_alias=AliasChoices("KNOTBOT_MAX_PENDING_PER_KIND", "max_pending_per_kind"),
    )
    # privacy and operating (issue 5): see docs/privacy.md and docs/reliability.md
    retention_days: int = Field(
        default=DEFAULT_RETENTION_DAYS,
        ge=1,
        le=3650,
        validation_alias=AliasChoices("KNOTBOT_RETENTION_DAYS", "retention_days"),
    )
    admin_chat_id: int | None = Field(
        default=None, validation_alias=AliasChoices("KNOTBOT_ADMIN_CHAT_ID", "admin_chat_id")
    )
    metrics_host: str = Field(
        default="127.0.0.1", validation_alias=AliasChoices("KNOTBOT_METRICS_HOST", "metrics_host")
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
        if isinstance(value, str):
            return value.strip() or None
        return value

    @field_validator("telegram_bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        # the message never repeats the value: it is a secret
        if value is not None and not _TOKEN_SHAPE.fullmatch(value.get_secret_value()):
            raise ValueError("does not look like a bot token from @BotFather (digits, a colon, then letters)")
        return value

    @field_validator("telegram_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        parts = urlsplit(value)
        has_placeholder = any(p in value for p in _TOKEN_PLACEHOLDERS)
        if parts.scheme not in ("http", "https") or not parts.hostname or not (parts.path or has_placeholder):
            raise ValueError(
                "must be an http(s) URL the bot token is appended to, such as https://api.telegram.org/bot"
            )
        return value

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
        if not all(c.isascii() and (c.isalnum() or c in "_-") for c in secret) or len(secret) > 256:
            raise ValueError("must be at most 256 characters: letters, digits, _ and - (Telegram's rule)")
        if len(secret) < MIN_WEBHOOK_SECRET:  # the message never repeats the value: it is a secret
            raise ValueError(
                f"is too short: use at least {MIN_WEBHOOK_SECRET} random characters (openssl rand -hex 32)"
            )
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
    def _database_url(cls, value: str) -> str:
        _check_database_url(value)
        return value

    @field_validator("content_dir")
    @classmethod
    def _content_dir(cls, value: Path) -> Path:
        if not value.is_dir():
            raise ValueError(f"no folder at {os.path.abspath(value)}")
        return value

    @field_validator("data_dir")
    @classmethod
    def _data_dir(cls, value: Path) -> Path:
        # created on first use, so it need not exist yet, but it must not be (inside) a file
        existing = next(p for p in (value, *value.parents) if p.exists())
        if not existing.is_dir():
            raise ValueError(f"{os.path.abspath(existing)} is a file, not a folder")
        return value

    def scaled(self, seconds: float) -> float:
        """A wait the bot schedules, multiplied by ``KNOTBOT_TIME_SCALE``."""
        return seconds * self.time_scale


# python-telegram-bot's spelling of "put the token here" in a base URL (else it appends the token)
_TOKEN_PLACEHOLDERS = tuple(
    f"{{{name}}}" for name in ("token", "TOKEN", "bot_token", "BOT_TOKEN", "bot-token", "BOT-TOKEN")
)
MIN_WEBHOOK_SECRET = 16  # anyone who has the webhook URL and guesses it can post updates as anybody
_TOKEN_SHAPE = re.compile(r"[0-9]+:[A-Za-z0-9_-]+")
_DATABASE_EXAMPLES = "sqlite+aiosqlite:///knotbot.db or postgresql+asyncpg://user:password@host/db"


def _check_database_url(value: str) -> None:
    """Raise ``ValueError`` unless SQLAlchemy can open ``value`` with an installed async driver.

    A SQLite file's folder must exist: SQLite creates the file but not the folders above it.
    Messages never repeat the password.
    """
    try:
        url = make_url(value)
    except (ArgumentError, ValueError):
        raise ValueError(f"must be a SQLAlchemy URL such as {_DATABASE_EXAMPLES}") from None
    scheme = url.drivername
    if scheme in ("sqlite", "postgresql", "postgres"):
        raise ValueError(
            f"needs an async driver: use sqlite+aiosqlite:// or postgresql+asyncpg:// (got {scheme}://)"
        )
    try:
        dialect = url.get_dialect(_is_async=True)
    except NoSuchModuleError:
        raise ValueError(f"unknown database or driver {scheme}://: use {_DATABASE_EXAMPLES}") from None
    if not dialect.is_async:
        raise ValueError(f"needs an async driver (got {scheme}://): use {_DATABASE_EXAMPLES}")
    try:
        dialect.import_dbapi()
    except ImportError as exc:
        raise ValueError(
            f"the driver for {scheme}:// is not installed (no module {exc.name or exc})"
        ) from None
    path = url.database or ":memory:"
    is_uri = url.query.get("uri") in ("true", "1")  # sqlite's file: URIs are passed through as they are
    if url.get_backend_name() == "sqlite" and path != ":memory:" and not is_uri:
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise ValueError(f"the folder {folder} does not exist: create it, or use another path")


class SettingsError(Exception):
    """Settings are invalid; the message is one line naming the variable."""


def _env_names() -> dict[str, str]:
    """Each field's environment variable: the first of its ``AliasChoices`` (named in errors)."""
    names: dict[str, str] = {}
    for name, info in Settings.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, AliasChoices) and isinstance(alias.choices[0], str):
            names[name] = alias.choices[0]
    return names


_ENV_NAMES = _env_names()


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning a validation error into one clear line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else "?"
        name = _ENV_NAMES.get(field, field)
        # our validators' messages read better without pydantic's "Value error, " prefix
        cause = (err.get("ctx") or {}).get("error")
        message = str(cause) if err["type"] == "value_error" and cause is not None else err["msg"]
        raise SettingsError(f"invalid setting {name}: {message}") from exc
