"""The real Shariff front-end (npm `shariff`, vendored) pointed at our `/shariff` shows our counts."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import VENDOR, Api, Traffic

pytestmark = pytest.mark.browser

SITE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>A blog using Shariff</title>
<link rel="stylesheet" href="/vendor/shariff.min.css"></head>
<body>
  <h1>A blog post</h1>
  <div class="shariff" data-backend-url="SERVICE/shariff" data-lang="en"
       data-url="http://T4K3.news/b-shariff/?utm_source=feed&amp;fbclid=abc"
       data-services="[&quot;facebook&quot;,&quot;twitter&quot;,&quot;linkedin&quot;,&quot;reddit&quot;]"></div>
  <script src="/vendor/shariff.complete.js"></script>
</body></html>"""


def test_shariff_frontend_shows_our_counts(page: Page, api: Api, live_server: str, traffic: Traffic) -> None:
    api.put_article("b-shariff")
    for network in ("facebook", "facebook", "x", "reddit", "reddit", "reddit"):
        api.share("b-shariff", network)
    shariff = VENDOR / "shariff"
    traffic.pages["/post"] = ("text/html", SITE_PAGE.replace("SERVICE", live_server).encode())
    script = (shariff / "shariff.complete.js").read_bytes()
    traffic.pages["/vendor/shariff.complete.js"] = ("application/javascript", script)
    traffic.pages["/vendor/shariff.min.css"] = ("text/css", (shariff / "shariff.min.css").read_bytes())
    page.goto(f"{traffic.site}/post")
    expect(page.locator(".shariff li.shariff-button")).to_have_count(4)
    expect(page.locator(".shariff .facebook .share_count")).to_have_text("2")
    expect(page.locator(".shariff .twitter .share_count")).to_have_text("1")
    expect(page.locator(".shariff .reddit .share_count")).to_have_text("3")
    expect(page.locator(".shariff .linkedin .share_count")).to_have_count(0)  # zero counts are left out
    asked = [r.url for r in traffic.ours if "/shariff?" in r.url]
    assert len(asked) == 1 and "url=http%3A%2F%2FT4K3.news%2Fb-shariff%2F" in asked[0]
    page.wait_for_load_state("networkidle")
    assert traffic.external == []  # Shariff's buttons are plain links: nothing is fetched before a click
