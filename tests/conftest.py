"""Shared pytest fixtures."""

import pytest as _pytest

# assertions in the shared helper modules are rewritten like those in test modules (detailed
# failure messages); the fixtures are plugins, rewritten anyway
_pytest.register_assert_rewrite(
    "tests.bot_process", "tests.core_steps", "tests.e2e_helpers", "tests.followup_helpers"
)

pytest_plugins = ["tests.runtime_fixtures", "tests.e2e_fixtures"]


def pytest_collection_modifyitems(items: list[_pytest.Item]) -> None:
    """Tests marked ``slow`` (minutes each) run first: the parallel workers (``-n 4`` in
    pyproject.toml) then share out the short ones and finish together. A stable sort, so
    every worker collects the same order."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


# --- a stuck test run: ``kill -USR1 <pytest pid>`` prints every asyncio task's stack to stderr ---

import asyncio as _asyncio  # noqa: E402
import signal as _signal  # noqa: E402
import sys as _sys  # noqa: E402


def _dump_asyncio_tasks(signum: int, frame: object) -> None:
    try:
        tasks = _asyncio.all_tasks(_asyncio.get_running_loop())
    except RuntimeError:
        print("SIGUSR1: no asyncio loop is running", file=_sys.stderr)
        return
    print(f"SIGUSR1: {len(tasks)} asyncio tasks", file=_sys.stderr)
    for task in tasks:
        task.print_stack(limit=12, file=_sys.stderr)


if hasattr(_signal, "SIGUSR1"):
    _signal.signal(_signal.SIGUSR1, _dump_asyncio_tasks)

# --- pure core fixtures ---
# Fixtures for the pure conversation core (bot/domain): content, matcher, a fixed
# clock and a small driver that plays one person. Names start with ``core_`` so
# they never shadow fixtures defined elsewhere.

import dataclasses as _core_dc  # noqa: E402

import pytest as _core_pytest  # noqa: E402

from bot.content_loader import load_content as _core_load_content  # noqa: E402
from bot.domain.content import Content as _CoreContent  # noqa: E402
from bot.domain.conversation import Decision as _CoreDecision  # noqa: E402
from bot.domain.conversation import Env as _CoreEnv  # noqa: E402
from bot.domain.conversation import decide as _core_decide  # noqa: E402
from bot.domain.effects import Message as _CoreMessage  # noqa: E402
from bot.domain.effects import Reply as _CoreReply  # noqa: E402
from bot.domain.events import Command as _CoreCommand  # noqa: E402
from bot.domain.events import Event as _CoreEvent  # noqa: E402
from bot.domain.events import Press as _CorePress  # noqa: E402
from bot.domain.events import Text as _CoreText  # noqa: E402
from bot.domain.events import decode_press as _core_decode_press  # noqa: E402
from bot.domain.matcher import Matcher as _CoreMatcher  # noqa: E402
from bot.domain.state import State as _CoreState  # noqa: E402

CORE_NOW = 1_000_000.0


class CoreDriver:
    """Plays one person against ``decide``: type, send commands, press buttons by label.

    ``buttons`` are those of the most recent message that had any (a Reply, or a
    scheduled message handed to :meth:`deliver`); a decision with no buttons at all
    (a toast only, or the end of a session) leaves them as they were.
    """

    def __init__(self, env: _CoreEnv, state: _CoreState | None = None) -> None:
        self.env = env
        self.state = state if state is not None else _CoreState()
        self.last: _CoreDecision | None = None
        self.buttons_message: _CoreMessage | None = None
        self.history: list[_CoreDecision] = []

    # -- sending ----------------------------------------------------------------
    def send(self, event: _CoreEvent) -> _CoreDecision:
        decision = _core_decide(self.state, event, self.env)
        self.state = decision.state
        self.last = decision
        self.history.append(decision)
        for message in core_replies(decision):
            if message.buttons:
                self.buttons_message = message
        return decision

    def command(self, name: str) -> _CoreDecision:
        return self.send(_CoreCommand(name))

    def text(self, text: str) -> _CoreDecision:
        return self.send(_CoreText(text))

    def labels(self) -> list[str]:
        if self.buttons_message is None:
            return []
        return [b.label for row in self.buttons_message.buttons for b in row]

    def button_press(self, label: str) -> _CorePress:
        """The press of the offered button whose label contains ``label`` (case-insensitive; exact wins)."""
        assert self.buttons_message is not None, "no buttons offered yet"
        found = [
            b for row in self.buttons_message.buttons for b in row if label.casefold() in b.label.casefold()
        ]
        exact = [b for b in found if b.label.casefold() == label.casefold()]
        if len(found) > 1 and len(exact) == 1:
            found = exact
        assert len(found) == 1, f"{len(found)} buttons match {label!r}: {self.labels()}"
        press = _core_decode_press(found[0].data)
        assert isinstance(press, _CorePress), found[0].data
        return press

    def press(self, label: str) -> _CoreDecision:
        return self.send(self.button_press(label))

    # -- time -------------------------------------------------------------------
    def advance(self, seconds: float) -> None:
        self.env = _core_dc.replace(self.env, now=self.env.now + seconds)

    def deliver(self, message: _CoreMessage) -> None:
        """A scheduled message arrived: its buttons are now the latest."""
        if message.buttons:
            self.buttons_message = message


def core_replies(decision: _CoreDecision) -> list[_CoreMessage]:
    """The messages a decision sends now, in order."""
    return [e.message for e in decision.effects if isinstance(e, _CoreReply)]


def core_reply_text(decision: _CoreDecision) -> str:
    """Every message sent now, joined: for ``in`` checks."""
    return "\n".join(m.text for m in core_replies(decision))


@_core_pytest.fixture(scope="session")
def core_content() -> _CoreContent:
    return _core_load_content()


@_core_pytest.fixture(scope="session")
def core_matcher(core_content: _CoreContent) -> _CoreMatcher:
    return _CoreMatcher(core_content)


@_core_pytest.fixture(scope="session")
def core_env(core_content: _CoreContent, core_matcher: _CoreMatcher) -> _CoreEnv:
    """A fixed clock at ``CORE_NOW``, real time (scale 1)."""
    return _CoreEnv(core_content, core_matcher, now=CORE_NOW, time_scale=1.0)


@_core_pytest.fixture
def core_driver(core_env: _CoreEnv) -> CoreDriver:
    """A fresh person in the IDLE state."""
    return CoreDriver(core_env)


# --- end of pure core fixtures ---
