"""Shared helpers of the flush tests: send events, read SQLite totals."""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

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


def hourly_sums(path: Path) -> Counter[tuple[str, str, str]]:
    with sqlite3.connect(path) as db:
        rows = db.execute(
            "SELECT article_id, metric, network, SUM(n) FROM counter_hourly GROUP BY article_id, metric, network"
        ).fetchall()
    return Counter({(a, m, n): c for a, m, n, c in rows})


def ledger_size(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT COUNT(*) FROM applied_batches").fetchone()[0])


def expected_key(kind: str, article_id: str, network: str = "") -> tuple[str, str, str]:
    if kind == "view":
        return (article_id, "view", "")
    if kind.startswith("share:"):
        return (article_id, "share", kind[6:])
    return (article_id, "click", network)
