"""The terminal chat driven through stdin/stdout: ``python -m bot chat`` as a newcomer would run it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SESSION_INPUT = "\n".join(
    [
        "1",  # Begin
        "1",  # None of these
        "tight hammies",  # free text area
        "1",  # Found it
        "1",  # Foam roller (recommended)
        "1",  # Steady pressure
        "1",  # 30 s
        "1",  # Start
    ]
)


def run_chat(tmp_path: Path, stdin: str, *extra_env: tuple[str, str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "KNOTBOT_", "DATABASE_"))}
    env.update(
        {
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}",
            "KNOTBOT_TIME_SCALE": "0.01",
            "PYTHONIOENCODING": "utf-8",
        }
    )
    env.update(dict(extra_env))
    return subprocess.run(
        [sys.executable, "-m", "bot", "chat"],
        input=stdin + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=env,
        check=False,
    )


def test_a_full_hold_in_the_terminal(tmp_path: Path) -> None:
    done = run_chat(tmp_path, SESSION_INPUT)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for expected in (
        "not medical advice",
        "[1] Begin",
        "Do any of these apply",
        "Got it: Back of the thigh",
        "Foam roller (recommended)",
        "Press in now",
        "Halfway",  # timed prompts print as they fire, after input ended
        "Release the pressure gradually",
        "How was the pressure?",
        "Bye!",
    ):
        assert expected in out, f"{expected!r} missing from:\n{out}"
    assert out.index("Press in now") < out.index("Halfway") < out.index("Release the pressure gradually")
    assert "Traceback" not in done.stderr


def test_the_conversation_survives_a_restart_of_the_terminal(tmp_path: Path) -> None:
    first = run_chat(tmp_path, "1\n1\nmy jaw is sore from grinding")
    assert "Got it: Jaw" in first.stdout
    second = run_chat(tmp_path, "1")  # same database: "Found it" continues the session
    assert "What will you use on your Jaw?" in second.stdout


def test_warning_sign_typed_in_the_terminal_stops_the_session(tmp_path: Path) -> None:
    done = run_chat(tmp_path, "1\n1\nchest pain and short of breath")
    assert "emergency number now" in done.stdout
    assert "find the exact spot" not in done.stdout


def test_no_token_means_terminal_chat(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "KNOTBOT_", "DATABASE_"))}
    env["DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'run.db'}"
    done = subprocess.run(
        [sys.executable, "-m", "bot"],
        input="/cancel\n",
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "nothing to cancel" in done.stdout
    assert "chatting in the terminal" in done.stderr
