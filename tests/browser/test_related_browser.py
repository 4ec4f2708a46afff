"""The related news list: order, escaping, and the screenshots of the demo page."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DESKTOP, PHONE, Api, ContextFactory, Traffic, screenshot

pytestmark = pytest.mark.browser

DEMO_ID = "nk-workers-russia"
XSS = '<img src=x onerror="window.__xss=1;alert(1)"><script>window.__xss=2</script>'
SITE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>A site without any CSP</title></head>
<body><h1>Story</h1><div data-eng-related></div>
<script async src="SERVICE/widget.js" data-article-id="b-xss-target"></script></body></html>"""


def related_links(page: Page) -> list[tuple[str, str]]:
    links = page.locator("[data-eng-related] li a")
    expect(links.first).to_be_visible()
    found: list[tuple[str, str]] = links.evaluate_all("as => as.map(a => [a.textContent, a.getAttribute('href')])")
    return [tuple(pair) for pair in found]  # type: ignore[misc]


def test_related_list_shows_the_endpoint_titles_in_order(page: Page, api: Api, live_server: str) -> None:
    expected = [(a["title"], a["url"]) for a in api.related(DEMO_ID, limit=8)]  # WIDGET_RELATED_LIMIT
    assert len(expected) >= 3, expected
    page.goto(f"{live_server}/demo/{DEMO_ID}")
    assert related_links(page) == expected
    expect(page.locator("[data-eng-related] h2")).to_have_text("Related News")


def test_xss_title_renders_as_text(page: Page, api: Api, live_server: str, traffic: Traffic) -> None:
    api.put_article("b-xss-target", title="Target", tags=["Xss Alpha", "Xss Beta", "Xss Gamma"])
    api.put_article("b-xss-evil", title=XSS, tags=["Xss Alpha", "Xss Beta", "Xss Delta"])
    assert XSS in [a["title"] for a in api.related("b-xss-target")]
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    traffic.pages["/story"] = ("text/html", SITE_PAGE.replace("SERVICE", live_server).encode())
    page.goto(f"{traffic.site}/story")  # no CSP here: only the widget's own care stands between
    titles = [title for title, _href in related_links(page)]
    assert XSS in titles
    expect(page.locator("[data-eng-related] img")).to_have_count(0)
    expect(page.locator("[data-eng-related] script")).to_have_count(0)
    page.wait_for_load_state("networkidle")
    assert page.evaluate("window.__xss") is None
    assert dialogs == []
    assert traffic.external == []


@pytest.mark.parametrize(("name", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
def test_demo_page_screenshots(
    new_context: ContextFactory, api: Api, live_server: str, traffic: Traffic, name: str, viewport: dict[str, int]
) -> None:
    if api.stats(DEMO_ID)["shares"]["total"] == 0:  # some counts, so the picture shows them
        for network in ("facebook", "facebook", "x", "whatsapp", "linkedin", "facebook", "copy"):
            api.share(DEMO_ID, network)
    page = new_context(viewport=viewport).new_page()
    page.goto(f"{live_server}/demo/{DEMO_ID}")
    expect(page.locator("[data-eng-share] .total")).to_have_text("7 shares")
    expect(page.locator("[data-eng-related] li a").first).to_be_visible()
    page.wait_for_load_state("networkidle")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= viewport["width"], f"the page scrolls sideways at {viewport['width']}px"
    share_box = page.locator("[data-eng-share] .bar").bounding_box()
    assert share_box is not None and share_box["x"] + share_box["width"] <= viewport["width"]
    path = screenshot(page, f"demo-{name}")  # artifacts/ (git-ignored); docs/demo.png is a copy of one
    assert path.stat().st_size > 10_000
    assert traffic.external == []
