"""Settings: the environment variable contract, defaults, overrides and one-line errors.

Every test runs in an empty temporary directory with the bot's variables removed
from the environment, so neither a developer's ``.env`` nor their shell leaks in.
The ``python -m bot`` tests check what an operator sees: a bad setting or a database
that cannot be opened stops every command with one line on stderr, never a traceback.
"""

from __future__ import annotations

import importlib.util
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.content_loader import DEFAULT_CONTENT_DIR
from bot.domain.decision import Env
from bot.service import REPLY_LEASE
from bot.settings import _ENV_NAMES, Settings, SettingsError, load_settings

ENV_NAMES = (
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_API_URL",
    "DATABASE_URL",
    "KNOTBOT_TIME_SCALE",
    "KNOTBOT_LOG_LEVEL",
    "KNOTBOT_CONTENT_DIR",
    "KNOTBOT_DISPATCH_POLL_SECONDS",
    "KNOTBOT_DATA_DIR",
    "KNOTBOT_LISTEN_PORT",
)
TOKEN = "123456:AAE-very-secret-token"


def _ours(name: str) -> bool:
    upper = name.upper()
    return upper in ENV_NAMES or upper.startswith("KNOTBOT_")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in [n for n in os.environ if _ours(n)]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_defaults() -> None:
    s = load_settings()
    assert s.telegram_bot_token is None
    assert s.telegram_api_url == "https://api.telegram.org/bot"
    assert s.database_url == "sqlite+aiosqlite:///knotbot.db"
    assert s.time_scale == 1
    assert s.log_level == "INFO"
    assert s.content_dir == DEFAULT_CONTENT_DIR
    # the two defaults with one home each, imported wherever they are needed
    assert s.lease_seconds == 90.0 == REPLY_LEASE.total_seconds()
    assert s.retention_days == 180 == Env.retention_days


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
        ("DATABASE_URL", "foo+bar://x"),
        ("DATABASE_URL", "sqlite+pysqlite:///x.db"),
        ("DATABASE_URL", "sqlite+aiosqlite:///no/such/folder/x.db"),
        ("DATABASE_URL", "postgresql+asyncpg://u:p@db:port/knotbot"),
        ("TELEGRAM_API_URL", "notaurl"),
        ("TELEGRAM_API_URL", "ftp://example.org/bot"),
        ("TELEGRAM_API_URL", "http://127.0.0.1:8081"),  # the token would be glued to the port
        ("TELEGRAM_BOT_TOKEN", "not a token"),
        ("KNOTBOT_LOG_LEVEL", "LOUD"),
        ("KNOTBOT_DISPATCH_POLL_SECONDS", "0"),
        ("KNOTBOT_CONTENT_DIR", "no-such-folder"),
        ("KNOTBOT_DATA_DIR", "a-file/data"),
        ("KNOTBOT_LISTEN_PORT", "99999"),
    ],
)
def test_invalid_values_raise_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, value: str
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    message = str(info.value)
    assert "\n" not in message
    assert name in message
    assert "Value error" not in message  # pydantic's prefix is dropped
    # the variable is named, not some other one
    others = [n for n in ENV_NAMES if n != name and n not in name]
    assert not any(other in message for other in others)


def test_async_driver_error_says_how_to_fix_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "sqlite:///x.db")
    with pytest.raises(SettingsError, match="aiosqlite"):
        load_settings()


def test_a_missing_sqlite_folder_is_named_and_not_created(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DATABASE_URL", "sqlite+aiosqlite:///missing/bot.db")
    with pytest.raises(SettingsError, match=r"folder .*missing does not exist"):
        load_settings()
    assert not (tmp_path / "missing").exists()


def test_an_uninstalled_driver_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    if importlib.util.find_spec("aiomysql") is not None:
        pytest.skip("aiomysql is installed here")
    monkeypatch.setenv("DATABASE_URL", "mysql+aiomysql://u:p@db/knotbot")
    with pytest.raises(SettingsError, match=r"not installed.*aiomysql"):
        load_settings()


def test_a_bad_token_is_not_repeated_in_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456:has spaces-SECRET")
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert "SECRET" not in str(info.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_URL", "sqlite+aiosqlite://"),
        ("DATABASE_URL", "sqlite+aiosqlite:///:memory:"),
        ("DATABASE_URL", "sqlite+aiosqlite:///sub/bot.db"),
        ("DATABASE_URL", "postgresql+asyncpg://u:p@unreachable.invalid:5432/knotbot"),  # not connected to
        ("TELEGRAM_API_URL", "https://api.telegram.org/bot{token}/test"),  # PTB's placeholder form
        ("TELEGRAM_API_URL", "http://127.0.0.1:8081/bot"),
        ("KNOTBOT_DATA_DIR", "not/yet/made"),  # created on first use
    ],
)
def test_valid_values_are_accepted_as_given(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, value: str
) -> None:
    (tmp_path / "sub").mkdir()
    monkeypatch.setenv(name, value)
    dumped = {k: str(v) for k, v in load_settings().model_dump().items()}
    assert value in dumped.values()
    assert not (tmp_path / "not").exists()  # validating creates nothing


def test_a_pasted_token_is_stripped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", f"  {TOKEN}\n")
    token = load_settings().telegram_bot_token
    assert token is not None
    assert token.get_secret_value() == TOKEN


def test_settings_class_reads_the_contract_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KNOTBOT_TIME_SCALE", "3")
    assert Settings().time_scale == 3


def test_errors_name_every_field_by_its_variable() -> None:
    # load_settings names a bad field by the first of its AliasChoices: every field has one
    assert set(_ENV_NAMES) == set(Settings.model_fields)
    assert _ENV_NAMES["retention_days"] == "KNOTBOT_RETENTION_DAYS"
    assert all(re.fullmatch(r"(TELEGRAM|DATABASE|KNOTBOT)_[A-Z_]+", name) for name in _ENV_NAMES.values())


def _run_bot(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not _ours(k)}
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


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("knotbot: ")
    return lines[0]


WEBHOOK_ENV = {
    "TELEGRAM_BOT_TOKEN": TOKEN,
    "TELEGRAM_API_URL": "http://127.0.0.1:9/bot",  # never called: start-up stops before Telegram
    "KNOTBOT_WEBHOOK_URL": "https://bot.example.com/hook",
    "KNOTBOT_WEBHOOK_SECRET": "s3cret-long-enough-16",
}


@pytest.mark.parametrize(
    ("args", "name", "value", "names"),
    [
        ((), "KNOTBOT_TIME_SCALE", "abc", ()),
        ((), "KNOTBOT_TIME_SCALE", "-1", ()),
        ((), "DATABASE_URL", "sqlite:///x.db", ()),
        (("db", "upgrade"), "DATABASE_URL", "foo+bar://x", ("foo+bar",)),
        (("db", "upgrade"), "DATABASE_URL", "sqlite+aiosqlite:///missing/bot.db", ("missing",)),
        (("run",), "TELEGRAM_API_URL", "notaurl", ("http",)),
        (("run",), "TELEGRAM_BOT_TOKEN", "not-a-token", ()),
        (("chat",), "KNOTBOT_LOG_LEVEL", "LOUD", ()),
        (("chat",), "KNOTBOT_DATA_DIR", "a-file/data", ("a-file",)),
        (("webhook",), "KNOTBOT_LISTEN_PORT", "99999", ()),
        (("webhook",), "KNOTBOT_WEBHOOK_SECRET", "short-secret", ("at least 16",)),
        (("webhook",), "KNOTBOT_WEBHOOK_SECRET", "x" * 15, ("at least 16",)),
        (("content", "check"), "KNOTBOT_CONTENT_DIR", "no-such-folder", ("no-such-folder",)),
    ],
)
def test_python_m_bot_with_a_bad_setting_exits_2_with_one_line(
    tmp_path: Path, args: tuple[str, ...], name: str, value: str, names: tuple[str, ...]
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    env = {**WEBHOOK_ENV, name: value} if args == ("webhook",) else {name: value}
    if args == ("run",) and name != "TELEGRAM_BOT_TOKEN":
        env["TELEGRAM_BOT_TOKEN"] = TOKEN
    result = _run_bot(tmp_path, *args, **env)
    assert result.returncode == 2, result.stderr
    line = _one_error_line(result)
    assert f"invalid setting {name}: " in line
    for text in names:
        assert text in line
    if name in ("TELEGRAM_BOT_TOKEN", "KNOTBOT_WEBHOOK_SECRET"):
        assert value not in result.stderr  # a secret, even a malformed one, is never printed
    assert result.stdout == ""
    assert not (tmp_path / "knotbot.db").exists()
    assert not (tmp_path / "missing").exists()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens there now: connecting is refused


@pytest.mark.parametrize(
    ("args", "extra"),
    [
        (("db", "upgrade"), {}),
        (("chat",), {}),
        (("run",), {}),  # no token: the terminal chat
        (("run",), {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": "http://127.0.0.1:9/bot"}),
        (("webhook",), WEBHOOK_ENV),
    ],
)
def test_an_unreachable_database_stops_every_command_with_one_line(
    tmp_path: Path, args: tuple[str, ...], extra: dict[str, str]
) -> None:
    url = f"postgresql+asyncpg://knotbot:hunter2-pw@127.0.0.1:{_closed_port()}/knotbot"
    result = _run_bot(tmp_path, *args, DATABASE_URL=url, **extra)
    assert result.returncode == 1, result.stderr
    line = _one_error_line(result)
    masked = url.replace("hunter2-pw", "***")
    assert line == f"knotbot: cannot reach the database at {masked} (connection refused)"
    assert "hunter2" not in result.stderr + result.stdout
    assert result.stdout == ""


def test_a_sqlite_path_that_cannot_be_opened_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "a-folder").mkdir()
    result = _run_bot(tmp_path, "db", "upgrade", DATABASE_URL="sqlite+aiosqlite:///a-folder")
    assert result.returncode == 1, result.stderr
    line = _one_error_line(result)
    assert line.startswith("knotbot: cannot open the database at sqlite+aiosqlite:///a-folder (")
