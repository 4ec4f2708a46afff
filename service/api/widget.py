"""The embeddable widget script and the demo article pages that embed it."""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path
from string import Template

from aiohttp import web
from pydantic import BaseModel, TypeAdapter

from ..appkeys import ASSETS, CATALOG
from ..config import Settings
from ..demo import DEMO_ARTICLES, DEMO_HOST
from ..domain.articles import Article, rfc3339
from ..domain.catalog import check_article_id
from ..domain.errors import Gone, NotFound
from .edge import routes

WEB = Path(__file__).resolve().parent.parent / "web"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "public, max-age=86400, stale-while-revalidate=604800"  # an unversioned URL must pick up releases
DEMO_CSP = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'; "
    "require-trusted-types-for 'script'; trusted-types 'none'"
)
WORDS_PER_MINUTE = 230


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


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or etag in tags


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
    if _matches(request.headers.get("If-None-Match"), asset.etag):
        return web.Response(status=304, headers=headers)
    body = asset.body
    if "gzip" in request.headers.get("Accept-Encoding", "").lower():
        body = asset.gzipped
        headers["Content-Encoding"] = "gzip"
    return web.Response(body=body, headers=headers, content_type=asset.content_type, charset="utf-8")


async def widget_js(request: web.Request) -> web.Response:
    return serve(request, request.app[ASSETS].widget)


async def demo_css(request: web.Request) -> web.Response:
    return serve(request, request.app[ASSETS].css)


@dataclass(frozen=True)
class Page:
    """What a demo page shows about one article."""

    url: str
    section: str
    published: datetime
    tags: list[str]
    content: DemoContent


def page_facts(article_id: str, content: DemoContent | None, article: Article | None) -> Page:
    """From the catalog where the article is there, else from the demo catalog's definition."""
    if article is not None:
        if not article.published:
            raise Gone(f"article {article_id!r} is unpublished")
        text = content or DemoContent(
            headline=article.title, summary=article.summary or "", byline="Newsroom", body=[], takeaways=[]
        )
        return Page(article.url, article.section or "News", article.published_at, article.tags, text)
    for ident, _title, tags, hours, section, _summary in DEMO_ARTICLES:
        if ident == article_id and content is not None:
            published = datetime.now(UTC) - timedelta(hours=hours)
            return Page(f"{DEMO_HOST}/{ident}", section, published, tags, content)
    raise NotFound(f"no demo article {article_id!r}")


def _lines(tag: str, items: list[str], indent: str) -> str:
    return "\n".join(f"{indent}<{tag}>{escape(item)}</{tag}>" for item in items)


def render_page(assets: Assets, article_id: str, page: Page) -> str:
    """The demo article page; every value is HTML-escaped."""
    text = page.content
    words = sum(len(p.split()) for p in [text.summary, *text.body])
    values = {
        "headline": text.headline, "summary": text.summary, "byline": text.byline, "canonical": page.url,
        "section": page.section, "article_id": article_id, "published_iso": rfc3339(page.published),
        "published_text": page.published.astimezone(UTC).strftime("%d %B %Y, %H:%M UTC"),
        "minutes": str(max(1, round(words / WORDS_PER_MINUTE))),
        "css": f"/demo/assets/demo.css?v={assets.css.version}", "widget_src": "/widget.js",
    }
    out = {k: escape(v) for k, v in values.items()}
    out["paragraphs"] = _lines("p", text.body, "      ")
    out["takeaways"] = _lines("li", text.takeaways, "        ")
    out["tags"] = _lines("li", page.tags, "      ")
    more = [(ident, title) for ident, title, *_ in DEMO_ARTICLES if ident != article_id]
    out["more"] = "\n".join(f'      <li><a href="/demo/{escape(i)}">{escape(t)}</a></li>' for i, t in more)
    return assets.template.substitute(out)


async def demo_page(request: web.Request) -> web.Response:
    article_id = request.match_info.get("article_id", DEMO_ARTICLES[0][0])
    check_article_id(article_id)
    assets = request.app[ASSETS]
    article = await request.app[CATALOG].find(article_id)
    html = render_page(assets, article_id, page_facts(article_id, assets.content.get(article_id), article))
    headers = {
        "Content-Security-Policy": DEMO_CSP,
        "Cache-Control": "no-cache",
        "Referrer-Policy": "strict-origin-when-cross-origin",
        "X-Content-Type-Options": "nosniff",
    }
    return web.Response(text=html, content_type="text/html", charset="utf-8", headers=headers)


def setup(app: web.Application) -> None:
    r = routes(app)
    r.get("/widget.js", widget_js)


def setup_demo(app: web.Application) -> None:
    """The demo pages (`serve --demo` only); after `setup`."""
    r = routes(app)
    r.get("/demo", demo_page)
    r.get("/demo/assets/demo.css", demo_css)
    r.get("/demo/{article_id}", demo_page)
