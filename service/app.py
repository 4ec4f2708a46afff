"""The application factory: resources in cleanup contexts, routes from each API module."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator

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
from .api.deadline import DEADLINES, BoundedRoutes, Deadlines, deadlines_ctx
from .api.edge import ROUTES
from .config import Settings
from .domain.catalog import Catalog
from .domain.engagement import Engagement, EventPolicy
from .domain.flusher import Flusher, Hook
from .domain.related_build import RelatedConfig
from .domain.related_service import RelatedService
from .domain.reports import Reports
from .metrics import Metrics
from .storage import schema
from .storage.embedded import EmbeddedRedis
from .storage.migrations import run_migrations
from .storage.redis_batches import RedisBatches
from .storage.redis_client import make_client, make_link, make_retry, warn_if_evicting
from .storage.redis_counters import RedisCounters
from .storage.redis_index import RedisIndex
from .storage.related_index import RelatedIndex
from .storage.salts import DailySalt
from .storage.sqlite_counters import SqliteCounters
from .storage.sqlite_reports import SqliteReports
from .storage.sqlite_store import SqliteStore
from .tasks import stop_task

log = logging.getLogger(__name__)


async def redis_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[K.SETTINGS]
    embedded = supervisor = None
    url = settings.redis_url
    if url is None:
        embedded = EmbeddedRedis(settings.embedded_redis_dir, settings.embedded_redis_appendfsync)
        url = await embedded.start()
        supervisor = asyncio.create_task(embedded.supervise())  # restarts a server that died
        app[EMBEDDED] = embedded
    client = make_client(url, settings)
    link = make_link(url, settings)
    try:
        await client.ping()
        await warn_if_evicting(client)
        app[K.REDIS] = client
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


async def sqlite_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[K.SETTINGS]
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = await schema.connect(str(settings.sqlite_path), settings.sqlite_busy_timeout_ms)
    app[K.DB] = db
    app[K.STORE] = SqliteStore(db)
    try:
        yield
    finally:
        await db.close()


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
    app[K.REPORTS] = Reports(redis, SqliteReports(app[K.DB]))
    rebuilt = await catalog.rebuild()
    if rebuilt:
        log.info("rebuilt the redis index of %d articles from SQLite", rebuilt)
    yield
    await counters.close()


async def migrations_ctx(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(run_migrations(app[K.REDIS]))  # older Redis layouts, while serving
    try:
        yield
    finally:
        await stop_task(task)


async def related_ctx(app: web.Application) -> AsyncIterator[None]:
    catalog = app[K.CATALOG]
    related = RelatedService(
        RelatedIndex(app[K.REDIS]), RelatedConfig.from_settings(app[K.SETTINGS]), reindex=catalog.reindex,
        load_article=app[K.STORE].get_article,
    )
    await related.indexer.refresh_stats()
    app[K.RELATED] = related
    catalog.bulk_listeners.append(related.indexer.on_articles)
    task = asyncio.create_task(related.indexer.run(app[K.STORE]))  # rebuilds a lost index, drains queued builds
    try:
        yield
    finally:
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
        SqliteCounters(app[K.DB], app.get(FLUSH_HOOK) or _no_hook),
        app[K.CATALOG],
        settings.hourly_retention_days,
        settings.ledger_retention_days,
        hook=app.get(FLUSH_HOOK) or _no_hook,
    )
    app[K.FLUSHER] = flusher
    task = asyncio.create_task(flusher.run(settings.flush_interval_s)) if app[RUN_FLUSHER] else None
    try:
        yield
    finally:
        if task is not None:
            await stop_task(task)
            await flusher.flush_logged()  # the final flush after SIGTERM


async def _no_hook(step: str) -> None:
    return None


FLUSH_HOOK: web.AppKey[Hook] = web.AppKey("flush_hook")
EMBEDDED = web.AppKey("embedded_redis", EmbeddedRedis)
RUN_FLUSHER = web.AppKey("run_flusher", bool)


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
    app[DEADLINES] = deadlines = Deadlines(settings.redis_request_timeout_s)
    app[ROUTES] = BoundedRoutes(app, metrics, settings.cors_origins, deadlines)
    app[K.SETTINGS] = settings
    app[K.METRICS] = metrics
    token = settings.admin_token.get_secret_value() if settings.admin_token else ""
    if not token:
        token = secrets.token_urlsafe(24)
        log.warning("ADMIN_TOKEN is not set; admin token for this run: %s", token)
    app[K.ADMIN_TOKEN] = token
    app[RUN_FLUSHER] = flusher
    if flush_hook is not None:
        app[FLUSH_HOOK] = flush_hook
    app.cleanup_ctx.extend([deadlines_ctx, redis_ctx, sqlite_ctx, domain_ctx, migrations_ctx, related_ctx])
    if demo:
        app.cleanup_ctx.append(demo_ctx)
    app.cleanup_ctx.append(flusher_ctx)
    api = (events_api, stats_api, links_api, health_api, catalog_api, reports_api, shariff_api, widget_api)
    for module in (*api, related_api, metrics_api, trending_api, ops_api):  # ops after trending: it uses its store
        module.setup(app)
    if demo:
        demo_api.setup(app)
    openapi_api.setup(app)
    app[ROUTES].close()  # the catch-all, last: 404, 405 and preflights through the edge
    return app
