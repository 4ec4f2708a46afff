"""The embeddable widget script, and the static assets held in memory that it and the demo pages use."""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from string import Template

from aiohttp import web
from pydantic import BaseModel, Field, TypeAdapter

from ..appkeys import ASSETS
from ..config import Settings
from .contract import Operation, Reply
from .edge import routes
from .parsing import has_etag

WEB = Path(__file__).resolve().parent.parent / "web"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "public, max-age=86400, stale-while-revalidate=604800"  # an unversioned URL must pick up releases


@dataclass(frozen=True)
class Asset:
    """A static file held in memory with its gzip form and content hash."""

    body: bytes
    gzipped: bytes
    version: str
    content_type: str

    @classmethod
    def of(cls, body: bytes, content_type: str) -> Asset:
        version = hashlib.sha256(body).hexdigest()[:16]
        return cls(body, gzip.compress(body, 9, mtime=0), version, content_type)

    @property
    def etag(self) -> str:
        return f'"{self.version}"'


class DemoContent(BaseModel):
    """The text of one demo article."""

    headline: str
    summary: str
    byline: str
    body: list[str]
    takeaways: list[str]


@dataclass(frozen=True)
class Assets:
    widget: Asset
    css: Asset
    template: Template
    content: dict[str, DemoContent]


_CONTENT = TypeAdapter(dict[str, DemoContent])


def widget_config(settings: Settings) -> str:
    """The server's widget defaults as a JS object literal safe inside any page."""
    config = {
        "shareHeading": settings.widget_share_heading,
        "relatedHeading": settings.widget_related_heading,
        "networks": ",".join(settings.widget_networks),
        "relatedLimit": str(settings.widget_related_limit),
    }
    text = json.dumps(config, ensure_ascii=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def build_widget(settings: Settings) -> Asset:
    """widget.js with the configured defaults baked in."""
    source = (WEB / "widget.js").read_text(encoding="utf-8")
    marker = "/*CONFIG*/{}"
    if source.count(marker) != 1:
        raise RuntimeError("widget.js must contain the config marker exactly once")
    return Asset.of(source.replace(marker, widget_config(settings)).encode(), "application/javascript")


def load_assets(settings: Settings) -> Assets:
    demo = WEB / "demo"
    return Assets(
        widget=build_widget(settings),
        css=Asset.of((demo / "demo.css").read_bytes(), "text/css"),
        template=Template((demo / "article.html").read_text(encoding="utf-8")),
        content=_CONTENT.validate_json((demo / "articles.json").read_bytes()),
    )


def serve(request: web.Request, asset: Asset) -> web.Response:
    """The asset, immutable when the URL names its version, 304 when the client has it."""
    pinned = request.query.get("v") == asset.version
    headers = {
        "ETag": asset.etag,
        "Cache-Control": IMMUTABLE if pinned else REVALIDATE,
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
        "Cross-Origin-Resource-Policy": "cross-origin",
    }
    if has_etag(request, asset.etag):
        return web.Response(status=304, headers=headers)
    body = asset.body
    if "gzip" in request.headers.get("Accept-Encoding", "").lower():
        body = asset.gzipped
        headers["Content-Encoding"] = "gzip"
    return web.Response(body=body, headers=headers, content_type=asset.content_type, charset="utf-8")


async def widget_js(request: web.Request) -> web.Response:
    return serve(request, request.app[ASSETS].widget)


class AssetQuery(BaseModel):
    v: str | None = Field(None, description="the asset's version: given, the answer is immutable")


def setup(app: web.Application) -> None:
    r = routes(app)
    r.get("/widget.js", widget_js, Operation(
        "The embeddable widget", {200: Reply("the script", media="application/javascript", headers=("ETag",)),
                                  304: Reply("the client's copy (If-None-Match) is current")},
        "widget", query=AssetQuery, cross_origin=True,
    ))
