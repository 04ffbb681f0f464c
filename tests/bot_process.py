"""The real bot as a subprocess: ``python -m bot`` with an environment of its own, against the fake Bot API.

``BotProcess`` points the bot at a fake Bot API server in the test's process and at a SQLite
file in a working directory (time scaled down, a short dispatch lease), starts it with its
output in a log file per run, kills it with SIGKILL or stops it with SIGTERM, and reads the logs
back. The crash tests (tests/test_crash.py) kill and restart it; tests/test_faults.py runs
``knotbot`` commands with it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from tests.fakebotapi import FakeBotAPI


class BotProcess:
    """``python -m bot`` with its own environment; output goes to a log file."""

    def __init__(self, api: FakeBotAPI, workdir: Path, **env: str) -> None:
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "TELEGRAM_BOT_TOKEN": "123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
            "TELEGRAM_API_URL": api.base_url,
            "DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'bot.db'}",
            "KNOTBOT_TIME_SCALE": "0.1",
            "KNOTBOT_DISPATCH_POLL_SECONDS": "0.5",
            "KNOTBOT_LEASE_SECONDS": "1",
            **env,
        }
        self.workdir = workdir
        self.proc: asyncio.subprocess.Process | None = None
        self.runs = 0

    @property
    def database_url(self) -> str:
        return self.env["DATABASE_URL"]

    async def start(self) -> None:
        self.runs += 1
        log = open(self.workdir / f"bot-{self.runs}.log", "wb")  # noqa: SIM115, ASYNC230
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", env=self.env, cwd=self.workdir, stdout=log, stderr=log
        )
        log.close()

    async def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()
        self.proc = None

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 15)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        self.proc = None

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.workdir.glob("bot-*.log")))
