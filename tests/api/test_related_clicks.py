"""Clicks on related items and shown related lists: counted once per event id, bots apart, flushed to
SQLite, and shown in stats as click-through rates per article and position."""

from __future__ import annotations

from typing import Any

import pytest

from service import appkeys as K
from tests.conftest import AUTH, BROWSER_UA, REDIS_MODES, put_article, redis_url_of
from tests.flush.helpers import sqlite_totals


@pytest.fixture(params=REDIS_MODES)
def redis_url(request: pytest.FixtureRequest, redis_url: str) -> str:
    """Every test here runs on one Redis and on a 3-master Redis Cluster."""
    return redis_url_of(request, redis_url)

BROWSER = {"User-Agent": BROWSER_UA}


async def impression(client: Any, source: str, event_id: str, headers: dict[str, str] = BROWSER) -> Any:
    return await client.post(f"/v1/articles/{source}/related/impressions", json={"event_id": event_id},
                             headers=headers)


async def click(client: Any, source: str, target: str, position: int, event_id: str,
                headers: dict[str, str] = BROWSER) -> Any:
    return await client.post(f"/v1/articles/{source}/related/clicks",
                             json={"event_id": event_id, "target": target, "position": position}, headers=headers)


async def test_clicks_and_impressions_give_click_through_rates(client: Any) -> None:
    await put_article(client, "src")
    await put_article(client, "dst", url="https://t4k3.news/dst")
    for n in range(4):
        resp = await impression(client, "src", f"imp-{n:04d}")
        assert resp.status == 202 and (await resp.json())["status"] == "accepted"
    assert (await (await impression(client, "src", "imp-0000")).json())["status"] == "duplicate"
    for n, position in enumerate((1, 1, 3)):
        assert (await (await click(client, "src", "dst", position, f"clk-{n:04d}")).json())["status"] == "accepted"
    assert (await (await click(client, "src", "dst", 1, "clk-0000")).json())["status"] == "duplicate"
    bot = await click(client, "src", "dst", 2, "clk-bot-0001", headers={"User-Agent": "curl/8.5.0"})
    assert (await bot.json())["status"] == "bot"
    stats = await (await client.get("/v1/articles/src/stats")).json()
    related = stats["related"]
    assert related["impressions"] == 4
    assert related["clicks"]["total"] == 3
    assert related["clicks"]["by_position"] == {"1": 2, "2": 0, "3": 1, "4": 0, "5": 0, "6": 0, "7": 0, "8": 0}
    assert related["ctr"] == 0.75
    assert related["ctr_by_position"]["1"] == 0.5 and related["ctr_by_position"]["2"] == 0.0
    assert stats["bot_related_clicks"] == 1
    report = await client.app[K.FLUSHER].flush_once()
    assert report.events == 4 + 3 + 1
    totals = sqlite_totals(client.app[K.SETTINGS].sqlite_path)
    assert totals[("src", "related_view", "")] == 4
    assert totals[("src", "related_click", "1")] == 2 and totals[("src", "related_click", "3")] == 1
    assert totals[("src", "bot_related_click", "2")] == 1
    await client.app[K.FLUSHER].flush_once()  # nothing twice
    assert sqlite_totals(client.app[K.SETTINGS].sqlite_path) == totals


async def test_no_list_shown_yet_has_no_rate(client: Any) -> None:
    await put_article(client, "quiet")
    related = (await (await client.get("/v1/articles/quiet/stats")).json())["related"]
    assert related["impressions"] == 0 and related["ctr"] is None


async def test_bad_related_events_are_4xx(client: Any) -> None:
    await put_article(client, "src")
    for body in ({"target": "dst", "position": 0}, {"target": "dst", "position": 51}, {"target": "a b", "position": 1},
                 {"position": 1}, {"target": "dst", "position": "1x"}, {"target": "dst", "position": 1, "x": 1}):
        resp = await client.post("/v1/articles/src/related/clicks", json=body, headers=BROWSER)
        assert resp.status == 422, body
        assert (await resp.json())["error"]["code"] == "validation_error"
    assert (await click(client, "nope", "dst", 1, "clk-nope-01")).status == 404
    assert (await impression(client, "bad.id", "imp-bad-0001")).status in (404, 422)


async def test_ops_summary_counts_related_events_as_their_own_kind(client: Any) -> None:
    await put_article(client, "src")
    assert (await impression(client, "src", "imp-ops-0001")).status == 202
    assert (await click(client, "src", "dst", 1, "clk-ops-0001")).status == 202
    resp = await client.get("/v1/ops/summary", headers=AUTH)
    assert resp.status == 200, await resp.text()
    accepted = (await resp.json())["events"]["accepted"]
    assert (accepted["related_view"], accepted["related_click"]) == (1, 1)
