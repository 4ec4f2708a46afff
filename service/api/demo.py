"""The demo article pages (`serve --demo` only): each embeds the widget, as a news site's page would."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape

from aiohttp import web

from ..appkeys import ASSETS, CATALOG
from ..demo import DEMO_ARTICLES, DEMO_HOST
from ..domain.articles import Article, rfc3339
from ..domain.catalog import check_article_id
from ..domain.errors import Gone, NotFound
from .contract import Operation, Reply
from .edge import routes
from .widget import Assets, DemoContent, serve

DEMO_CSP = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'; "
    "require-trusted-types-for 'script'; trusted-types 'none'"
)
WORDS_PER_MINUTE = 230
HTML = Reply("the page", media="text/html")


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


async def demo_css(request: web.Request) -> web.Response:
    return serve(request, request.app[ASSETS].css)


def setup(app: web.Application) -> None:
    """The demo pages; after the widget's `setup` (its assets)."""
    r = routes(app)
    r.get("/demo", demo_page, Operation("The first demo article's page", {200: HTML}, "demo"))
    r.get("/demo/assets/demo.css", demo_css, Operation(
        "The demo pages' style sheet", {200: Reply("the style sheet", media="text/css"),
                                        304: Reply("the client's copy (If-None-Match) is current")}, "demo",
    ))
    r.get("/demo/{article_id}", demo_page, Operation(
        "A demo article's page", {200: HTML}, "demo", errors=(404, 410, 422),
    ))
