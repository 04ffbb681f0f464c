"""The ``knotbot`` command line: run, webhook, chat, content check, db upgrade / revision, match."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.content_loader import ContentError, load_content
from bot.settings import Settings, SettingsError, load_settings
from bot.storage.db import DatabaseUnavailable
from bot.storage.migrations import SchemaError

log = logging.getLogger("knotbot")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="knotbot",
        description="Knotbot: guided, safe self-massage of muscle knots, on Telegram or in the terminal.",
    )
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="start the bot: Telegram if TELEGRAM_BOT_TOKEN is set, else the terminal chat")
    sub.add_parser(
        "webhook",
        help="serve Telegram webhooks (KNOTBOT_WEBHOOK_URL, KNOTBOT_WEBHOOK_SECRET, KNOTBOT_LISTEN_*)",
    )
    sub.add_parser("chat", help="chat with the bot in this terminal (no Telegram needed)")
    content = sub.add_parser("content", help="content tools")
    content_sub = content.add_subparsers(dest="content_command", required=True)
    content_sub.add_parser("check", help="validate content/ and exit non-zero on the first error")
    db = sub.add_parser("db", help="database tools")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="create or migrate the database schema (alembic upgrade head)")
    revision = db_sub.add_parser(
        "revision", help="autogenerate a migration from bot/storage/models.py (for developers)"
    )
    revision.add_argument("-m", "--message", required=True, help="what changed, e.g. 'add reminders table'")
    match = sub.add_parser("match", help="match text to a body area / warning sign, one JSON line per input")
    match.add_argument("texts", nargs="*", help="utterances; none: read one per line from stdin")
    match.add_argument(
        "--eval",
        dest="eval_files",
        metavar="FILE",
        type=Path,
        nargs="+",
        help="score labelled sets (rows of text/sign/area/denied) instead: per class, with the misses",
    )
    match.add_argument(
        "--classes-only",
        action="store_true",
        help="with --eval: the figures only, no rows (a held-out set that must stay unread)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"knotbot: {exc}", file=sys.stderr)
        return 2
    from bot.logging_setup import configure_logging

    configure_logging(settings.log_level, settings.log_format)
    try:
        return _dispatch(args, settings)
    except ContentError as exc:
        print(f"knotbot: content error: {exc}", file=sys.stderr)
        return 1
    except (SchemaError, DatabaseUnavailable) as exc:
        print(f"knotbot: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    command = args.command or "run"
    if command == "content":
        content = load_content(settings.content_dir)
        print(
            f"content ok: {len(content.areas)} areas, {len(content.tools)} tools, "
            f"{len(content.red_flags)} warning signs, {len(content.strings)} strings"
        )
        return 0
    if command == "db":
        if args.db_command == "revision":
            return asyncio.run(_db_revision(args.message))
        return asyncio.run(_db_upgrade(settings))
    if command == "webhook":
        return _run_webhook(settings)
    if command == "match":
        from bot.match_cli import run as run_match

        content = load_content(settings.content_dir)
        if args.eval_files:
            from bot.match_cli import run_eval

            return run_eval(args.eval_files, sys.stdout, sys.stderr, content, not args.classes_only)
        code: int = run_match(list(args.texts), sys.stdin, sys.stdout, content)
        return code
    if command == "chat" or (command == "run" and settings.telegram_bot_token is None):
        from bot.adapters.terminal import run_chat
        from bot.runtime import build_core

        asyncio.run(_check_schema(settings))
        if command == "run":
            log.info("TELEGRAM_BOT_TOKEN is not set: chatting in the terminal")
        return asyncio.run(run_chat(build_core(settings)))
    return _run_telegram(settings)


async def _db_upgrade(settings: Settings) -> int:
    from bot.storage.db import Database
    from bot.storage.migrations import current_revisions, upgrade

    db = Database(settings.database_url)
    try:
        await db.probe()
        await upgrade(db)
        revisions = await current_revisions(db)
    finally:
        await db.dispose()
    print(f"database schema up to date at revision {', '.join(sorted(revisions))} ({db.safe_url})")
    return 0


async def _db_revision(message: str) -> int:
    from bot.storage.migrations import make_revision

    paths = await make_revision(message)
    for path in paths:
        print(f"new migration: {path}")
    return 0


async def _check_schema(settings: Settings) -> None:
    """Refuse to start on a database that cannot be opened or whose schema is behind.

    A SQLite schema that is behind is migrated instead.
    """
    from bot.storage.db import Database
    from bot.storage.migrations import ensure_current

    db = Database(settings.database_url)
    try:
        await db.probe()
        await ensure_current(db, migrate=db.is_sqlite)
    finally:
        await db.dispose()


def _run_webhook(settings: Settings) -> int:
    from bot.adapters.telegram import StartupError
    from bot.adapters.webhook import WebhookConfigError, check_settings, serve

    try:
        check_settings(settings)
    except WebhookConfigError as exc:
        print(f"knotbot: {exc}", file=sys.stderr)
        return 2
    asyncio.run(_check_schema(settings))
    try:
        return serve(settings)  # waits for Telegram at start-up (bot.adapters.telegram.retry_startup)
    except StartupError as exc:  # a rejected token: one line, no traceback
        print(f"knotbot: {exc}", file=sys.stderr)
        return 2


def _run_telegram(settings: Settings) -> int:
    from telegram import Update

    from bot.adapters.telegram import StartupError, build_application

    asyncio.run(_check_schema(settings))
    application = build_application(settings)
    log.info("polling Telegram")
    try:
        # getMe and setMyCommands wait for Telegram (bot.adapters.telegram.retry_startup);
        # bootstrap_retries=-1: so does deleteWebhook before the first getUpdates
        application.run_polling(allowed_updates=Update.ALL_TYPES, bootstrap_retries=-1)
    except StartupError as exc:  # a rejected token: one line, no traceback
        print(f"knotbot: {exc}", file=sys.stderr)
        return 2
    return 0
