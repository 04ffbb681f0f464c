"""The fixtures of the in-process end-to-end tests, a pytest plugin (registered in tests/conftest.py).

``api`` is a fresh fake Telegram Bot API server on 127.0.0.1 (tests/fakebotapi.py) and
``make_settings`` builds the bot's ``Settings`` against it: the fake server's URL, time scaled
down by ``TIME_SCALE``, fast dispatcher polling, no flood limit and a large per-chat burst, and
the database of ``e2e_database_url`` (tests/runtime_fixtures.py), so every test that uses
``make_settings`` runs on SQLite and on PostgreSQL. A module may define its own fixture of the
same name (tests/test_webhook.py does); pytest then uses that one in that module.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from bot.settings import Settings
from tests.fakebotapi import FakeBotAPI

TIME_SCALE = 0.01


@pytest.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as fake:
        yield fake


@pytest.fixture
def make_settings(api: FakeBotAPI, e2e_database_url: str) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "telegram_bot_token": "123456:TEST-TOKEN-not-real",
            "telegram_api_url": api.base_url,
            "database_url": e2e_database_url,
            "time_scale": TIME_SCALE,
            "dispatch_poll_seconds": 0.5,
            "flood_limit": 0,  # simulated people poke far faster than people do (tests/test_flood.py)
            # simulated people tap much faster than real ones; the per-chat 1/s pacing is
            # exercised in tests/test_ratelimit.py and would only slow these conversations down
            "chat_burst": 200,
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return make
