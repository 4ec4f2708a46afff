"""Which durable store a process uses: PostgreSQL when DATABASE_URL is set, else SQLite in DATA_DIR."""

from __future__ import annotations

from ..config import Settings
from .durable import Durable
from .pg_durable import PgDurable
from .sqlite_durable import SqliteDurable


async def open_durable(settings: Settings) -> Durable:
    """The opened and migrated store the settings name."""
    if settings.database_url is not None:
        return await PgDurable.open(
            settings.database_url.get_secret_value(), settings.database_timeout_s,
            settings.database_flush_timeout_s, settings.database_pool_size,
        )
    return await SqliteDurable.open(settings.sqlite_path, settings.sqlite_busy_timeout_ms, settings.readyz_timeout_s)
