"""Time series and CSV export over flushed and live data."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

from service import appkeys as K
from tests.conftest import AUTH, BROWSER_UA, put_article


async def _views(client: Any, article_id: str, n: int, offset: int = 0) -> None:
    for i in range(n):
        resp = await client.post(f"/v1/articles/{article_id}/views", json={"event_id": f"ts-{offset + i:06d}"},
                                 headers={"User-Agent": BROWSER_UA})
        assert resp.status == 202


def _hour_floor(moment: datetime) -> str:
    return moment.replace(minute=0, second=0, microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_timeseries_counts_flushed_and_live_events(client: Any) -> None:
    await put_article(client, "a1")
    await _views(client, "a1", 4)
    await client.app[K.FLUSHER].flush_once()
    await _views(client, "a1", 3, offset=100)  # still only in Redis
    resp = await client.get("/v1/articles/a1/timeseries?metric=views&granularity=hour")
    assert resp.status == 200
    body = await resp.json()
    assert body["metric"] == "views" and body["granularity"] == "hour"
    assert len(body["points"]) == 49
    now = datetime.now(UTC)
    by_t = {p["t"]: p["value"] for p in body["points"]}
    assert by_t[_hour_floor(now)] == 7
    assert sum(by_t.values()) == 7
    day = await (await client.get("/v1/articles/a1/timeseries?metric=views&granularity=day")).json()
    assert day["points"][-1]["value"] == 7 and sum(p["value"] for p in day["points"]) == 7
    shares = await (await client.get("/v1/articles/a1/timeseries?metric=shares")).json()
    assert sum(p["value"] for p in shares["points"]) == 0


async def test_timeseries_rejects_bad_queries(client: Any) -> None:
    await put_article(client, "a1")
    for query in ("metric=likes", "granularity=week", "from=yesterday",
                  "from=2026-01-01T00:00:00Z&to=2025-01-01T00:00:00Z",
                  "granularity=hour&from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", "bogus=1"):
        resp = await client.get(f"/v1/articles/a1/timeseries?{query}")
        assert resp.status == 422, query
        assert (await resp.json())["error"]["code"] == "validation_error"
    assert (await client.get("/v1/articles/nope/timeseries")).status == 404


async def test_csv_export_is_admin_only_and_exact(client: Any) -> None:
    await put_article(client, "a1", title="=HYPERLINK(\"x\")")
    await put_article(client, "a2", url="https://t4k3.news/two")
    await _views(client, "a1", 5)
    share = await (await client.post("/v1/articles/a2/shares", json={"network": "email"})).json()
    await client.get(f"/s/{share['code']}", allow_redirects=False, headers={"User-Agent": BROWSER_UA})
    assert (await client.get("/v1/export/articles.csv")).status == 401
    start = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    resp = await client.get(f"/v1/export/articles.csv?from={start}", headers=AUTH)
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(await resp.text())))
    by_id = {r["article_id"]: r for r in rows}
    assert by_id["a1"]["views"] == "5" and by_id["a1"]["unique_visitors"] == "1"
    assert by_id["a1"]["title"].startswith("'=")  # no formula injection
    assert by_id["a2"]["shares"] == "1" and by_id["a2"]["clicks"] == "1"
