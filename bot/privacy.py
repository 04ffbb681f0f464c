"""The /mydata export as a message attachment: a JSON document rendered when it is sent.

Registered in :func:`bot.runtime.build_core` under the spec ``"mydata"``. It
reads every row about the person (:func:`bot.storage.privacy.export_person`)
in its own short transaction at send time, so the file shows the data as it is
then — including the row of the message that carries it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.attachments import Rendered, Renderer
from bot.storage.db import Database
from bot.storage.privacy import export_json, export_person

EXPORT_FILENAME = "knotbot-my-data.json"
EXPORT_NOTE = (
    "Everything Knotbot stores about you, one list per table. Ids of body areas, tools and techniques "
    "refer to Knotbot's content; times are UTC. /delete erases all of it."
)


def mydata_renderer(db: Database) -> Renderer:
    async def render(person_id: int, _argument: str) -> Rendered:
        async def work(session: AsyncSession) -> dict[str, Any] | None:
            return await export_person(session, person_id)

        data: dict[str, Any] | None = await db.run(work)
        document = {"about": EXPORT_NOTE, "data": data or {}}
        return Rendered(kind="document", filename=EXPORT_FILENAME, data=export_json(document))

    return render
