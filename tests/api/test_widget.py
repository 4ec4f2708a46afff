"""The widget script (caching, size, what it may not contain) and the demo article pages."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

import pytest

from service.api.widget import WEB, build_widget, widget_config
from service.app import create_app
from service.appkeys import ASSETS
from service.config import Settings
from service.demo import DEMO_ARTICLES
from tests.conftest import put_article

MAX_GZIP = 8 * 1024
XSS = '<img src=x onerror="alert(1)"> & </script><script>alert(2)</script>'


class Page(HTMLParser):
    """Collects the tags and the text of an HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def find(self, tag: str, **attrs: str | None) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == tag and all(a.get(k.replace("_", "-")) == v for k, v in attrs.items())]


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    return page


async def test_widget_js_is_cached_by_content_hash(client: Any) -> None:
    resp = await client.get("/widget.js")
    assert resp.status == 200
    assert resp.content_type == "application/javascript"
    etag = resp.headers["ETag"]
    version = etag.strip('"')
    assert re.fullmatch(r"[0-9a-f]{16}", version)
    assert "max-age=86400" in resp.headers["Cache-Control"]
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    again = await client.get("/widget.js", headers={"If-None-Match": etag})
    assert again.status == 304
    assert again.headers["ETag"] == etag
    pinned = await client.get(f"/widget.js?v={version}")
    assert pinned.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    stale = await client.get("/widget.js?v=0000000000000000")
    assert "immutable" not in stale.headers["Cache-Control"]


async def test_widget_is_served_gzipped_under_8_kb(client: Any) -> None:
    resp = await client.get("/widget.js", headers={"Accept-Encoding": "gzip"}, auto_decompress=False)
    assert resp.headers["Content-Encoding"] == "gzip"
    raw = await resp.read()
    assert len(raw) == int(resp.headers["Content-Length"])
    assert len(raw) <= MAX_GZIP, f"widget.js is {len(raw)} bytes gzipped"
    assert gzip.decompress(raw) == client.app[ASSETS].widget.body
    plain = await client.get("/widget.js", headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers
    assert await plain.read() == client.app[ASSETS].widget.body


def test_widget_fits_8_kb_by_gzip_9(settings: Settings) -> None:
    body = build_widget(settings).body
    packed = subprocess.run(["gzip", "-9", "-c"], input=body, capture_output=True, check=True, timeout=30).stdout
    assert len(packed) <= MAX_GZIP, f"widget.js is {len(packed)} bytes by gzip -9"


def test_widget_ships_a_full_strings_table_in_ascii() -> None:
    source = (WEB / "widget.js").read_text(encoding="utf-8")
    assert source.isascii()  # safe on a host page of any charset; other scripts as \\u escapes
    table = re.search(r"var STR = \{(.*?)\n  \};", source, re.S)
    assert table
    rows = dict(re.findall(r"\n    (\w\w): \[(.*?)\]", table.group(1), re.S))
    assert set(rows) >= {"en", "de", "fr", "es", "ar"}
    sizes = {lang: len(re.findall(r"'(?:[^'\\]|\\.)*'", row)) for lang, row in rows.items()}
    assert set(sizes.values()) == {sizes["en"]}, sizes  # every language has every string
    assert "'Let your friends know!'" in rows["en"] and "'Related News'" in rows["en"]


async def test_widget_uses_no_unsafe_apis(client: Any) -> None:
    source = await (await client.get("/widget.js")).text()
    code = re.sub(r"/\*.*?\*/|//[^\n]*", "", source, flags=re.S)
    for banned in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
                   "document.cookie", "localStorage", "sessionStorage", "indexedDB", "setTimeout('", 'setTimeout("'):
        assert banned not in code, banned
    assert "textContent" in code
    assert "sendBeacon" in code and "keepalive: true" in code
    assert "attachShadow" in code


async def test_widget_carries_configured_defaults(
    settings: Settings, aiohttp_client: Callable[..., Any]
) -> None:
    custom = settings.model_copy(update={
        "widget_share_heading": "Teile das </script><b>!",
        "widget_networks": ["x", "copy"],
        "widget_related_limit": 3,
    })
    client = await aiohttp_client(create_app(custom, flusher=False))
    source = await (await client.get("/widget.js")).text()
    assert "/*CONFIG*/" not in source
    assert "</script>" not in source.split("CONFIG = ", 1)[1].split(";", 1)[0]
    config = json.loads(widget_config(custom))
    assert config == {"shareHeading": "Teile das </script><b>!", "relatedHeading": "Related News",
                      "networks": "x,copy", "relatedLimit": "3"}
    assert client.app[ASSETS].widget.version != build_widget(settings).version  # the config is part of the hash


def test_bad_network_setting_is_refused(settings: Settings) -> None:
    with pytest.raises(ValueError, match="widget_networks"):
        Settings(widget_networks="x,myspace", data_dir=settings.data_dir)


async def test_demo_page_embeds_widget_under_strict_csp(client: Any) -> None:
    first = DEMO_ARTICLES[0]
    resp = await client.get("/demo")
    assert resp.status == 200
    assert resp.content_type == "text/html"
    csp = resp.headers["Content-Security-Policy"]
    for directive in ("default-src 'none'", "script-src 'self'", "connect-src 'self'", "style-src 'self'",
                      "require-trusted-types-for 'script'"):
        assert directive in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    page = parse(await resp.text())
    scripts = page.find("script")
    assert scripts == [{"async": None, "src": "/widget.js", "data-article-id": first[0]}]
    assert page.find("div", data_eng_share=None) and page.find("div", data_eng_related=None)
    assert not page.find("style") and all("style" not in a for _t, a in page.tags)
    css = page.find("link", rel="stylesheet")[0]["href"]
    assert css is not None
    css_resp = await client.get(css)
    assert css_resp.status == 200 and css_resp.content_type == "text/css"
    assert css_resp.headers["Cache-Control"] == "public, max-age=31536000, immutable"


@pytest.mark.parametrize("demo", DEMO_ARTICLES, ids=[d[0] for d in DEMO_ARTICLES])
async def test_every_demo_article_has_a_full_page(client: Any, demo: tuple[Any, ...]) -> None:
    article_id, title = demo[0], demo[1]
    content = json.loads((WEB / "demo" / "articles.json").read_text())[article_id]
    resp = await client.get(f"/demo/{article_id}")
    assert resp.status == 200
    html = await resp.text()
    page = parse(html)
    assert content["headline"] == title
    assert f"<h1>{title}</h1>" in html.replace("&#x27;", "'")
    text = " ".join(page.text)
    for paragraph in content["body"] + content["takeaways"]:
        assert paragraph in text
    assert len(content["body"]) >= 4 and len(content["takeaways"]) >= 3
    assert "Key takeaways" in text
    assert page.find("script")[0]["data-article-id"] == article_id
    assert page.find("link", rel="canonical")[0]["href"] == f"https://t4k3.news/{article_id}"


async def test_catalog_article_page_escapes_its_title(client: Any) -> None:
    await put_article(client, "x1", title=XSS, summary=XSS, tags=["A <b>tag</b>"])
    resp = await client.get("/demo/x1")
    assert resp.status == 200
    html = await resp.text()
    page = parse(html)
    assert [t for t, _a in page.tags].count("script") == 1
    assert not page.find("img") and not page.find("b")
    assert XSS in " ".join(page.text)


@pytest.mark.parametrize(("path", "status"), [("/demo/nope", 404), ("/demo/bad%20id", 422), ("/demo/" + "a" * 65, 422)])
async def test_unknown_or_bad_demo_ids_are_4xx(client: Any, path: str, status: int) -> None:
    resp = await client.get(path)
    assert resp.status == status
    assert (await resp.json())["error"]["code"] in ("not_found", "validation_error")


@pytest.fixture
async def client(settings: Settings, aiohttp_client: Callable[..., Any]) -> Any:
    """The app as `serve --demo` runs it: the demo pages are only registered then."""
    return await aiohttp_client(create_app(settings, demo=True, flusher=False))
