"""The Telegram adapter: PTB ``Application`` factory, update → event, message → Bot API call.

No conversation logic lives here. Every update goes through one handler that
turns it into a domain event, runs it through :class:`~bot.service.ConversationService`
(one transaction), answers the button press, and sends the reply rows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes, TypeHandler
from telegram.request import BaseRequest

from bot.attachments import Rendered
from bot.delivery import Blocked, PermanentFailure, TemporaryFailure
from bot.domain import effects
from bot.domain.events import Command, Event, Text, Unsupported, command_name, decode_press
from bot.runtime import Core, Delivery, build_core, build_delivery
from bot.settings import Settings
from bot.storage.db import Database
from bot.storage.repositories import MediaFiles

log = logging.getLogger(__name__)

CHANNEL = "telegram"
CAPTION_LIMIT = 1024
COMMANDS = (
    ("massage", "Start a guided self-massage session"),
    ("cancel", "Stop the current session"),
    ("about", "What a muscle knot is"),
    ("help", "What I can do"),
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


class TelegramTransport:
    """Sends a domain message with the Bot API, mapping errors to delivery outcomes."""

    def __init__(self, application: Application, db: Database) -> None:  # type: ignore[type-arg]
        self.application = application
        self.db = db
        self._file_ids: dict[str, str] = {}

    async def send(self, chat_id: str, message: effects.Message, attachment: Rendered | None = None) -> None:
        try:
            await self._send(int(chat_id), message, attachment)
        except Forbidden as exc:
            raise Blocked(exc.message) from exc
        except RetryAfter as exc:
            wait = exc.retry_after
            seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
            raise TemporaryFailure("429 Too Many Requests", retry_after=seconds) from exc
        except BadRequest as exc:
            raise PermanentFailure(exc.message) from exc
        except NetworkError as exc:  # includes TimedOut and 5xx
            raise TemporaryFailure(type(exc).__name__) from exc
        except TelegramError as exc:
            raise TemporaryFailure(type(exc).__name__) from exc

    async def _send(self, chat_id: int, message: effects.Message, attachment: Rendered | None) -> None:
        bot = self.application.bot
        markup: InlineKeyboardMarkup | ReplyKeyboardMarkup | None = keyboard(message)
        if message.ask_location:
            markup = location_keyboard(message)
        if attachment is None:
            await bot.send_message(chat_id=chat_id, text=message.text, reply_markup=markup)
            return
        caption_fits = len(message.text) <= CAPTION_LIMIT
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
            await bot.send_message(chat_id=chat_id, text=message.text, reply_markup=markup)

    async def _send_photo(
        self,
        chat_id: int,
        attachment: Rendered,
        caption: str | None,
        markup: InlineKeyboardMarkup | ReplyKeyboardMarkup | None,
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

        async def work(session: AsyncSession) -> str | None:
            return await MediaFiles(session).get(key)

        file_id: str | None = await self.db.run(work)
        if file_id is not None:
            self._file_ids[key] = file_id
        return file_id

    async def _remember_file_id(self, key: str, file_id: str) -> None:
        self._file_ids[key] = file_id

        async def work(session: AsyncSession) -> None:
            await MediaFiles(session).put(key, file_id)

        await self.db.run(work)


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
    for kind in UNSUPPORTED_KINDS:
        if getattr(message, kind, None):
            return Unsupported(kind)
    return Unsupported("other")


@dataclass
class TelegramBot:
    """Holds the runtime parts for the handler (typed, no string keys)."""

    core: Core
    delivery: Delivery

    async def on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        user = update.effective_user
        if chat is None or user is None or chat.type != ChatType.PRIVATE:
            return  # groups and channels: see docs/reliability.md
        event: Event
        query = update.callback_query
        if query is not None:
            event = decode_press(query.data if isinstance(query.data, str) else None)
        elif update.message is not None:
            event = event_from_message(update.message)
        else:
            return  # edited messages, reactions, ...: nothing to do
        handled = await self.core.service.handle(
            CHANNEL, str(user.id), str(chat.id), event, update_id=update.update_id
        )
        if query is not None:
            try:
                await query.answer(text=handled.toasts[0] if handled.toasts else None)
            except TelegramError as exc:
                log.info("could not answer a callback query: %s", type(exc).__name__)
        await self.delivery.deliverer.deliver(handled.replies)
        self.delivery.waker.wake_at(handled.scheduled_first)

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log one line (update id and error type, never message text) and tell the person to retry."""
        update_id = update.update_id if isinstance(update, Update) else None
        error = context.error
        log.error(
            "update failed update_id=%s error=%s",
            update_id,
            type(error).__name__,
            exc_info=(type(error), error, error.__traceback__) if error is not None else None,
        )
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None or chat.type != ChatType.PRIVATE:
            return
        try:
            await context.bot.send_message(chat.id, self.core.content.text("error.try_again"))
        except TelegramError:
            log.info("could not send the try-again note update_id=%s", update_id)

    async def post_init(self, application: Application) -> None:  # type: ignore[type-arg]
        if self.core.db.is_sqlite:
            await self.core.db.create_schema()
        await application.bot.set_my_commands([BotCommand(name, text) for name, text in COMMANDS])
        self.delivery.waker.start()

    async def post_stop(self, application: Application) -> None:  # type: ignore[type-arg]
        await self.delivery.waker.stop()

    async def post_shutdown(self, application: Application) -> None:  # type: ignore[type-arg]
        await self.delivery.waker.stop()
        await self.core.db.dispose()


def build_application(
    settings: Settings,
    *,
    core: Core | None = None,
    db: Database | None = None,
    request: BaseRequest | None = None,
    get_updates_request: BaseRequest | None = None,
) -> Application:  # type: ignore[type-arg]
    """The real PTB Application. Tests pass a fake Bot API through ``TELEGRAM_API_URL``."""
    if settings.telegram_bot_token is None:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    core = core or build_core(settings, db=db)
    builder = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(settings.telegram_api_url)
        .rate_limiter(AIORateLimiter(max_retries=2))
    )
    if request is not None:
        builder = builder.request(request)
    if get_updates_request is not None:
        builder = builder.get_updates_request(get_updates_request)
    application = builder.build()
    assert application.job_queue is not None, "install python-telegram-bot[job-queue]"
    delivery = build_delivery(core, TelegramTransport(application, core.db), application.job_queue.scheduler)
    bot = TelegramBot(core=core, delivery=delivery)
    application.add_handler(TypeHandler(Update, bot.on_update))
    application.add_error_handler(bot.on_error)
    application.post_init = bot.post_init
    application.post_stop = bot.post_stop
    application.post_shutdown = bot.post_shutdown
    return application
