"""Every knob of the service, typed, read from the environment."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .records import NETWORKS, Network

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _split(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Service configuration; environment variables override the defaults."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    redis_url: str | None = None
    data_dir: Path = Path("./data")
    # postgresql://user:password@host/db: the shared durable store for several hosts; unset, SQLite in data_dir
    database_url: SecretStr | None = None
    admin_token: SecretStr | None = None
    public_base_url: str = "http://127.0.0.1:8080"
    allowed_hosts: Annotated[list[str], NoDecode] = ["t4k3.news", "localhost", "127.0.0.1"]
    trusted_proxies: Annotated[list[IPNetwork], NoDecode] = []
    cors_origins: Annotated[list[str], NoDecode] = ["*"]
    metrics_public: bool = False
    log_format: Literal["json", "text"] = "json"
    log_level: str = "INFO"

    # roles: `all` is one process doing everything; `api` replicas only serve; the one `worker` holding the
    # lease flushes, builds queued related lists and rebuilds after a Redis loss (standby workers wait)
    role: Literal["all", "api", "worker"] = "all"
    worker_lease_ttl_s: float = Field(4.0, gt=0)  # a standby takes over this long after the holder died
    worker_lease_renew_s: float = Field(1.0, gt=0)  # the holder renews (and a standby tries) this often

    # counting
    event_id_ttl_s: int = Field(86_400, ge=60)
    retry_dedupe_ttl_s: int = Field(300, ge=10)
    max_public_body: int = 16 * 1024
    max_admin_body: int = 8 * 1024 * 1024

    # redis client
    redis_socket_timeout_s: float = Field(2.0, gt=0)
    redis_connect_timeout_s: float = Field(2.0, gt=0)
    redis_health_check_interval_s: int = Field(15, ge=0)
    redis_retries: int = Field(2, ge=0)

    # flush
    flush_interval_s: float = Field(10.0, gt=0)
    sqlite_busy_timeout_ms: int = Field(5000, ge=0)
    hourly_retention_days: int = Field(90, ge=2)
    ledger_retention_days: int = Field(30, ge=1)
    shutdown_timeout_s: float = Field(15.0, gt=0)
    database_timeout_s: float = Field(5.0, gt=0)  # each PostgreSQL call of a request; past it: 503
    database_flush_timeout_s: float = Field(60.0, gt=0)  # each flush transaction and migration at start
    database_pool_size: int = Field(10, ge=1)  # PostgreSQL connections per process at most

    # trending and the ops dashboard
    trending_cache_s: float = Field(5.0, ge=0)  # a ranking is recomputed at most this often
    ops_refresh_s: float = Field(5.0, gt=0)  # how often the dashboard polls

    # related news
    related_term_weight: float = Field(1.0, ge=0)  # S = term_weight * S_terms + tag_weight * S_tags
    related_tag_weight: float = Field(0.2, ge=0)
    related_recency_weight: float = Field(1.0, ge=0)  # storage key = S * (1 + recency_weight * R)
    related_half_life_days: float = Field(60.0, gt=0)  # R halves this far from the query's publish time
    related_popularity_weight: float = Field(0.3, ge=0)
    related_share_weight: float = Field(5.0, ge=0)  # popularity = views + share_weight * shares
    related_mmr_lambda: float = Field(0.85, ge=0, le=1)  # 1: no diversity reordering
    related_max_terms: int = Field(25, ge=1, le=100)  # salient terms kept per article
    related_query_terms: int = Field(12, ge=0, le=100)  # heaviest terms whose postings a list build reads
    related_title_weight: int = Field(2, ge=1, le=10)  # a title word counts this many summary words
    related_language: str = "english"  # Snowball stemmer
    related_gate_max_df: float = Field(0.10, gt=0, le=1)  # tags and terms on more articles are not scanned
    related_gate_min_catalog: int = 300
    related_candidates: int = 50
    related_per_tag_cap: int = 200  # postings nearest in time read per tag
    related_per_term_cap: int = Field(100, ge=1)  # and per term
    related_cache_s: float = 30.0
    related_cache_entries: int = Field(5000, ge=1)  # articles whose answers and candidate ids are kept
    related_fallback_days: float = Field(7.0, gt=0)  # "recent" for the most-read fallback
    related_fallback_pool: int = Field(50, ge=1)  # newest articles read per fallback source (tag, section, all)
    related_recent_cap: int = Field(2000, ge=1)  # newest articles kept per section and overall
    related_inline_batch: int = Field(20, ge=1)  # bigger catalog writes queue their list builds
    related_build_batch: int = Field(5000, ge=1)  # queued lists per builder step, built in publish-time order
    related_bulk_quiet_s: int = Field(30, ge=1)  # builders wait until bulk imports pause this long
    related_stats_refresh_s: float = Field(30.0, gt=0)  # tag and term statistics reloaded at least this often
    related_fresh_poll_s: float = Field(0.2, gt=0)  # replicas poll the index generation this often (staleness)
    related_claim_s: float = Field(300.0, gt=0)  # a queued build claimed by a builder that died is free after

    # widget (defaults baked into /widget.js; a site overrides them with data attributes)
    widget_share_heading: str = Field("Let your friends know!", min_length=1, max_length=120)
    widget_related_heading: str = Field("Related News", min_length=1, max_length=120)
    widget_networks: Annotated[list[Network], NoDecode] = list(NETWORKS)  # type: ignore[arg-type]
    widget_related_limit: int = Field(8, ge=1, le=20)  # as the news page the product was designed for

    # the HTTP server (`serve`)
    header_timeout_s: float = Field(10.0, gt=0)  # a request's headers must arrive within this; idle keep-alive too
    max_connections: int | None = Field(None, ge=1)  # unset: what RLIMIT_NOFILE leaves room for
    # faults: every request that touches Redis answers within a bound, the embedded Redis is supervised
    redis_request_timeout_s: float = Field(2.0, gt=0)  # a request waiting on Redis longer answers 503
    readyz_timeout_s: float = Field(1.0, gt=0)  # each readiness check, run side by side
    redis_idle_ping_s: float = Field(5.0, gt=0)  # the ingest link PINGs when idle this long (dead peers)
    embedded_redis_appendfsync: Literal["always", "everysec", "no"] = "everysec"  # "always": no loss on kill -9

    # honest counts under abuse: per visitor (keyed by its IP alone, salted daily; 0 turns a limit off)
    view_per_visitor_s: int = Field(1800, ge=0)  # one view per article counts this long; the rest: repeat_views
    share_per_visitor_s: int = Field(86_400, ge=0)  # one share per article and network; the rest: repeat_shares
    click_per_visitor_s: int = Field(3600, ge=0)  # one click per share link; the rest: repeat_clicks
    write_rate_per_visitor_min: int = Field(60, ge=0)  # writes per endpoint, shard and minute; then 429

    @model_validator(mode="after")
    def _lease_renewed_in_time(self) -> Settings:
        if self.worker_lease_renew_s >= self.worker_lease_ttl_s:
            raise ValueError("WORKER_LEASE_RENEW_S must be shorter than WORKER_LEASE_TTL_S")
        return self

    @field_validator("widget_networks", mode="before")
    @classmethod
    def _widget_networks(cls, value: object) -> object:
        return _split(value)

    @field_validator("allowed_hosts", "cors_origins", "trusted_proxies", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return _split(value)

    @field_validator("allowed_hosts")
    @classmethod
    def _lower_hosts(cls, value: list[str]) -> list[str]:
        return [host.lower().rstrip(".") for host in value]

    @field_validator("public_base_url")
    @classmethod
    def _check_base(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("PUBLIC_BASE_URL must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("REDIS_URL must start with redis://, rediss:// or unix://")
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if not value.get_secret_value().startswith(("postgresql://", "postgres://")):
            raise ValueError("DATABASE_URL must start with postgresql:// or postgres://")
        return value

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "engagement.sqlite3"

    @property
    def embedded_redis_dir(self) -> Path:
        return self.data_dir / "redis"

    def host_allowed(self, host: str) -> bool:
        """True if article URLs may point to this host (`.example.com` allows subdomains)."""
        host = host.lower().rstrip(".")
        for allowed in self.allowed_hosts:
            if allowed.startswith(".") and (host == allowed[1:] or host.endswith(allowed)):
                return True
            if host == allowed:
                return True
        return False
