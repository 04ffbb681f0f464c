#!/usr/bin/env bash
# Install Knotbot into .venv (first run only) and start it.
# Without TELEGRAM_BOT_TOKEN it chats in this terminal on SQLite; with it, it polls Telegram.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/knotbot ]; then
  "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e .
fi
exec .venv/bin/knotbot "$@"
