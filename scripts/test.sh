#!/usr/bin/env bash
# Install Knotbot with its test tools into .venv and run the whole test suite.
# PostgreSQL tests use KNOTBOT_TEST_POSTGRES_URL (default postgresql+asyncpg://127.0.0.1:5432/test)
# and are skipped, with the reason, when no server answers there.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[test]"
exec .venv/bin/python -m pytest "$@"
