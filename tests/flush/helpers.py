"""Shared helpers of the flush tests: send events, read durable totals (SQLite file or PostgreSQL)."""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg

from service.config import Settings
from tests.conftest import BROWSER_UA

NETS = ("facebook", "x", "email")


async def send(client: Any, kind: str, article_id: str, seq: int, code: str = "") -> int:
    """One event over HTTP; returns the status."""
    headers = {"User-Agent": BROWSER_UA, "X-Seq": str(seq)}
    if kind == "view":
        resp = await client.post(f"/v1/articles/{article_id}/views", json={"event_id": f"ev-{article_id}-{seq:08d}"},
                                 headers=headers)
    elif kind.startswith("share:"):
        resp = await client.post(f"/v1/articles/{article_id}/shares", json={"network": kind[6:]}, headers=headers)
    else:
        resp = await client.get(f"/s/{code}", allow_redirects=False, headers=headers)
    await resp.read()
    return int(resp.status)


def sqlite_totals(path: Path) -> Counter[tuple[str, str, str]]:
    """(article, metric, network) -> n from counter_totals, read with a separate connection."""
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT article_id, metric, network, n FROM counter_totals").fetchall()
    return Counter({(a, m, n): c for a, m, n, c in rows})


async def durable_rows(settings: Settings, sql: str) -> list[tuple[Any, ...]]:
    """Rows of a query (SQL both databases speak) on the store the settings name, on a connection of its own."""
    if settings.database_url is None:
        with sqlite3.connect(settings.sqlite_path) as db:
            return [tuple(r) for r in db.execute(sql).fetchall()]
    conn = await asyncpg.connect(settings.database_url.get_secret_value())
    try:
        return [tuple(r) for r in await conn.fetch(sql)]
    finally:
        await conn.close()


async def durable_totals(settings: Settings) -> Counter[tuple[str, str, str]]:
    """(article, metric, network) -> n from counter_totals."""
    rows = await durable_rows(settings, "SELECT article_id, metric, network, n FROM counter_totals")
    return Counter({(a, m, n): int(c) for a, m, n, c in rows})


async def hourly_sums(settings: Settings) -> Counter[tuple[str, str, str]]:
    rows = await durable_rows(
        settings, "SELECT article_id, metric, network, SUM(n) FROM counter_hourly GROUP BY article_id, metric, network"
    )
    return Counter({(a, m, n): int(c) for a, m, n, c in rows})


async def ledger_ids(settings: Settings) -> set[str]:
    return {str(r[0]) for r in await durable_rows(settings, "SELECT batch_id FROM applied_batches")}


def ledger_size(path: Path) -> int:
    """Batches in a SQLite file's ledger."""
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT COUNT(*) FROM applied_batches").fetchone()[0])


def expected_key(kind: str, article_id: str, network: str = "") -> tuple[str, str, str]:
    if kind == "view":
        return (article_id, "view", "")
    if kind.startswith("share:"):
        return (article_id, "share", kind[6:])
    return (article_id, "click", network)


def service_env(settings: Settings) -> dict[str, str]:
    """What a `python -m service` child needs to use the same Redis and durable store."""
    env = {"REDIS_URL": str(settings.redis_url), "DATA_DIR": str(settings.data_dir)}
    if settings.database_url is not None:
        env["DATABASE_URL"] = settings.database_url.get_secret_value()
    return env
