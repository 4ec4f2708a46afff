"""Typed keys for what the application shares between handlers."""

from __future__ import annotations

import aiosqlite
import redis.asyncio as aioredis
from aiohttp import web

from .config import Settings
from .domain.catalog import Catalog
from .domain.engagement import Engagement
from .domain.flusher import Flusher
from .domain.related_service import RelatedService
from .domain.reports import Reports
from .metrics import Metrics
from .storage.durable import ArticleStore, Durable
from .storage.redis_link import RedisLink

SETTINGS = web.AppKey("settings", Settings)
REDIS = web.AppKey("redis", aioredis.Redis)
REDIS_LINK = web.AppKey("redis_link", RedisLink)  # absent for TLS URLs
DURABLE: web.AppKey[Durable] = web.AppKey("durable")  # SQLite or PostgreSQL (DATABASE_URL)
DB = web.AppKey("db", aiosqlite.Connection)  # the SQLite store's connection; absent with PostgreSQL
STORE: web.AppKey[ArticleStore] = web.AppKey("store")
CATALOG = web.AppKey("catalog", Catalog)
ENGAGEMENT = web.AppKey("engagement", Engagement)
ADMIN_TOKEN = web.AppKey("admin_token", str)
FLUSHER = web.AppKey("flusher", Flusher)
METRICS = web.AppKey("metrics", Metrics)
REPORTS = web.AppKey("reports", Reports)
RELATED = web.AppKey("related", RelatedService)
