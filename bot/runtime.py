"""Wires the parts together once: content, matcher, database, service, deliverer, dispatcher.

Both adapters (Telegram and terminal) build one :class:`Runtime` and plug in
their own transport and scheduler.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from bot.attachments import Attachments
from bot.content_loader import load_content
from bot.delivery import DISPATCH_LEASE_FACTOR, Deliverer, Dispatcher, Transport, Waker
from bot.domain.content import Content
from bot.domain.matcher import Matcher
from bot.pictures.renderers import register_pictures
from bot.privacy import mydata_renderer
from bot.retention import Retention
from bot.service import ConversationService, Handled
from bot.settings import Settings
from bot.storage.db import Database
from bot.storage.leader import leader_for


@dataclass
class Core:
    """What does not depend on the transport."""

    settings: Settings
    content: Content
    matcher: Matcher
    db: Database
    service: ConversationService
    clock: Callable[[], float]
    attachments: Attachments


def build_core(
    settings: Settings,
    *,
    content: Content | None = None,
    db: Database | None = None,
    clock: Callable[[], float] = time.time,
) -> Core:
    content = content or load_content(settings.content_dir)
    matcher = Matcher(content)
    db = db or Database(settings.database_url)
    service = ConversationService(
        db,
        content,
        matcher,
        time_scale=settings.time_scale,
        clock=clock,
        reply_lease=timedelta(seconds=settings.lease_seconds),
        retention_days=settings.retention_days,
        max_pending_per_kind=settings.max_pending_per_kind,
    )
    attachments = Attachments()  # renderers for message attachments, by spec prefix
    attachments.register("mydata", mydata_renderer(db))  # /mydata: everything stored, as JSON
    register_pictures(attachments, content, db)  # area pictures and the /progress chart
    return Core(
        settings=settings,
        content=content,
        matcher=matcher,
        db=db,
        service=service,
        clock=clock,
        attachments=attachments,
    )


@dataclass
class Delivery:
    """Deliverer, dispatcher and waker for one transport and one APScheduler instance."""

    deliverer: Deliverer
    dispatcher: Dispatcher
    waker: Waker
    retention: Retention  # the daily pruning job, on the same scheduler as the waker

    async def after_update(self, handled: Handled, *, defer_paced: bool = False) -> None:
        """Once an update has committed, the same for every adapter: send the claimed replies in
        order, then the direct messages (the farewell after /delete), then set the wake-up for the
        first timed message. ``defer_paced``: see :meth:`Deliverer.deliver` (Telegram polling)."""
        await self.deliverer.deliver(handled.replies, defer_paced=defer_paced)
        await self.deliverer.send_direct(handled.direct)
        self.waker.wake_at(handled.scheduled_first)


def build_delivery(core: Core, transport: Transport, scheduler: object) -> Delivery:
    deliverer = Deliverer(
        core.db,
        transport,
        clock=core.clock,
        attachments=core.attachments,
        lease=timedelta(seconds=core.settings.lease_seconds),
    )
    # dispatched rows may wait for the limiter: a longer lease
    lease = timedelta(seconds=DISPATCH_LEASE_FACTOR * core.settings.lease_seconds)
    dispatcher = Dispatcher(
        core.db, deliverer, core.content, clock=core.clock, lease=lease, time_scale=core.settings.time_scale
    )
    waker = Waker(
        scheduler,
        dispatcher,
        poll_seconds=core.settings.dispatch_poll_seconds,
        leader=leader_for(core.db),
    )
    deliverer.on_retry = waker.wake_at
    retention = Retention(core.db, days=core.settings.retention_days, clock=core.clock)
    return Delivery(deliverer=deliverer, dispatcher=dispatcher, waker=waker, retention=retention)
