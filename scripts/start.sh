#!/usr/bin/env bash
# Install Knotbot into .venv (and bring its dependencies up to date) and start it.
# Without TELEGRAM_BOT_TOKEN it chats in this terminal on SQLite; with it, it polls Telegram.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e .
exec .venv/bin/knotbot "$@"
