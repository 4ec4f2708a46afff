"""Honest counts under scripted abuse: per-visitor windows, bots apart, rate limits, all flushed exactly."""

from __future__ import annotations

import asyncio
import ipaddress
import sqlite3
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from service import appkeys as K
from service.app import create_app
from service.config import Settings
from tests.conftest import BROWSER_UA, RAW_COUNTING, put_article

N = 2000
CURL = {"User-Agent": "curl/8.5.0"}
DEFAULTS = {name: Settings.model_fields[name].default for name in RAW_COUNTING}


@pytest.fixture
def limited(settings: Settings) -> Settings:
    """The shipped windows, no rate limit (so that 2,000 requests of one visitor all reach the windows)."""
    trusted = [ipaddress.ip_network("127.0.0.0/8")]
    return settings.model_copy(update={**DEFAULTS, "write_rate_per_visitor_min": 0, "trusted_proxies": trusted})


@pytest.fixture
async def abused(limited: Settings, aiohttp_client: Callable[..., Any]) -> Any:
    return await aiohttp_client(create_app(limited, flusher=False), headers={"User-Agent": BROWSER_UA})


async def _all(n: int, one: Callable[[int], Awaitable[Any]], width: int = 50) -> Counter[Any]:
    """Answers of n requests, `width` at a time."""
    statuses: Counter[Any] = Counter()
    for start in range(0, n, width):
        statuses.update(await asyncio.gather(*(one(i) for i in range(start, min(n, start + width)))))
    return statuses


async def _stats(client: Any, article_id: str) -> dict[str, Any]:
    data: dict[str, Any] = await (await client.get(f"/v1/articles/{article_id}/stats")).json()
    return data


async def _view(client: Any, i: int, headers: dict[str, str]) -> tuple[int, str]:
    resp = await client.post("/v1/articles/a1/views", json={"event_id": f"evt-abuse-{i:06d}"}, headers=headers)
    return resp.status, (await resp.json()).get("status", "")


async def _status(request: Any) -> int:
    resp = await request
    await resp.read()
    return int(resp.status)


def _rotating(i: int) -> dict[str, str]:
    return {"User-Agent": f"{BROWSER_UA} rotated/{i}"}


async def test_views_count_once_per_visitor_window_even_with_rotating_user_agents(abused: Any) -> None:
    await put_article(abused, "a1")
    answers: Counter[tuple[int, str]] = Counter()
    for start in range(0, N, 50):
        answers.update(await asyncio.gather(*(_view(abused, i, _rotating(i)) for i in range(start, start + 50))))
    assert answers == {(202, "accepted"): 1, (202, "repeat"): N - 1}
    stats = await _stats(abused, "a1")
    assert (stats["views"], stats["repeat_views"], stats["unique_visitors"]) == (1, N - 1, 1)
    other = await _view(abused, N, {**_rotating(0), "X-Forwarded-For": "203.0.113.9"})  # another visitor counts
    assert other == (202, "accepted")
    assert (await _stats(abused, "a1"))["views"] == 2


async def test_shares_count_once_per_visitor_article_and_network_and_bots_apart(abused: Any) -> None:
    await put_article(abused, "a1")

    async def share(i: int, headers: dict[str, str], network: str = "x") -> int:
        body = {"network": network, "event_id": f"evt-share-{i:06d}"}
        resp = await abused.post("/v1/articles/a1/shares", json=body, headers=headers)
        data = await resp.json()
        assert data["counted"] == (data["status"] == "accepted")
        return int(resp.status)

    assert await _all(N, lambda i: share(i, _rotating(i))) == {201: N}
    assert await _all(N, lambda i: share(N + i, CURL)) == {201: N}  # curl: a script, counted as a bot
    assert await share(3 * N, _rotating(0), "facebook") == 201  # another network is another share
    stats = await _stats(abused, "a1")
    assert stats["shares"]["total"] == 2
    assert stats["shares"]["by_network"]["x"] == stats["shares"]["by_network"]["facebook"] == 1
    assert (stats["repeat_shares"], stats["bot_shares"]) == (N - 1, N)


async def test_clicks_count_once_per_visitor_and_share_link_and_bots_apart(abused: Any) -> None:
    await put_article(abused, "a1")
    code = (await (await abused.post("/v1/articles/a1/shares", json={"network": "email"})).json())["code"]

    async def click(i: int, headers: dict[str, str]) -> int:
        resp = await abused.get(f"/s/{code}", allow_redirects=False, headers=headers)
        assert resp.headers["Location"].startswith("https://t4k3.news/story")  # a repeat still redirects
        return int(resp.status)

    assert await _all(N, lambda i: click(i, _rotating(i))) == {302: N}
    assert await _all(200, lambda i: click(i, CURL)) == {302: 200}
    stats = await _stats(abused, "a1")
    assert (stats["clicks"]["total"], stats["clicks"]["by_network"]["email"]) == (1, 1)
    assert (stats["repeat_clicks"], stats["bot_clicks"]) == (N - 1, 200)


async def test_a_window_ends_and_the_next_view_counts(limited: Settings, aiohttp_client: Callable[..., Any]) -> None:
    client = await aiohttp_client(create_app(limited.model_copy(update={"view_per_visitor_s": 1}), flusher=False))
    await put_article(client, "a1")
    assert await _view(client, 0, _rotating(0)) == (202, "accepted")
    assert await _view(client, 1, _rotating(0)) == (202, "repeat")
    deadline, i = time.monotonic() + 20, 2
    while (answer := await _view(client, i, _rotating(0))) != (202, "accepted"):
        assert answer == (202, "repeat") and time.monotonic() < deadline
        await asyncio.sleep(0.05)  # polling until the 1 s window ends
        i += 1
    stats = await _stats(client, "a1")
    assert (stats["views"], stats["repeat_views"]) == (2, i - 1)


async def test_the_flush_carries_repeats_and_bot_shares_to_sqlite_exactly(abused: Any, limited: Settings) -> None:
    await put_article(abused, "a1")
    code = (await (await abused.post("/v1/articles/a1/shares", json={"network": "x"}, headers=CURL)).json())["code"]
    await _all(300, lambda i: _view(abused, i, _rotating(i)))
    await _all(300, lambda i: _status(abused.post("/v1/articles/a1/shares", json={"network": "x"})))
    await _all(300, lambda i: _status(abused.get(f"/s/{code}", allow_redirects=False)))
    live = await _stats(abused, "a1")
    await abused.app[K.FLUSHER].flush_once()
    with sqlite3.connect(limited.sqlite_path) as db:
        rows = dict(((m, n), c) for m, n, c in db.execute("SELECT metric, network, n FROM counter_totals"))
    assert rows == {
        ("view", ""): 1, ("repeat_view", ""): 299, ("share", "x"): 1, ("repeat_share", "x"): 299,
        ("bot_share", "x"): 1, ("click", "x"): 1, ("repeat_click", "x"): 299,
    }
    assert (await abused.app[K.FLUSHER].flush_once()).events == 0  # nothing twice
    assert await _stats(abused, "a1") == live


async def test_rate_limit_answers_429_with_retry_after_shared_by_replicas(
    settings: Settings, aiohttp_client: Callable[..., Any]
) -> None:
    five = settings.model_copy(update={**DEFAULTS, "write_rate_per_visitor_min": 5, "view_per_visitor_s": 0})
    replicas = [await aiohttp_client(create_app(five, flusher=False)) for _ in range(2)]
    await put_article(replicas[0], "a1")
    answers = []
    for i in range(30):  # one visitor, through both replicas in turn
        resp = await replicas[i % 2].post("/v1/articles/a1/views", json={"event_id": f"evt-rl-{i:06d}"})
        answers.append(resp.status)
        if resp.status == 429:
            assert 1 <= int(resp.headers["Retry-After"]) <= 60
            error = (await resp.json())["error"]
            assert error["code"] == "rate_limited" and error["details"]["retry_after_s"] >= 1
    passed = answers.count(202)
    assert 5 <= passed <= 10 and answers.count(429) == 30 - passed  # one minute, or two if it turned meanwhile
    stats = await _stats(replicas[1], "a1")
    assert stats["views"] + stats["bot_views"] == passed  # a limited event counts nothing
    share = await replicas[0].post("/v1/articles/a1/shares", json={"network": "x"})  # each endpoint its own budget
    assert share.status == 201
