"""Settings: the environment variable contract, defaults, overrides and one-line errors.

Every test runs in an empty temporary directory with the bot's variables removed
from the environment, so neither a developer's ``.env`` nor their shell leaks in.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.content_loader import DEFAULT_CONTENT_DIR
from bot.settings import Settings, SettingsError, load_settings

ENV_NAMES = (
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_API_URL",
    "DATABASE_URL",
    "KNOTBOT_TIME_SCALE",
    "KNOTBOT_LOG_LEVEL",
    "KNOTBOT_CONTENT_DIR",
    "KNOTBOT_DISPATCH_POLL_SECONDS",
)
TOKEN = "123456:AAE-very-secret-token"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.chdir(tmp_path)


def test_defaults() -> None:
    s = load_settings()
    assert s.telegram_bot_token is None
    assert s.telegram_api_url == "https://api.telegram.org/bot"
    assert s.database_url == "sqlite+aiosqlite:///knotbot.db"
    assert s.time_scale == 1
    assert s.log_level == "INFO"
    assert s.content_dir == DEFAULT_CONTENT_DIR


def test_env_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("TELEGRAM_API_URL", "http://127.0.0.1:8081/bot")
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://u:p@db/knotbot")
    monkeypatch.setenv("KNOTBOT_TIME_SCALE", "0.01")
    monkeypatch.setenv("KNOTBOT_LOG_LEVEL", "debug")
    monkeypatch.setenv("KNOTBOT_CONTENT_DIR", str(tmp_path))
    s = load_settings()
    assert s.telegram_bot_token is not None
    assert s.telegram_bot_token.get_secret_value() == TOKEN
    assert s.telegram_api_url == "http://127.0.0.1:8081/bot"
    assert s.database_url == "postgresql+asyncpg://u:p@db/knotbot"
    assert s.time_scale == pytest.approx(0.01)
    assert s.log_level == "DEBUG"
    assert s.content_dir == tmp_path


def test_dotenv_in_the_working_directory_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("KNOTBOT_TIME_SCALE=0.5\nDATABASE_URL=sqlite+aiosqlite:///other.db\n")
    s = load_settings()
    assert s.time_scale == 0.5
    assert s.database_url == "sqlite+aiosqlite:///other.db"


def test_environment_wins_over_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("KNOTBOT_TIME_SCALE=0.5\n")
    monkeypatch.setenv("KNOTBOT_TIME_SCALE", "2")
    assert load_settings().time_scale == 2


def test_scaled_multiplies_by_the_time_scale(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KNOTBOT_TIME_SCALE", "0.01")
    assert load_settings().scaled(86400) == pytest.approx(864)


def test_token_is_a_secret_and_never_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    s = load_settings()
    assert isinstance(s.telegram_bot_token, SecretStr)
    assert TOKEN not in repr(s)
    assert TOKEN not in str(s)
    assert TOKEN not in repr(s.telegram_bot_token)
    assert TOKEN not in str(s.model_dump())


def test_blank_token_means_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "   ")
    assert load_settings().telegram_bot_token is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("KNOTBOT_TIME_SCALE", "abc"),
        ("KNOTBOT_TIME_SCALE", "-1"),
        ("KNOTBOT_TIME_SCALE", "0"),
        ("DATABASE_URL", "sqlite:///x.db"),
        ("DATABASE_URL", "postgresql://u:p@db/knotbot"),
        ("DATABASE_URL", "knotbot.db"),
        ("KNOTBOT_LOG_LEVEL", "LOUD"),
        ("KNOTBOT_DISPATCH_POLL_SECONDS", "0"),
    ],
)
def test_invalid_values_raise_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    message = str(info.value)
    assert "\n" not in message
    assert name in message
    # the variable is named, not some other one
    others = [n for n in ENV_NAMES if n != name and n not in name]
    assert not any(other in message for other in others)


def test_async_driver_error_says_how_to_fix_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "sqlite:///x.db")
    with pytest.raises(SettingsError, match="aiosqlite"):
        load_settings()


def test_settings_class_reads_the_contract_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KNOTBOT_TIME_SCALE", "3")
    assert Settings().time_scale == 3


def _run_bot(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ENV_NAMES}
    clean.update(env)
    clean["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [("KNOTBOT_TIME_SCALE", "abc"), ("KNOTBOT_TIME_SCALE", "-1"), ("DATABASE_URL", "sqlite:///x.db")],
)
def test_python_m_bot_with_a_bad_setting_exits_2_with_one_line(tmp_path: Path, name: str, value: str) -> None:
    result = _run_bot(tmp_path, **{name: value})
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert name in lines[0]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert not (tmp_path / "knotbot.db").exists()
