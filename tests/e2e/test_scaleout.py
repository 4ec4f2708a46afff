"""Scale-out end to end (issue 14 item 6): a 3-master Redis Cluster, a private PostgreSQL, two `api` and two
`worker` processes; views, shares and clicks across both api replicas; kill -9 of the lease holder and of one
api replica mid-run, both restarted; then `/stats` on every process and the PostgreSQL totals equal the 2xx
answers exactly.

Views and shares carry event ids: one that got no answer (its replica was killed) is sent again, with the
same id, to a replica still up, and counts once per id whatever the second answer says (accepted or
duplicate). A click (`GET /s/{code}`) has no event id, so an unanswered one would have an unknown outcome:
the kill of the api replica waits for an instant when views or shares are in flight to it and no click is
(new clicks go to the other replica from then on), and any click without a 302 fails the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr

from service.config import Settings
from tests.conftest import ADMIN, AUTH, BROWSER_UA, article_body, sync_client
from tests.flush.helpers import durable_totals
from tests.flush.test_roles import Serve, serving, until

pytestmark = pytest.mark.timeout(280)

ARTICLES = [f"e2e-{i}" for i in range(4)]
NETWORKS = ("facebook", "x", "email")
KINDS = ("view", "share", "view", "click", "view", "click")
METRICS = ("view", "share", "click")
SENDERS = 4  # concurrent clients
RETRY_S = 30.0  # how long an event with an id is tried again on the replicas still up
ENV = {
    "WORKER_LEASE_TTL_S": "2", "WORKER_LEASE_RENEW_S": "0.4", "FLUSH_INTERVAL_S": "0.5",
    "REDIS_REQUEST_TIMEOUT_S": "10",  # 2 loaded cores: a slow answer is not an outage here
}
Key = tuple[str, str, str]  # (article, metric, network) as in counter_totals
TIMEOUT = aiohttp.ClientTimeout(total=20)


@dataclass(eq=False)
class Replica:
    """An api process traffic is sent to, and what is in flight to it now."""

    serve: Serve
    clicks_allowed: bool = True
    clicks_in_flight: int = 0
    others_in_flight: int = 0


@dataclass
class Traffic:
    """Concurrent views, shares and clicks over the api replicas that are up; what got a 2xx."""

    session: aiohttp.ClientSession
    replicas: list[Replica]
    codes: dict[tuple[str, str], str] = field(default_factory=dict)
    acked: dict[str, Key] = field(default_factory=dict)  # event id -> key: views and shares with a 2xx
    clicks: Counter[Key] = field(default_factory=Counter)  # clicks answered 302
    problems: list[str] = field(default_factory=list)
    retried: Counter[str] = field(default_factory=Counter)  # answers of events with an id got only on a retry
    issued: int = 0
    budget: int = 0
    picks: int = 0  # round robin over the replicas, whatever the kind

    def expected(self) -> Counter[Key]:
        return Counter(self.acked.values()) + self.clicks

    def answered(self) -> int:
        return len(self.acked) + sum(self.clicks.values())

    def _pick(self, click: bool, avoid: Replica | None) -> Replica:
        up = [r for r in self.replicas if r.clicks_allowed] if click else list(self.replicas)
        if avoid is not None and len(up) > 1 and avoid in up:
            up.remove(avoid)
        self.picks += 1
        return up[self.picks % len(up)]

    async def _post(self, replica: Replica, path: str, body: dict[str, str]) -> tuple[int, Any]:
        async with self.session.post(replica.serve.base + path, json=body, timeout=TIMEOUT,
                                     headers={"User-Agent": BROWSER_UA}) as resp:
            return resp.status, await resp.json(content_type=None)

    async def with_id(self, n: int, path: str, body: dict[str, str], want: int, key: Key) -> Any:
        """Send an event that has an id until a replica answers `want`; the answer's body."""
        event_id = body["event_id"]
        deadline = time.monotonic() + RETRY_S
        last: Replica | None = None
        tries = 0
        while time.monotonic() < deadline:
            replica = self._pick(False, last)
            replica.others_in_flight += 1
            try:
                status, answer = await self._post(replica, path, body)
            except (aiohttp.ClientError, TimeoutError):
                status, answer = 0, None  # no answer: its replica was killed mid-request
            finally:
                replica.others_in_flight -= 1
            if status == want:
                self.acked[event_id] = key
                if tries:
                    self.retried[str(answer.get("status"))] += 1  # duplicate: the killed replica had counted it
                return answer
            if 0 < status < 500:
                self.problems.append(f"{event_id}: {status} {answer}")
                return None
            tries, last = tries + 1, replica
            await asyncio.sleep(0.05)  # a short back-off before the retry on another replica
        self.problems.append(f"{event_id}: no {want} within {RETRY_S} s")
        return None

    async def click(self, n: int, article: str, network: str) -> None:
        replica = self._pick(True, None)
        replica.clicks_in_flight += 1
        try:
            async with self.session.get(f"{replica.serve.base}/s/{self.codes[article, network]}", timeout=TIMEOUT,
                                        allow_redirects=False, headers={"User-Agent": BROWSER_UA}) as resp:
                status = resp.status
                await resp.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            status = 0
            self.problems.append(f"click {n}: no answer ({exc!r}): its outcome is unknown")
        finally:
            replica.clicks_in_flight -= 1
        if status == 302:
            self.clicks[article, "click", network] += 1
        elif status:
            self.problems.append(f"click {n}: {status}")

    async def share(self, n: int, article: str, network: str) -> None:
        answer = await self.with_id(n, f"/v1/articles/{article}/shares",
                                    {"network": network, "event_id": f"s-{n:07d}"}, 201, (article, "share", network))
        if answer is not None:
            self.codes.setdefault((article, network), answer["code"])

    async def event(self, n: int) -> None:
        kind, article, network = KINDS[n % len(KINDS)], ARTICLES[n % len(ARTICLES)], NETWORKS[n // 12 % 3]
        if kind == "view":
            await self.with_id(n, f"/v1/articles/{article}/views", {"event_id": f"v-{n:07d}"}, 202,
                               (article, "view", ""))
        elif kind == "share":
            await self.share(n, article, network)
        else:
            await self.click(n, article, network)

    async def _sender(self) -> None:
        while self.issued < self.budget:
            n = self.issued
            self.issued += 1
            await self.event(n)

    async def run(self, events: int) -> None:
        """Send `events` more events from SENDERS concurrent clients."""
        self.budget += events
        await asyncio.gather(*(self._sender() for _ in range(SENDERS)))

    def kill_when_only_ids_in_flight(self, victim: Replica) -> bool:
        """kill -9 `victim` now if a view or share is in flight to it and no click is; else False, and the
        senders get more events, so traffic goes on until the moment comes."""
        victim.clicks_allowed = False
        if victim.clicks_in_flight or victim.others_in_flight < 1:
            self.budget = max(self.budget, self.issued + 100)
            return False
        self.replicas.remove(victim)  # no new request goes there; retries go to the others
        victim.serve.kill()
        return True


def stats_key_counts(stats: dict[str, Any]) -> Counter[Key]:
    a = stats["article_id"]
    found: Counter[Key] = Counter({(a, "view", ""): stats["views"]})
    for metric, tally in (("share", stats["shares"]), ("click", stats["clicks"])):
        found.update({(a, metric, net): n for net, n in tally["by_network"].items()})
    return +found  # zeros left out


async def stats_of(session: aiohttp.ClientSession, serve: Serve) -> Counter[Key]:
    found: Counter[Key] = Counter()
    for a in ARTICLES:
        async with session.get(f"{serve.base}/v1/articles/{a}/stats", timeout=TIMEOUT) as resp:
            assert resp.status == 200, f"{serve.base} stats {a}: {resp.status}"
            found += stats_key_counts(await resp.json())
    return found


async def counted(settings: Settings) -> Counter[Key]:
    """PostgreSQL's counter_totals of the views, shares and clicks (zeros left out)."""
    return +Counter({k: n for k, n in (await durable_totals(settings)).items() if k[1] in METRICS})


async def lease_holder_pid(session: aiohttp.ClientSession, serve: Serve) -> int | None:
    holder = (await serve.json(session, "/readyz"))["lease"].get("holder")
    return int(str(holder).split(":")[1]) if holder else None


def check(test: Callable[[], Awaitable[bool]]) -> Callable[[], Awaitable[bool]]:
    """`test` for `until`, with a process that is still starting or just went away read as not yet."""
    async def guarded() -> bool:
        try:
            return await test()
        except (aiohttp.ClientError, TimeoutError, KeyError):
            return False
    return guarded


@pytest.fixture
def e2e_settings(cluster_url: str, pg_url: str, tmp_path: Path) -> Settings:
    """The cluster (emptied) and a fresh PostgreSQL database, for the processes and the checks."""
    client = sync_client(cluster_url)
    client.flushall()  # on every primary: nothing left by another test (the lease key above all)
    client.close()
    return Settings(redis_url=cluster_url, database_url=SecretStr(pg_url), data_dir=tmp_path / "data",
                    admin_token=ADMIN, log_format="text")


async def test_scale_out_kill_9_of_the_lease_holder_and_an_api_replica_counts_exactly(e2e_settings: Settings) -> None:
    settings = e2e_settings
    began = time.monotonic()
    assert settings.database_url is not None
    env = dict(ENV, DATABASE_URL=settings.database_url.get_secret_value())
    everyone: list[Serve] = []
    async with serving(settings, **env) as start, aiohttp.ClientSession() as session:

        async def launch(role: str) -> Serve:
            serve = await start(role)
            everyone.append(serve)
            return serve

        api_a, api_b = Replica(await launch("api")), Replica(await launch("api"))
        worker_1, worker_2 = await launch("worker"), await launch("worker")
        for i, a in enumerate(ARTICLES):
            body = article_body(url=f"https://t4k3.news/{a}", title=f"Scale-out story {i}")
            async with session.put(f"{api_a.serve.base}/v1/articles/{a}", json=body, headers=AUTH) as resp:
                assert resp.status == 201, await resp.text()
        traffic = Traffic(session, [api_a, api_b])
        for j, (a, net) in enumerate((a, net) for a in ARTICLES for net in NETWORKS):  # the share codes
            await traffic.share(1_000_000 + j, a, net)
        assert len(traffic.codes) == len(ARTICLES) * len(NETWORKS), traffic.problems

        await until(check(lambda: _is(lease_holder_pid(session, api_a.serve), {worker_1.proc.pid,
                                                                                   worker_2.proc.pid})),
                    20, "a worker holds the lease")
        pid = await lease_holder_pid(session, api_a.serve)
        leader, standby = (worker_1, worker_2) if pid == worker_1.proc.pid else (worker_2, worker_1)

        # Phase 1, both replicas: mid-run, kill -9 the lease holder, then api B with views or shares in flight.
        busy = asyncio.create_task(traffic.run(300))
        await until(check(lambda: _true(traffic.answered() >= 120)), 60, "120 events answered")
        leader.kill()
        killed_at = time.monotonic()
        await until(check(lambda: _true(traffic.kill_when_only_ids_in_flight(api_b))), 30,
                    "api B has a view or share in flight and no click")
        in_flight_at_kill = api_b.others_in_flight
        killed_mid_run = traffic.issued < traffic.budget
        await busy
        assert killed_mid_run  # both kills happened while events were still being sent
        await leader.proc.wait()
        await api_b.serve.proc.wait()

        # Phase 2, api A alone: keep driving until the standby holds the lease (at most 15 rounds of 20).
        rounds, before = 0, traffic.issued
        while not await _is_holder(session, standby) and rounds < 15:
            await traffic.run(20)
            rounds += 1
        alone = traffic.issued - before
        await until(check(lambda: _is_holder(session, standby)), 20, "the standby takes the lease")
        took = time.monotonic() - killed_at  # within the poll period of the hand-over

        # Phase 3: restart the killed worker and api replica; drive on both replicas again.
        restarted_worker = await launch("worker")
        api_b2 = Replica(await launch("api"))
        traffic.replicas.append(api_b2)
        await traffic.run(150)
        assert traffic.problems == []

        expected = traffic.expected()
        alive = [api_a.serve, api_b2.serve, standby, restarted_worker]

        async def drained() -> bool:
            flush = (await api_a.serve.json(session, "/v1/ops/summary"))["flush"]
            return (flush["pending_batches"], flush["pending_deltas"]) == (0, 0) and await counted(settings) == expected

        with contextlib.suppress(AssertionError):  # the asserts below say what differs
            await until(check(drained), 30, "everything flushed to PostgreSQL")
        flush = (await api_a.serve.json(session, "/v1/ops/summary"))["flush"]
        assert (flush["pending_batches"], flush["pending_deltas"]) == (0, 0), flush
        durable = await counted(settings)
        assert durable == expected
        for serve in alive:  # every process answers the same, exact counts
            assert await stats_of(session, serve) == expected, serve.base
        assert await _is_holder(session, standby)
        assert await lease_holder_pid(session, api_b2.serve) == standby.proc.pid

        totals = Counter[str]()
        for (_a, metric, _net), n in expected.items():
            totals[metric] += n
        print(f"\nscale-out e2e: {traffic.issued} + {len(traffic.codes)} events sent, {traffic.answered()} with a 2xx "
              f"(views {totals['view']}, shares {totals['share']}, clicks {totals['click']}), "
              f"{sum(traffic.retried.values())} answered only on a retry on another replica with the same id "
              f"{dict(traffic.retried)} ({in_flight_at_kill} in flight to api B at its kill), {alone} sent on api A "
              f"alone after the kills; the standby held the lease {took:.1f} s after the kill; "
              f"PostgreSQL {sum(durable.values())}; "
              f"stats equal on {len(alive)} processes; {time.monotonic() - began:.1f} s")
    for serve in everyone:
        log = serve.log.read_text(errors="replace")
        assert "Traceback" not in log, f"{serve.log}:\n{log[-3000:]}"


async def _is(value: Awaitable[int | None], among: set[int]) -> bool:
    return await value in among


async def _true(value: bool) -> bool:
    return value


async def _is_holder(session: aiohttp.ClientSession, serve: Serve) -> bool:
    return bool((await serve.json(session, "/readyz"))["lease"].get("this_process"))
