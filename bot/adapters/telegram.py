"""The Telegram adapter: PTB ``Application`` factory, update → event, message → Bot API call.

No conversation logic lives here. Every update goes through one handler that
turns it into a domain event, runs it through :class:`~bot.service.ConversationService`
(one transaction), answers the button press, and sends the reply rows.

Start-up waits for Telegram: getMe, setMyCommands (and setWebhook in webhook mode) are
retried with capped backoff while Telegram is unreachable, times out, or answers 5xx or 429,
one log line per attempt; a token Telegram rejects stops the start with :class:`StartupError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import traceback
import warnings
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TypeVar

from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.constants import ChatType, MessageLimit
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler
from telegram.request import BaseRequest, HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from bot import metrics
from bot.adapters.flood import FloodGate, Verdict
from bot.adapters.updates import SkipUnparsable
from bot.attachments import Rendered
from bot.delivery import Blocked, PermanentFailure, TemporaryFailure
from bot.domain import effects
from bot.domain.events import Command, Event, Location, Text, Unsupported, command_name, decode_press
from bot.logging_setup import log_context, person_hash, redact, set_person_key
from bot.ratelimit import SendLimiter
from bot.runtime import Core, Delivery, build_core, build_delivery
from bot.service import Database, first_time_in_group, prepare_database, store_file_id, stored_file_id
from bot.settings import Settings

log = logging.getLogger(__name__)

CHANNEL = "telegram"
GROUPS_KEPT = 10_000  # groups remembered in memory; older ones are looked up in group_chats again
# the command menu (setMyCommands): command and the string key of its description
COMMANDS = (
    ("massage", "menu.massage"),
    ("cancel", "menu.cancel"),
    ("progress", "menu.progress"),
    ("reminders", "menu.reminders"),
    ("plan", "menu.plan"),
    ("about", "menu.about"),
    ("privacy", "menu.privacy"),
    ("mydata", "menu.mydata"),
    ("delete", "menu.delete"),
    ("help", "menu.help"),
)
UNSUPPORTED_KINDS = (
    "sticker",
    "photo",
    "voice",
    "video_note",
    "video",
    "audio",
    "animation",
    "document",
    "location",
    "venue",
    "contact",
    "poll",
    "dice",
    "game",
    "story",
)


def keyboard(message: effects.Message) -> InlineKeyboardMarkup | None:
    if not message.buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, callback_data=b.data) for b in row] for row in message.buttons]
    )


# what PTB raises for a 2xx answer whose body is not JSON (telegram.request.BaseRequest.post);
# a 4xx or 5xx whose body cannot be read raises a more specific error with other words
UNREADABLE_SUCCESS = "Invalid server response"


class TelegramTransport:
    """Sends a domain message with the Bot API, mapping errors to delivery outcomes."""

    def __init__(
        self,
        application: Application,  # type: ignore[type-arg]
        db: Database,
        limiter: SendLimiter | None = None,
    ) -> None:
        self.application = application
        self.db = db
        self.limiter = limiter or SendLimiter()
        self._file_ids: dict[str, str] = {}

    def paced_for(self, chat_id: str) -> float:
        """Seconds until a send to this chat would not wait for its per-chat pacing (the dispatcher
        sends other chats' messages meanwhile)."""
        return self.limiter.paced_for(int(chat_id))

    def pace(self, chat_id: str) -> float:
        return self.limiter.pace(int(chat_id))

    async def send(self, chat_id: str, message: effects.Message, attachment: Rendered | None = None) -> None:
        try:
            await self._send(int(chat_id), message, attachment)
        except Forbidden as exc:
            raise Blocked(exc.message) from exc
        except RetryAfter as exc:
            seconds = retry_after_seconds(exc)
            self.limiter.pause(seconds)  # a 429 applies to the whole bot
            raise TemporaryFailure("429 Too Many Requests", retry_after=seconds) from exc
        except BadRequest as exc:
            raise PermanentFailure(exc.message) from exc
        except NetworkError as exc:  # includes TimedOut and 5xx
            raise TemporaryFailure(type(exc).__name__) from exc
        except TelegramError as exc:
            if exc.message == UNREADABLE_SUCCESS:
                # Telegram answered 200 (it took the message) with a body PTB could not read (a
                # proxy in between): sent; sending it again would show it twice
                metrics.ERRORS.labels(where="unreadable_answer").inc()
                log.warning("Telegram's answer to a send could not be read; counted as sent")
                return
            raise TemporaryFailure(type(exc).__name__) from exc

    async def _send(self, chat_id: int, message: effects.Message, attachment: Rendered | None) -> None:
        bot = self.application.bot
        await self.limiter.acquire(chat_id)
        markup: InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | None = keyboard(message)
        if message.ask_location:
            markup = location_keyboard(message)
        elif message.remove_keyboard and markup is None:
            markup = ReplyKeyboardRemove()
        if attachment is None:
            await bot.send_message(chat_id=chat_id, text=message.text, reply_markup=markup)
            return
        caption_fits = len(message.text) <= MessageLimit.CAPTION_LENGTH
        caption = message.text if caption_fits else None
        if attachment.kind == "document":
            await bot.send_document(
                chat_id=chat_id,
                document=InputFile(attachment.data, filename=attachment.filename),
                caption=caption,
                reply_markup=markup if caption_fits else None,
            )
        else:
            await self._send_photo(chat_id, attachment, caption, markup if caption_fits else None)
        if not caption_fits:
            await self.limiter.acquire(chat_id)
            await bot.send_message(chat_id=chat_id, text=message.text, reply_markup=markup)

    async def _send_photo(
        self,
        chat_id: int,
        attachment: Rendered,
        caption: str | None,
        markup: InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | None,
    ) -> None:
        key = attachment.cache_key
        file_id = await self._cached_file_id(key) if key else None
        if file_id is not None:
            await self.application.bot.send_photo(
                chat_id, photo=file_id, caption=caption, reply_markup=markup
            )
            return
        sent = await self.application.bot.send_photo(
            chat_id,
            photo=InputFile(attachment.data, filename=attachment.filename),
            caption=caption,
            reply_markup=markup,
        )
        if key and sent.photo:
            await self._remember_file_id(key, sent.photo[-1].file_id)

    async def _cached_file_id(self, key: str) -> str | None:
        if key in self._file_ids:
            return self._file_ids[key]
        file_id = await stored_file_id(self.db, key)
        if file_id is not None:
            self._file_ids[key] = file_id
        return file_id

    async def _remember_file_id(self, key: str, file_id: str) -> None:
        self._file_ids[key] = file_id
        await store_file_id(self.db, key, file_id)


def retry_after_seconds(exc: RetryAfter) -> float:
    """Telegram's wait in seconds (PTB 22 warns about the int form; read it either way)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        wait = exc.retry_after
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)


def location_keyboard(message: effects.Message) -> ReplyKeyboardMarkup:
    """Telegram's "share location" button (a reply keyboard; inline buttons can't ask for it)."""
    labels = [b.label for row in message.buttons for b in row] or ["📍"]
    return ReplyKeyboardMarkup(
        [[KeyboardButton(labels[0], request_location=True)]], one_time_keyboard=True, resize_keyboard=True
    )


def event_from_message(message: Message) -> Event:
    text = message.text
    if text is not None:
        name = command_name(text)
        return Command(name) if name else Text(text)
    if message.location is not None and message.venue is None:
        return Location(latitude=message.location.latitude, longitude=message.location.longitude)
    for kind in UNSUPPORTED_KINDS:
        if getattr(message, kind, None):
            return Unsupported(kind)
    return Unsupported("other")


class AckingQueue(asyncio.Queue[object]):
    """PTB's update queue, but ``put`` returns only once the update was processed.

    PTB's Updater puts a batch of updates in the queue, then asks Telegram for the
    next batch with an offset that confirms this one. With this queue the offset
    is sent only after every update of the batch went through its handler (and its
    transaction committed or was rolled back), so a crash never confirms an
    update that was not handled: Telegram sends it again, and ``processed_updates``
    drops it if it had been committed after all.
    """

    async def put(self, item: object) -> None:
        await super().put(item)
        await self.join()


@dataclass
class TelegramBot:
    """Holds the runtime parts for the handler (typed, no string keys)."""

    core: Core
    delivery: Delivery
    flood: FloodGate | None = field(default_factory=FloodGate)  # None: no flood control
    metrics_server: metrics.MetricsServer | None = None
    menu_task: asyncio.Task[bool] | None = None  # the command menu, set in the background
    # polling handles one update at a time: a reply waiting for its chat's pacing would hold up
    # everybody's next update, so it goes to the dispatcher instead (webhook requests run side by side)
    defer_paced_replies: bool = False
    # groups told "private chats only" that this process knows of, most recent last (bounded: the
    # table is the truth, this only spares a chatty group's every message a database write)
    _groups_seen: OrderedDict[int, None] = field(default_factory=OrderedDict)

    async def on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Gatekeeping (groups, floods, odd updates) in memory, then :meth:`handle` in one transaction."""
        chat = update.effective_chat
        user = update.effective_user
        if chat is not None and chat.type == ChatType.CHANNEL:
            metrics.UPDATES.labels(outcome="ignored").inc()  # the bot never posts into a channel
            return
        if chat is not None and chat.type != ChatType.PRIVATE:
            await self._private_only(chat.id, context)  # groups: one note, then nothing
            return
        if chat is None or user is None or user.id != chat.id:
            metrics.UPDATES.labels(outcome="ignored").inc()  # a private chat's user is the chat itself
            return
        with log_context(update_id=update.update_id, person=person_hash(user.id)):
            verdict = self.flood.check(user.id) if self.flood is not None else Verdict.PASS
            if verdict is not Verdict.PASS:
                metrics.UPDATES.labels(outcome="flood").inc()
                if verdict is Verdict.NOTICE:
                    log.info("flood: ignoring updates for a few seconds")
                    await self._note(context, chat.id, "flood.notice")
                return
            with metrics.HANDLER_SECONDS.time():
                await self.handle(update)

    async def handle(self, update: Update) -> None:
        """One private-chat update: event → service (one transaction) → button answer → replies."""
        chat = update.effective_chat
        user = update.effective_user
        assert chat is not None and user is not None
        event: Event
        query = update.callback_query
        if query is not None:
            event = decode_press(query.data if isinstance(query.data, str) else None)
        elif update.message is not None:
            event = event_from_message(update.message)
        else:
            metrics.UPDATES.labels(outcome="ignored").inc()
            return  # edited messages, reactions, ...: ignored on purpose (docs/reliability.md)
        handled = await self.core.service.handle(
            CHANNEL, str(user.id), str(chat.id), event, update_id=update.update_id
        )
        metrics.UPDATES.labels(outcome="duplicate" if handled.duplicate else "handled").inc()
        # the update has committed: from here on nothing may fail it (the person would be told to
        # try again a step that is done); each send failure is contained and retried (delivery.py)
        if query is not None:
            try:
                await query.answer(text=handled.toasts[0] if handled.toasts else None)
            except Exception as exc:
                log.info("could not answer a callback query: %s", type(exc).__name__)
        await self.delivery.after_update(handled, defer_paced=self.defer_paced_replies)

    async def _note(self, context: ContextTypes.DEFAULT_TYPE, chat_id: int, key: str) -> None:
        """A one-off note sent directly, never a row (flood, groups): best effort."""
        try:
            await context.bot.send_message(chat_id, self.core.content.text(key))
        except TelegramError as exc:
            log.info("could not send a note key=%s: %s", key, type(exc).__name__)

    async def _private_only(self, chat_id: int, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Say once per group or channel, across restarts, that the bot works in private chats."""
        metrics.UPDATES.labels(outcome="group").inc()
        if chat_id in self._groups_seen:
            self._groups_seen.move_to_end(chat_id)
            return  # known in this process: no database write for a chatty group
        first = await first_time_in_group(self.core.db, chat_id)
        self._groups_seen[chat_id] = None
        while len(self._groups_seen) > GROUPS_KEPT:
            self._groups_seen.popitem(last=False)
        if first:
            await self._note(context, chat_id, "group.private_only")

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log one line (update id and error type, never message text) and tell the person to retry."""
        if update is None and context.job is None and isinstance(context.error, NetworkError | RetryAfter):
            polling_error(context.error)  # getUpdates failed (run_polling reports it here): no update
            return
        update_id = update.update_id if isinstance(update, Update) else None
        user = update.effective_user if isinstance(update, Update) else None
        person = person_hash(user.id) if user is not None else None
        error = context.error
        metrics.UPDATES.labels(outcome="error").inc()
        metrics.ERRORS.labels(where="update").inc()
        log.error(
            "update failed update_id=%s person=%s error=%s",
            update_id,
            person,
            type(error).__name__,
            exc_info=(type(error), error, error.__traceback__) if error is not None else None,
        )
        await self._tell_admin(context, update_id, person, error)
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None or chat.type != ChatType.PRIVATE:
            return
        try:
            await context.bot.send_message(chat.id, self.core.content.text("error.try_again"))
        except TelegramError:
            log.info("could not send the try-again note update_id=%s", update_id)

    async def _tell_admin(
        self, context: ContextTypes.DEFAULT_TYPE, update_id: int | None, person: str | None, error: object
    ) -> None:
        """Report to ``KNOTBOT_ADMIN_CHAT_ID``: ids, error type and where — never text, names or the token."""
        admin = self.core.settings.admin_chat_id
        if admin is None:
            return
        where = "?"
        if isinstance(error, BaseException) and error.__traceback__ is not None:
            frame = traceback.extract_tb(error.__traceback__)[-1]
            where = f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno} in {frame.name}"
        kind = type(error).__name__
        note = f"⚠️ update failed update_id={update_id} person={person} error={kind} at {where}"
        try:
            await context.bot.send_message(admin, redact(note))
        except TelegramError as exc:
            log.info("could not report an error to the admin chat: %s", type(exc).__name__)

    async def post_init(self, application: Application) -> None:  # type: ignore[type-arg]
        await prepare_database(self.core.db)  # SQLite migrates itself
        port = self.core.settings.metrics_port
        if port is not None and self.metrics_server is None:
            server = metrics.MetricsServer(port, host=self.core.settings.metrics_host)
            try:
                await server.start()
            except OSError as exc:  # the port is taken, or not ours to use: a setting to fix
                reason = exc.strerror or type(exc).__name__
                raise StartupError(f"cannot serve metrics on KNOTBOT_METRICS_PORT={port}: {reason}") from None
            self.metrics_server = server
        menu = [BotCommand(name, self.core.content.text(key)) for name, key in COMMANDS]
        if self.menu_task is None:  # cosmetic: the bot serves while it is being set
            self.menu_task = asyncio.create_task(set_menu(application.bot, menu), name="setMyCommands")
        if self.core.db.is_sqlite:  # one process: what an earlier one claimed and never sent goes now
            await self.delivery.dispatcher.reclaim_after_restart()
        self.delivery.waker.start()
        assert application.job_queue is not None
        self.delivery.retention.start(application.job_queue.scheduler)

    async def post_stop(self, application: Application) -> None:  # type: ignore[type-arg]
        await self._stop_menu()
        await self.delivery.retention.stop()
        await self.delivery.waker.stop()

    async def post_shutdown(self, application: Application) -> None:  # type: ignore[type-arg]
        await self._stop_menu()
        await self.delivery.retention.stop()
        await self.delivery.waker.stop()
        if self.metrics_server is not None:
            await self.metrics_server.stop()
            self.metrics_server = None
        await self.core.db.dispose()

    async def _stop_menu(self) -> None:
        task, self.menu_task = self.menu_task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


# ---- start-up: wait for Telegram instead of failing ----------------------------------------------

MENU_ATTEMPTS = 20  # then the menu stays as it was (about 8 minutes at the 30 s cap)


async def set_menu(bot: Bot, menu: list[BotCommand], attempts: int = MENU_ATTEMPTS) -> bool:
    """Set the command menu in the background: only getMe decides whether the token is good, and
    the menu is cosmetic, so a failure here (a 404 or 500 from a proxy, a 429) is logged in one
    line and tried again with capped backoff; a 400 (the menu itself is wrong) is not retried."""
    for attempt in range(1, attempts + 1):
        try:
            await bot.set_my_commands(menu)
        except BadRequest as exc:
            log.error("setMyCommands rejected the menu (%s); it is left as it was", type(exc).__name__)
            return False
        except TelegramError as exc:  # also a 404 from a proxy (InvalidToken)
            wait, reason = retry_wait(exc, attempt)
        else:
            return True
        if attempt < attempts:
            log.warning(
                "setMyCommands failed (%s), attempt %d; the bot serves on, trying again in %.0f s",
                reason,
                attempt,
                wait,
            )
            await asyncio.sleep(wait)
    log.error("setMyCommands failed %d times; the command menu is left as it was", attempts)
    return False


STARTUP_FIRST_WAIT = 1.0  # seconds before the second attempt; doubled each time
STARTUP_MAX_WAIT = 30.0  # the cap: while Telegram stays away, one attempt every 30 s
_T = TypeVar("_T")


class StartupError(Exception):
    """Start-up cannot go on for a reason waiting will not fix (Telegram rejected the token, the
    metrics port is taken); one line, no token."""


def startup_wait(attempt: int) -> float:
    """Seconds to wait after failed attempt number ``attempt``: 1, 2, 4, ... capped at 30."""
    return float(min(STARTUP_MAX_WAIT, STARTUP_FIRST_WAIT * 2 ** max(0, attempt - 1)))


def retry_wait(exc: TelegramError, attempt: int) -> tuple[float, str]:
    """How long to wait after a failed start-up call, and why, in one line: at least what a 429
    asks; a network error or 5xx with its redacted words; anything else by its type alone (the
    words of ``InvalidToken`` quote the token)."""
    if isinstance(exc, RetryAfter):
        return max(retry_after_seconds(exc), startup_wait(attempt)), "429 Too Many Requests"
    if isinstance(exc, NetworkError):
        return startup_wait(attempt), f"{type(exc).__name__}: {redact(exc.message)[:200]}"
    return startup_wait(attempt), type(exc).__name__


async def retry_startup(what: str, call: Callable[[], Awaitable[_T]]) -> _T:
    """Run a start-up call until Telegram answers it.

    Unreachable, timed out, 5xx (``NetworkError``) and 429 (``RetryAfter``, waiting at least
    what Telegram asks) are retried with capped backoff and for as long as it takes, one warning
    per attempt. A rejected token (401/404: ``InvalidToken``) raises :class:`StartupError`; any
    other error (a 400, say) is raised as it is: waiting would not fix it.
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            return await call()
        except InvalidToken as exc:  # its message quotes the token: never passed on
            raise StartupError(
                f"Telegram rejected TELEGRAM_BOT_TOKEN ({what} answered Unauthorized or Not Found); "
                "check the token and TELEGRAM_API_URL"
            ) from exc
        except BadRequest:  # a NetworkError in PTB, but not one that waiting fixes
            raise
        except (RetryAfter, NetworkError) as exc:  # 429; refused or reset, TimedOut, 5xx
            wait, reason = retry_wait(exc, attempt)
        log.warning(
            "Telegram not reachable at start-up: %s failed (%s), attempt %d; trying again in %.0f s",
            what,
            reason,
            attempt,
            wait,
        )
        await asyncio.sleep(wait)


class KnotbotApplication(Application):  # type: ignore[type-arg]
    """PTB's Application whose ``initialize`` (getMe) waits for Telegram (:func:`retry_startup`)."""

    async def initialize(self) -> None:
        await retry_startup("getMe", super().initialize)


async def wait_for_telegram(settings: Settings) -> None:
    """Retry getMe with a bot of its own until Telegram answers (webhook mode checks this before
    its server starts, so a rejected token ends the start with one line)."""
    assert settings.telegram_bot_token is not None
    bot = Bot(settings.telegram_bot_token.get_secret_value(), base_url=settings.telegram_api_url)
    try:
        await retry_startup("getMe", bot.initialize)
    finally:
        await bot.shutdown()


def polling_error(exc: TelegramError) -> None:
    """PTB's polling loop retries a failed getUpdates with backoff: one line, not a traceback."""
    log.warning("getUpdates failed (%s); polling goes on with backoff", type(exc).__name__)


def build_application(
    settings: Settings,
    *,
    core: Core | None = None,
    db: Database | None = None,
    request: BaseRequest | None = None,
    get_updates_request: BaseRequest | None = None,
    polling: bool = True,
) -> Application:  # type: ignore[type-arg]
    """The real PTB Application. Tests pass a fake Bot API through ``TELEGRAM_API_URL``."""
    # PTB 22 reads time spans (RetryAfter.retry_after, ...) as timedelta when this is set, and warns
    # otherwise; our code accepts both forms, so opt in and keep the logs free of that warning
    os.environ.setdefault("PTB_TIMEDELTA", "1")
    if settings.telegram_bot_token is None:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    core = core or build_core(settings, db=db)
    builder = (
        ApplicationBuilder()
        .application_class(KnotbotApplication)  # getMe at start-up waits for Telegram
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(settings.telegram_api_url)
    )
    if request is not None:
        builder = builder.request(request)
    if polling:  # an update PTB cannot parse is skipped with one line, not logged whole in a loop
        inner = get_updates_request or HTTPXRequest(connection_pool_size=1)
        builder = builder.get_updates_request(SkipUnparsable(inner))
    if not polling:  # webhook mode: updates come from bot.adapters.webhook, not an Updater
        builder = builder.updater(None)
    if polling:  # confirm an offset to Telegram only after its updates were handled (docs/reliability.md)
        builder = builder.update_queue(AckingQueue())
    token = settings.telegram_bot_token.get_secret_value()
    set_person_key(settings.log_salt.get_secret_value() if settings.log_salt else token)
    application = builder.build()
    assert application.job_queue is not None, "install python-telegram-bot[job-queue]"
    transport = TelegramTransport(
        application, core.db, SendLimiter(rate=settings.send_rate, chat_burst=settings.chat_burst)
    )
    delivery = build_delivery(core, transport, application.job_queue.scheduler)
    limit = settings.flood_limit
    bot = TelegramBot(
        core=core,
        delivery=delivery,
        flood=FloodGate(limit=limit) if limit else None,
        defer_paced_replies=polling,
    )
    application.add_handler(TypeHandler(Update, bot.on_update))
    application.add_error_handler(bot.on_error)
    application.post_init = bot.post_init
    application.post_stop = bot.post_stop
    application.post_shutdown = bot.post_shutdown
    return application
