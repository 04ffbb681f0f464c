"""Chat with the bot in a terminal: the same conversation, on SQLite, without Telegram.

Buttons are shown as numbered choices; type the number, or type text as you
would in Telegram. Timed prompts print as they fire (APScheduler wakes the same
dispatcher the Telegram bot uses). End with Ctrl-D or /quit.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta
from pathlib import Path
from typing import TextIO

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.attachments import Rendered
from bot.delivery import Dispatcher
from bot.domain.effects import Button, Message
from bot.domain.events import Command, Event, Text, command_name, decode_press
from bot.runtime import Core, build_delivery
from bot.service import prepare_database, to_datetime

CHANNEL = "terminal"
LOCAL_ID = "local"
LINGER = timedelta(seconds=120)  # after input ends, wait for prompts due this soon


class TerminalTransport:
    """Prints messages; remembers the last buttons so a typed number can press one."""

    def __init__(self, out: TextIO, pictures: Path) -> None:
        self.out = out
        self.pictures = pictures
        self.buttons: list[Button] = []

    async def send(self, chat_id: str, message: Message, attachment: Rendered | None = None) -> None:
        lines = ["", f"🤖 {message.text}"]
        if attachment is not None:
            self.pictures.mkdir(parents=True, exist_ok=True)
            path = self.pictures / attachment.filename
            path.write_bytes(attachment.data)
            lines.append(f"   📎 saved {attachment.kind}: {path.resolve()}")
        # "share location" is a Telegram keyboard; in a terminal the person types a city instead
        flat = [] if message.ask_location else [b for row in message.buttons for b in row]
        if flat:
            self.buttons = flat
            lines += [f"   [{i}] {b.label}" for i, b in enumerate(flat, start=1)]
        self.out.write("\n".join(lines) + "\n")
        self.out.flush()

    def event_for(self, line: str) -> Event:
        text = line.strip()
        if text.isdigit() and 1 <= int(text) <= len(self.buttons):
            return decode_press(self.buttons[int(text) - 1].data)
        name = command_name(text)
        return Command(name) if name else Text(line.rstrip("\n"))


async def run_chat(core: Core, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> int:
    """Run a terminal conversation until end of input; returns an exit code."""
    await prepare_database(core.db)  # SQLite migrates itself
    transport = TerminalTransport(stdout, core.settings.data_dir / "pictures")
    scheduler = AsyncIOScheduler()
    delivery = build_delivery(core, transport, scheduler)
    scheduler.start()
    if core.db.is_sqlite:  # one process: what an earlier one claimed and never sent goes now
        await delivery.dispatcher.reclaim_after_restart()
    delivery.waker.start()
    delivery.retention.start(scheduler)
    stdout.write(
        "Knotbot in your terminal. Type a number to press a button, /help for commands, Ctrl-D to quit.\n"
    )

    async def feed(event: Event) -> None:
        handled = await core.service.handle(CHANNEL, LOCAL_ID, LOCAL_ID, event)
        for toast in handled.toasts:
            stdout.write(f"   ({toast})\n")
        await delivery.after_update(handled)

    loop = asyncio.get_running_loop()
    try:
        await feed(Command("start"))
        while True:
            stdout.write("> ")
            stdout.flush()
            line = await loop.run_in_executor(None, stdin.readline)
            if not line or line.strip() in ("/quit", "/exit"):
                break
            await feed(transport.event_for(line))
        await _linger(core, delivery.dispatcher)
    finally:
        await delivery.retention.stop()
        await delivery.waker.stop()
        scheduler.shutdown(wait=False)
        await core.db.dispose()
    stdout.write("\nBye! Take care.\n")
    return 0


async def _linger(core: Core, dispatcher: Dispatcher) -> None:
    """After input ends, let prompts that are due soon still print (piped input, demos)."""
    while True:
        due = await dispatcher.next_due()
        now = to_datetime(core.clock())
        if due is None or due - now > LINGER:
            return
        await asyncio.sleep(max(0.0, (due - now).total_seconds()) + 0.01)
        await dispatcher.run_once()
