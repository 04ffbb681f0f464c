"""Benchmark (not a test): the bot's cost per update, beside a bare PTB echo bot, in one run.

N simulated people (``--people``, default 50) chat at once in a closed loop: each
sends its next update as soon as the bot's answer to the previous one has
arrived at the local fake Bot API (tests/fakebotapi.py). The people walk through
the real Knotbot conversation up to the hold, then stop it and begin again::

    /start -> Begin -> None of these -> "between my shoulder blades" (typed area)
    -> Found it -> Ball (recommended) -> Steady pressure -> 30 s -> /cancel -> /start ...

9 updates a round (4 messages, 5 button presses), so no hold timer is waited on.
A person's next update waits for the whole answer to the previous one (its last
message, the next question), not only its first message. ``--updates``
(default 1,000) is the total over all people, split evenly.

The same closed loop then runs against a bare PTB echo bot: a plain
``telegram.ext.Application`` with a MessageHandler that echoes the text and a
CallbackQueryHandler that answers the query and sends its data back (so each
update gets one message, like each Knotbot update gets at least one). The people
send it the same sequence (the same texts; a button press is a callback query on
the bot's latest message).

Both bots run in a subprocess of their own (this script with ``--serve``), long
polling the fake Bot API the way the tests do (``running_bot`` from
tests/e2e_helpers.py for Knotbot, ``run_polling`` from tests/fakebotapi.py
for the echo bot: ``poll_interval=0, timeout=1``); the fake API and the load
generator run in this process. Each bot gets a fresh FakeBotAPI instance (same
class and options) and one warm-up round by a separate person before the clock
starts. Telegram's caps are lifted in the bot so that the bot itself is measured:
``KNOTBOT_SEND_RATE=1000``, ``KNOTBOT_CHAT_BURST=1000``, ``KNOTBOT_FLOOD_LIMIT=0``
(the fake enforces no limit). ``KNOTBOT_TIME_SCALE=0.001``. Logging stays at
the bot's default level (INFO), written to a file.

Printed for each bot:

- updates/s: measured updates / wall time of the measured loop;
- reply p50 / p99: from queueing an update at the fake API to the first message
  (sendMessage/sendPhoto/...) the bot sent to that chat afterwards;
- CPU ms per update: the bot subprocess's user+system CPU time (from
  /proc/<pid>/stat) over the measured loop / measured updates. This includes the
  bot's background work in that window (Knotbot's dispatcher); it excludes the
  fake API and the load generator, whose CPU (this process) is printed apart;
- msgs/update: messages the bot sent (sendMessage, sendPhoto, ...) per update;

and the ratio Knotbot / bare PTB for CPU per update.

    .venv/bin/python benchmarks/bench_conversation.py                      # 50 people, 1,000 updates, SQLite
    .venv/bin/python benchmarks/bench_conversation.py --people 20 --updates 400 --db postgres

``--db sqlite`` (default) uses a new SQLite file in a temporary directory, which
the bot migrates itself at start-up, as in the tests. ``--db postgres`` creates a
new database on ``KNOTBOT_TEST_POSTGRES_URL`` (default
postgresql+asyncpg://127.0.0.1:5432/test), migrates it (``upgrade``, as
tests/runtime_fixtures.py does) and drops it afterwards. Linux only (/proc).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve()
REPO = SCRIPT.parent.parent
sys.path.insert(0, str(REPO))

from tests.fakebotapi import FakeBotAPI, FakeUser  # noqa: E402

TOKEN = "123456:BENCH-TOKEN-not-real"
TIME_SCALE = "0.001"
STEP_TIMEOUT = 60.0
START_TIMEOUT = 120.0

# (kind, what to send, a substring of the last message of Knotbot's answer: the next question)
Step = tuple[str, str, str]
ROUND: list[Step] = [
    ("text", "/start", "Tap Begin"),
    ("press", "Begin", "Do any of these apply"),
    ("press", "None of these", "Where is the knot?"),
    ("text", "between my shoulder blades", "find the exact spot"),
    ("press", "Found it", "What will you use"),
    ("press", "recommended", "Two ways"),
    ("press", "Steady pressure", "How long"),
    ("press", "30 s", "Get into position"),
    ("text", "/cancel", "Tap Begin"),  # "I've stopped the session", then the idle question again
]


# ---- the bots (run in a subprocess: ``--serve knotbot|echo``) --------------------------------------


async def _serve_knotbot(stop: asyncio.Event) -> None:
    from bot.settings import Settings
    from tests.e2e_helpers import running_bot

    settings = Settings(_env_file=None)  # everything from the environment
    async with running_bot(settings):
        await stop.wait()


async def _serve_echo(stop: asyncio.Event) -> None:
    from telegram import Update
    from telegram.ext import ApplicationBuilder, CallbackQueryHandler, ContextTypes, MessageHandler, filters

    from tests.fakebotapi import run_polling

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(update.effective_message.text or "?")

    async def answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None and update.effective_chat is not None
        await query.answer()
        await context.bot.send_message(update.effective_chat.id, f"pressed {query.data}")

    app = ApplicationBuilder().token(TOKEN).base_url(os.environ["TELEGRAM_API_URL"]).build()
    app.add_handler(MessageHandler(filters.TEXT, echo))
    app.add_handler(CallbackQueryHandler(answer))
    async with run_polling(app, timeout=1):
        await stop.wait()


async def serve(kind: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await (_serve_knotbot(stop) if kind == "knotbot" else _serve_echo(stop))


# ---- the load generator --------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Result:
    name: str
    updates: int
    seconds: float
    latencies: list[float]
    messages: int
    bot_cpu: float
    generator_cpu: float
    errors: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.updates / self.seconds

    @property
    def cpu_ms_per_update(self) -> float:
        return 1000 * self.bot_cpu / self.updates

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


class LatencyProbe:
    """Times each update from being queued to the first message the bot sends to that chat after it."""

    def __init__(self, api: FakeBotAPI) -> None:
        self.sent_at: dict[int, float] = {}
        self.latencies: list[float] = []
        self.recording = False
        self.messages = 0  # bot messages sent while recording
        original = api._after_bot_output

        def after_bot_output(chat_id: int, params: Any, msg: Any, kind: str) -> None:
            if kind == "send":
                self.messages += self.recording
                started = self.sent_at.pop(chat_id, None)
                if started is not None and self.recording:
                    self.latencies.append(time.perf_counter() - started)
            original(chat_id, params, msg, kind)

        api._after_bot_output = after_bot_output  # type: ignore[method-assign]

    def sending(self, chat_id: int) -> None:
        self.sent_at[chat_id] = time.perf_counter()


def script(updates: int) -> list[Step]:
    """A person's first ``updates`` steps."""
    steps: list[Step] = []
    while len(steps) < updates:
        steps += ROUND
    return steps[:updates]


async def step(user: FakeUser, probe: LatencyProbe, what_next: Step, *, knotbot: bool) -> None:
    kind, what, expected = what_next
    probe.sending(user.id)
    if kind == "text":
        await user.send_text(what)
    elif knotbot:
        await user.press(what)
    else:
        await user.press_data(what[:32])
    if knotbot:
        await user.wait_for(expected, timeout=STEP_TIMEOUT)
    else:
        await user.wait_for(lambda m: True, timeout=STEP_TIMEOUT)


async def person(user: FakeUser, probe: LatencyProbe, updates: int, *, knotbot: bool) -> None:
    for what_next in script(updates):
        await step(user, probe, what_next, knotbot=knotbot)


@asynccontextmanager
async def bot_process(kind: str, api: FakeBotAPI, env: dict[str, str], workdir: Path) -> AsyncIterator[Any]:
    log_path = workdir / f"{kind}.log"
    with log_path.open("ab") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(SCRIPT),
            "--serve",
            kind,
            env={**env, "TELEGRAM_API_URL": api.base_url},
            cwd=workdir,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(20):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                await proc.wait()
        if proc.returncode not in (0, -signal.SIGTERM):
            tail = log_path.read_text(errors="replace")[-3000:]
            print(f"{kind} bot exited {proc.returncode}; log tail:\n{tail}", file=sys.stderr)


async def measure(kind: str, env: dict[str, str], workdir: Path, people: int, total: int) -> Result:
    knotbot = kind == "knotbot"
    per_person = [total // people + (1 if i < total % people else 0) for i in range(people)]
    async with FakeBotAPI() as api, bot_process(kind, api, env, workdir) as proc:
        probe = LatencyProbe(api)
        warm = api.user(900_000, "Warm")
        warm_up = script(len(ROUND))
        probe.sending(warm.id)
        await warm.send_text(warm_up[0][1])  # waits out the start-up too
        await warm.wait_for(warm_up[0][2] if knotbot else (lambda m: True), timeout=START_TIMEOUT)
        for what_next in warm_up[1:]:
            await step(warm, probe, what_next, knotbot=knotbot)
        await asyncio.sleep(0.5)
        users = [api.user(100_000 + i, f"P{i}") for i in range(people)]
        probe.recording = True
        cpu0, gen0, t0 = cpu_seconds(proc.pid), time.process_time(), time.perf_counter()
        outcomes = await asyncio.gather(
            *(person(u, probe, n, knotbot=knotbot) for u, n in zip(users, per_person, strict=True)),
            return_exceptions=True,
        )
        seconds = time.perf_counter() - t0
        cpu1, gen1 = cpu_seconds(proc.pid), time.process_time()
        probe.recording = False
        errors = [f"{type(o).__name__}: {str(o)[-2500:]}" for o in outcomes if isinstance(o, BaseException)]
        # a walk that got out of step with the bot would press buttons it had already replaced
        stale = [
            c
            for c in api.calls_to("answerCallbackQuery")
            if any(w in str(c.params.get("text", "")) for w in ("no longer active", "Already noted"))
        ]
        if stale:
            errors.append(f"{len(stale)} presses of buttons no longer active")
        api.assert_no_server_errors()
    return Result(
        "Knotbot" if knotbot else "bare PTB echo bot",
        sum(per_person),
        seconds,
        probe.latencies,
        probe.messages,
        cpu1 - cpu0,
        gen1 - gen0,
        errors,
    )


@asynccontextmanager
async def database(kind: str, workdir: Path) -> AsyncIterator[str]:
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{workdir / 'knotbot.db'}"
        return
    from bot.storage.db import Database
    from bot.storage.migrations import upgrade
    from tests.runtime_fixtures import fresh_postgres_database

    async with fresh_postgres_database() as url:
        db = Database(url)
        await upgrade(db)
        await db.dispose()
        yield url


async def run(people: int, total: int, db_kind: str) -> None:
    base_env = {
        k: v for k, v in os.environ.items() if not k.startswith(("KNOTBOT_", "TELEGRAM_", "DATABASE_"))
    }
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        async with database(db_kind, workdir) as url:
            env = {
                **base_env,
                "PYTHONPATH": str(REPO),
                "TELEGRAM_BOT_TOKEN": TOKEN,
                "DATABASE_URL": url,
                "KNOTBOT_DATA_DIR": str(workdir / "data"),
                "KNOTBOT_TIME_SCALE": TIME_SCALE,
                "KNOTBOT_SEND_RATE": "1000",
                "KNOTBOT_CHAT_BURST": "1000",
                "KNOTBOT_FLOOD_LIMIT": "0",
            }
            results = [
                await measure("echo", env, workdir, people, total),
                await measure("knotbot", env, workdir, people, total),
            ]
    print(
        f"{people} people, closed loop, {total} updates per bot, database {db_kind}; "
        f"bots polling the fake Bot API, each in its own process"
    )
    header = ("bot", "updates/s", "reply p50", "reply p99", "CPU/update", "msgs/update", "load gen CPU")
    print(
        f"{header[0]:<20} "
        + " ".join(f"{h:>{w}}" for h, w in zip(header[1:], (9, 10, 10, 11, 11, 13), strict=True))
    )
    for r in results:
        print(
            f"{r.name:<20} {r.rate:>9.0f} {r.percentile(0.5):>7.0f} ms {r.percentile(0.99):>7.0f} ms "
            f"{r.cpu_ms_per_update:>8.2f} ms {r.messages / r.updates:>11.1f} "
            f"{1000 * r.generator_cpu / r.updates:>7.2f} ms/upd"
        )
    bare, knot = results
    print(f"CPU per update, Knotbot / bare PTB: {knot.cpu_ms_per_update / bare.cpu_ms_per_update:.1f}x")
    print(
        "(CPU: the bot subprocess's user+system time from /proc over the measured loop; "
        "'load gen CPU': this process, the fake Bot API and the simulated people)"
    )
    for r in results:
        if r.errors or len(r.latencies) != r.updates:
            print(
                f"{r.name}: {len(r.errors)} problems (failed people, stale presses); "
                f"{len(r.latencies)} replies timed of {r.updates}"
            )
            for e in r.errors[:3]:
                print("  ", e)
    if any(r.errors for r in results):
        sys.exit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--people", type=int, default=50)
    parser.add_argument(
        "--updates", type=int, default=1000, help="total updates per bot (split over the people)"
    )
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--serve", choices=["knotbot", "echo"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.serve))
        return
    asyncio.run(run(args.people, args.updates, args.db))


if __name__ == "__main__":
    main()
