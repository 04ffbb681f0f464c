"""Alembic revision scripts, chained by ``down_revision`` (see ``bot.storage.migrations``)."""
