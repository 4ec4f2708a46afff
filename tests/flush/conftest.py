"""The durable-store tests run against both stores: the SQLite file in DATA_DIR and a private PostgreSQL."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from service.config import Settings
from tests.pg import PostgresServer, create_database

DURABLES = ["sqlite", "postgres"]


@pytest.fixture(params=DURABLES)
def durable(request: pytest.FixtureRequest) -> PostgresServer | None:
    """The private PostgreSQL for the "postgres" runs; None for SQLite (its server is not started then)."""
    if request.param == "postgres":
        server: PostgresServer = request.getfixturevalue("pg_server")
        return server
    return None


@pytest.fixture
async def settings(settings: Settings, durable: PostgresServer | None) -> Settings:
    """The suite's settings, with DATABASE_URL set to a fresh database in the "postgres" runs."""
    if durable is None:
        return settings
    return settings.model_copy(update={"database_url": SecretStr(await create_database(durable))})
