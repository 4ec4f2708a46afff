"""Typed keys for what the application shares between handlers."""

from __future__ import annotations

import aiosqlite
from aiohttp import web

from .config import Settings
from .domain.catalog import Catalog
from .domain.engagement import Engagement
from .domain.flusher import Flusher
from .domain.related_service import RelatedService
from .domain.reports import Reports
from .metrics import Metrics
from .storage.redis_cluster import Client
from .storage.redis_link import RedisLink
from .storage.sqlite_store import SqliteStore

SETTINGS = web.AppKey("settings", Settings)
REDIS = web.AppKey[Client]("redis")  # one Redis, or a Redis Cluster
REDIS_LINK = web.AppKey("redis_link", RedisLink)  # absent for TLS URLs
DB = web.AppKey("db", aiosqlite.Connection)
STORE = web.AppKey("store", SqliteStore)
CATALOG = web.AppKey("catalog", Catalog)
ENGAGEMENT = web.AppKey("engagement", Engagement)
ADMIN_TOKEN = web.AppKey("admin_token", str)
FLUSHER = web.AppKey("flusher", Flusher)
METRICS = web.AppKey("metrics", Metrics)
REPORTS = web.AppKey("reports", Reports)
RELATED = web.AppKey("related", RelatedService)
