"""Typed keys for everything the application shares: resources, domain services and the edge's own objects.

Every `web.AppKey` of the service is here; `app.py` fills them in one order.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import aiosqlite
from aiohttp import web

from .config import Settings
from .domain.catalog import Catalog
from .domain.clock import Clock
from .domain.engagement import Engagement
from .domain.flusher import Flusher, Hook
from .domain.ops import OpsView
from .domain.related_service import RelatedService
from .domain.reports import Reports
from .domain.trending_cache import TrendingStore
from .domain.worker_lease import WorkerLease
from .metrics import Metrics
from .storage.durable import ArticleStore, Durable
from .storage.embedded import EmbeddedRedis
from .storage.redis_cluster import Client
from .storage.redis_link import RedisLink

if TYPE_CHECKING:  # the edge's objects: their own modules read these keys, so a runtime import would be a cycle
    from .api.deadline import Deadlines
    from .api.edge import Routes
    from .api.widget import Assets

# set by create_app, before anything starts
SETTINGS = web.AppKey("settings", Settings)
METRICS = web.AppKey("metrics", Metrics)
ADMIN_TOKEN = web.AppKey("admin_token", str)
RUN_FLUSHER = web.AppKey("run_flusher", bool)
FLUSH_HOOK: web.AppKey[Hook] = web.AppKey("flush_hook")  # tests pause the flusher between its steps
TRENDING_CLOCK: web.AppKey[Clock] = web.AppKey("trending_clock")  # tests set it before the app starts
DEADLINES: web.AppKey[Deadlines] = web.AppKey("deadlines")
ROUTES: web.AppKey[Routes] = web.AppKey("routes")

# resources, opened by the cleanup contexts
EMBEDDED = web.AppKey("embedded_redis", EmbeddedRedis)  # only without REDIS_URL
REDIS = web.AppKey[Client]("redis")  # one Redis, or a Redis Cluster
REDIS_PING: web.AppKey[Callable[[], Awaitable[None]]] = web.AppKey("redis_ping")  # every primary of a cluster
REDIS_LINK = web.AppKey("redis_link", RedisLink)  # absent for TLS URLs
DURABLE: web.AppKey[Durable] = web.AppKey("durable")  # SQLite or PostgreSQL (DATABASE_URL)
DB = web.AppKey("db", aiosqlite.Connection)  # the SQLite store's connection; absent with PostgreSQL
STORE: web.AppKey[ArticleStore] = web.AppKey("store")
ASSETS: web.AppKey[Assets] = web.AppKey("widget_assets")

# domain services
CATALOG = web.AppKey("catalog", Catalog)
ENGAGEMENT = web.AppKey("engagement", Engagement)
REPORTS = web.AppKey("reports", Reports)
RELATED = web.AppKey("related", RelatedService)
FLUSHER = web.AppKey("flusher", Flusher)
TRENDING = web.AppKey("trending", TrendingStore)
OPS = web.AppKey("ops", OpsView)
LEASE = web.AppKey("worker_lease", WorkerLease)  # every role: api replicas only read who holds it
