"""The application factory: every resource and background task in one cleanup context each, started in
the order `create_app` lists them (stopped in reverse); then the routes of each API module."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial

from aiohttp import web

from . import appkeys as K
from .api import catalog as catalog_api
from .api import demo as demo_api
from .api import events as events_api
from .api import health as health_api
from .api import links as links_api
from .api import metrics as metrics_api
from .api import openapi as openapi_api
from .api import ops as ops_api
from .api import related as related_api
from .api import reports as reports_api
from .api import shariff as shariff_api
from .api import stats as stats_api
from .api import trending as trending_api
from .api import widget as widget_api
from .api.deadline import BoundedRoutes, Deadlines
from .config import Settings
from .domain.articles import Article
from .domain.catalog import Catalog
from .domain.clock import utcnow
from .domain.engagement import Engagement, EventPolicy
from .domain.flusher import Flusher, Hook, MayRun
from .domain.ops import OpsConfig, OpsView
from .domain.related_build import RelatedConfig
from .domain.related_service import RelatedService
from .domain.reports import Reports
from .domain.trending_cache import TrendingStore
from .domain.worker_lease import WorkerLease
from .metrics import Metrics
from .storage.durable_open import open_durable
from .storage.embedded import EmbeddedRedis
from .storage.flush_status import FlushStatus
from .storage.layout import move_shard_tags
from .storage.lease import RedisLease
from .storage.migrations import run_migrations
from .storage.ops_store import OpsStore
from .storage.redis_batches import RedisBatches
from .storage.redis_client import connect, make_link, make_retry, warn_if_evicting
from .storage.redis_cluster import Cluster, ping_all
from .storage.redis_counters import RedisCounters
from .storage.redis_index import RedisIndex
from .storage.related_claims import RelatedClaims, RelatedGeneration
from .storage.related_index import RelatedIndex
from .storage.salts import DailySalt
from .storage.sqlite_durable import SqliteDurable
from .storage.trending_store import HotReader
from .tasks import stop_task

log = logging.getLogger(__name__)


async def edge_ctx(app: web.Application) -> AsyncIterator[None]:
    app[K.ROUTES].check()  # raises for a route added around the edge
    yield


async def deadlines_ctx(app: web.Application) -> AsyncIterator[None]:
    """The request watchdog, owned: started with the app, cancelled and awaited at shutdown."""
    task = asyncio.create_task(app[K.DEADLINES].watch())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def redis_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[K.SETTINGS]
    embedded = supervisor = None
    url = settings.redis_url
    if url is None:
        embedded = EmbeddedRedis(settings.embedded_redis_dir, settings.embedded_redis_appendfsync)
        url = await embedded.start()
        supervisor = asyncio.create_task(embedded.supervise())  # restarts a server that died
        app[K.EMBEDDED] = embedded
    client = await connect(url, settings)
    link = None if isinstance(client, Cluster) else make_link(url, settings)  # a cluster: redis-py routes ingest
    try:
        await warn_if_evicting(client)
        await move_shard_tags(client)  # before anything reads a shard's keys
        app[K.REDIS] = client
        ping: Callable[[], Awaitable[None]] = partial(ping_all, client)
        app[K.REDIS_PING] = ping
        if link is not None:
            app[K.REDIS_LINK] = link
        yield
    finally:
        if link is not None:
            await link.close()
        await client.aclose()
        if supervisor is not None:
            await stop_task(supervisor)
        if embedded is not None:
            await embedded.stop()


async def durable_ctx(app: web.Application) -> AsyncIterator[None]:
    """The durable store: PostgreSQL when DATABASE_URL is set, else the SQLite file in DATA_DIR."""
    durable = await open_durable(app[K.SETTINGS])
    app[K.DURABLE] = durable
    app[K.STORE] = durable.store
    if isinstance(durable, SqliteDurable):
        app[K.DB] = durable.db
    try:
        yield
    finally:
        await durable.close()


async def domain_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[K.SETTINGS]
    redis = app[K.REDIS]
    index = RedisIndex(redis)
    catalog = Catalog(app[K.STORE], index, settings.host_allowed)
    app[K.CATALOG] = catalog
    counters = RedisCounters(redis, link=app.get(K.REDIS_LINK), retry=make_retry(settings))
    app[K.ENGAGEMENT] = Engagement(
        counters,
        index,
        DailySalt(redis),
        catalog,
        settings.public_base_url,
        EventPolicy(
            settings.event_id_ttl_s, settings.retry_dedupe_ttl_s, settings.view_per_visitor_s,
            settings.share_per_visitor_s, settings.click_per_visitor_s, settings.write_rate_per_visitor_min,
        ),
        on_event=app[K.METRICS].event,
    )
    app[K.REPORTS] = Reports(redis, app[K.DURABLE].reports)
    if settings.role == "all":  # else the lease holder rebuilds: its flusher checks at every cycle
        rebuilt = await catalog.rebuild()
        if rebuilt:
            log.info("rebuilt the redis index of %d articles from the durable store", rebuilt)
    yield
    await counters.close()


async def migrations_ctx(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(run_migrations(app[K.REDIS]))  # older Redis layouts, while serving
    try:
        yield
    finally:
        await stop_task(task)


async def lease_ctx(app: web.Application) -> AsyncIterator[None]:
    """The worker lease: a `worker` takes part (renews or waits as a standby); other roles only read it.
    Set up before the flusher and the builder, so it is released after their last work."""
    settings = app[K.SETTINGS]
    worker = settings.role == "worker"
    lease = WorkerLease(RedisLease(app[K.REDIS]), settings.worker_lease_ttl_s, settings.worker_lease_renew_s,
                        takes_part=worker)
    app[K.LEASE] = lease
    task = asyncio.create_task(lease.run()) if worker else None
    try:
        yield
    finally:
        if task is not None:
            await stop_task(task)
            await _bounded(lease.release(), settings.redis_request_timeout_s, "release the worker lease")


async def _bounded(work: Awaitable[None], seconds: float, what: str) -> None:
    try:
        async with asyncio.timeout(seconds):
            await work
    except Exception as exc:  # shutting down: the lease expires by itself
        log.warning("could not %s: %s", what, exc)


def may_work(app: web.Application) -> MayRun | None:
    """What background work checks before each cycle; None for an api replica, which does none."""
    role = app[K.SETTINGS].role
    if role == "api":
        return None
    return app[K.LEASE].check if role == "worker" else _always


async def _always() -> bool:
    return True


async def related_ctx(app: web.Application) -> AsyncIterator[None]:
    catalog, redis = app[K.CATALOG], app[K.REDIS]
    claims = RelatedClaims(redis)
    related = RelatedService(
        RelatedIndex(redis), RelatedConfig.from_settings(app[K.SETTINGS]), reindex=catalog.reindex,
        load_article=app[K.STORE].get_article, claims=claims, generation=RelatedGeneration(redis),
    )
    freshness = related.freshness
    assert freshness is not None
    await freshness.step()  # the generation seen and the statistics loaded
    app[K.RELATED] = related
    catalog.bulk_listeners.append(related.indexer.on_articles)
    tasks = [asyncio.create_task(freshness.run())]  # other replicas' writes reach this one's caches
    may_run = may_work(app)
    if may_run is not None:  # rebuilds a lost index, drains queued builds
        app[K.LEASE].on_acquired.append(claims.release_all)  # a dead holder's claims are ours now
        tasks.append(asyncio.create_task(related.indexer.run(app[K.STORE], may_run)))
    try:
        yield
    finally:
        for task in tasks:
            await stop_task(task)


async def demo_ctx(app: web.Application) -> AsyncIterator[None]:
    from .demo import load_demo

    loaded = await load_demo(app[K.CATALOG])
    log.info("demo catalog: %d articles", loaded)
    yield


async def flusher_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[K.SETTINGS]
    flusher = Flusher(
        RedisBatches(app[K.REDIS]),
        app[K.DURABLE].counters(app.get(K.FLUSH_HOOK) or _no_hook),
        app[K.CATALOG],
        settings.hourly_retention_days,
        settings.ledger_retention_days,
        hook=app.get(K.FLUSH_HOOK) or _no_hook,
        shared=FlushStatus(app[K.REDIS]),
        holder_id=app[K.LEASE].holder_id,
    )
    app[K.FLUSHER] = flusher
    may_run = may_work(app) if app[K.RUN_FLUSHER] else None
    task = asyncio.create_task(flusher.run(settings.flush_interval_s, may_run)) if may_run is not None else None
    try:
        yield
    finally:
        if task is not None and may_run is not None:
            await stop_task(task)
            if await may_run():
                await flusher.flush_logged()  # the final flush after SIGTERM


async def _no_hook(step: str) -> None:
    return None


async def trending_ctx(app: web.Application) -> AsyncIterator[None]:
    """The trending rankings; unpublishing an article drops the cached ones at once."""
    store = TrendingStore(
        HotReader(app[K.REDIS], app[K.DURABLE].aggregates),
        clock=app.get(K.TRENDING_CLOCK, utcnow),
        ttl_s=app[K.SETTINGS].trending_cache_s,
        size=trending_api.MAX_LIMIT,
    )
    app[K.TRENDING] = store

    async def on_article(article: Article) -> None:
        if article.status != "published":
            store.invalidate()

    app[K.CATALOG].listeners.append(on_article)
    try:
        yield
    finally:
        await store.close()


async def ops_ctx(app: web.Application) -> AsyncIterator[None]:
    """The ops summary, over the trending rankings, the flusher and the metrics."""
    settings = app[K.SETTINGS]
    app[K.OPS] = OpsView(
        app[K.TRENDING],
        app[K.FLUSHER],
        OpsStore(app[K.REDIS], app[K.DURABLE].aggregates),
        app[K.METRICS],
        OpsConfig(settings.flush_interval_s, settings.ops_refresh_s, role=settings.role),
        clock=app[K.TRENDING].clock,
        lease=app[K.LEASE],
        shared=FlushStatus(app[K.REDIS]),
    )
    yield


async def assets_ctx(app: web.Application) -> AsyncIterator[None]:
    """The widget script and the demo page's files, built once, off the event loop."""
    app[K.ASSETS] = await asyncio.to_thread(widget_api.load_assets, app[K.SETTINGS])
    yield


def create_app(
    settings: Settings | None = None,
    *,
    demo: bool = False,
    flusher: bool = True,
    flush_hook: Hook | None = None,
) -> web.Application:
    """The aiohttp application; nothing is opened until it starts."""
    settings = settings or Settings()
    metrics = Metrics()
    app = web.Application(client_max_size=settings.max_admin_body)
    app[K.DEADLINES] = deadlines = Deadlines(settings.redis_request_timeout_s)
    app[K.ROUTES] = BoundedRoutes(app, metrics, settings.cors_origins, deadlines)
    app[K.SETTINGS] = settings
    app[K.METRICS] = metrics
    token = settings.admin_token.get_secret_value() if settings.admin_token else ""
    if not token:
        token = secrets.token_urlsafe(24)
        log.warning("ADMIN_TOKEN is not set; admin token for this run: %s", token)
    app[K.ADMIN_TOKEN] = token
    app[K.RUN_FLUSHER] = flusher
    if flush_hook is not None:
        app[K.FLUSH_HOOK] = flush_hook
    app.cleanup_ctx.extend([
        edge_ctx,  # first, before anything opens: every route goes through the edge
        deadlines_ctx,  # the request watchdog
        redis_ctx,  # the client and the lean link (and the embedded server without REDIS_URL)
        durable_ctx,  # SQLite in DATA_DIR or PostgreSQL (DATABASE_URL): catalog, counters, ledger, reports
        domain_ctx,  # catalog, engagement, reports; the Redis index rebuilt if Redis lost it
        migrations_ctx,  # older Redis layouts, while serving
        lease_ctx,  # the worker lease: before the flusher and the builder, so released after their last work
        related_ctx,  # the related lists and their builder
        *([demo_ctx] if demo else []),  # the demo catalog, once the catalog and its listeners are there
        flusher_ctx,  # its final flush runs after every later context has stopped
        trending_ctx,  # uses the catalog's listeners
        ops_ctx,  # uses the trending rankings and the flusher
        assets_ctx,  # the widget script
    ])
    for module in (
        events_api, stats_api, links_api, health_api, catalog_api, reports_api, shariff_api, widget_api, related_api,
        metrics_api, trending_api, ops_api,
    ):
        module.setup(app)
    if demo:
        demo_api.setup(app)
    openapi_api.setup(app)
    app[K.ROUTES].close()  # the catch-all, last: 404, 405 and preflights through the edge
    return app
