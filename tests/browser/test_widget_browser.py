"""The share bar on the demo page and on a third-party site, in a real Chromium."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Api, ContextFactory, Traffic, poll

pytestmark = pytest.mark.browser

ALL_SHOWN = ["facebook", "x", "linkedin", "whatsapp", "telegram", "reddit", "bluesky", "email", "copy"]
# network: (intent URL prefix, query parameter carrying the share link)
INTENTS = {
    "facebook": ("https://www.facebook.com/sharer/sharer.php?", "u"),
    "x": ("https://x.com/intent/tweet?", "url"),
    "linkedin": ("https://www.linkedin.com/sharing/share-offsite/?", "url"),
    "whatsapp": ("https://wa.me/?", "text"),
    "telegram": ("https://t.me/share/url?", "url"),
    "reddit": ("https://www.reddit.com/submit?", "url"),
    "bluesky": ("https://bsky.app/intent/compose?", "text"),
    "email": ("mailto:?", "body"),
}
SHARE_LINK = r"http://127\.0\.0\.1:\d+/s/[A-Za-z0-9_-]+"


def button(page: Page, network: str) -> Any:
    return page.locator(f"[data-eng-share] button[data-network={network}]")


def open_demo(page: Page, base: str, article_id: str) -> None:
    page.goto(f"{base}/demo/{article_id}")
    expect(page.locator("[data-eng-share] button").first).to_be_visible()


def share_link_in(intent: str, network: str) -> str:
    prefix, param = INTENTS[network]
    assert intent.startswith(prefix), intent
    value = parse_qs(urlsplit(intent).query if "?" in intent else "")[param][0]
    found = re.search(SHARE_LINK, value)
    assert found, value
    return found.group(0)


def no_client_state(page: Page) -> None:
    assert page.context.cookies() == []
    assert page.evaluate("localStorage.length + sessionStorage.length") == 0


def test_share_bar_renders_buttons_and_counts(page: Page, api: Api, live_server: str, traffic: Traffic) -> None:
    api.put_article("b-counts")
    for network in ("facebook", "facebook", "reddit"):
        api.share("b-counts", network)
    open_demo(page, live_server, "b-counts")
    expect(page.locator("[data-eng-share] h2")).to_have_text("Let your friends know!")
    expect(page.locator("[data-eng-share] .total")).to_have_text("3 shares")
    shown = page.locator("[data-eng-share] button").evaluate_all("bs => bs.map(b => b.dataset.network)")
    assert shown == ALL_SHOWN  # no "native": this Chromium has no navigator.share
    assert page.evaluate("typeof navigator.share") == "undefined"
    expect(button(page, "facebook").locator(".c")).to_have_text("2")
    expect(button(page, "reddit").locator(".c")).to_have_text("1")
    expect(button(page, "x").locator(".c")).to_have_text("")
    expect(page.get_by_role("button", name="Share on Facebook, 2 shares")).to_be_visible()
    expect(page.get_by_role("button", name="Copy link", exact=True)).to_be_visible()  # the visible label
    page.wait_for_load_state("networkidle")
    assert traffic.external == []
    no_client_state(page)


def test_each_network_counts_one_share_and_opens_its_intent(
    page: Page, api: Api, live_server: str, traffic: Traffic
) -> None:
    api.put_article("b-clicks", title="Clicks & shares")
    open_demo(page, live_server, "b-clicks")
    page.wait_for_load_state("networkidle")
    assert traffic.external == []  # nothing went to any third party before the first click
    for done, network in enumerate(INTENTS, start=1):
        before = api.stats("b-clicks")["shares"]
        if network == "email":
            button(page, network).click()
            poll(lambda n=done: page.evaluate("window.__opened.length") == n, what="window.open for email")
        else:
            with page.context.expect_page() as popup_info:
                button(page, network).click()
            popup = popup_info.value
            popup.wait_for_load_state()
            assert popup.url.startswith(INTENTS[network][0])
            assert popup.evaluate("window.opener") is None
            assert traffic.external[-1] == popup.url
            popup.close()
        url, target, features = page.evaluate("window.__opened")[-1]
        assert target == "_blank" and "noopener" in features
        expect(button(page, network).locator(".c")).to_have_text("1")
        after = api.stats("b-clicks")["shares"]
        assert after["total"] == before["total"] + 1
        assert after["by_network"] == {**before["by_network"], network: before["by_network"][network] + 1}
        assert len(traffic.posts("/v1/articles/b-clicks/shares")) == done
        target_url = api.redirect(share_link_in(url, network))
        assert target_url.startswith(f"https://t4k3.news/b-clicks?utm_source={network}&")
    expect(page.locator("[data-eng-share] .total")).to_have_text(f"{len(INTENTS)} shares")
    assert len(traffic.external) == len(INTENTS) - 1  # one stubbed intent page per web network, nothing else


def test_copy_by_keyboard_puts_the_share_link_on_the_clipboard(
    new_context: ContextFactory, api: Api, live_server: str, traffic: Traffic
) -> None:
    api.put_article("b-copy")
    page = new_context(permissions=["clipboard-read", "clipboard-write"]).new_page()
    open_demo(page, live_server, "b-copy")
    button(page, "email").focus()
    page.keyboard.press("Tab")
    focused = page.evaluate("document.querySelector('[data-eng-share] eng-widget').shadowRoot.activeElement.dataset")
    assert focused["network"] == "copy"
    assert button(page, "copy").evaluate("b => getComputedStyle(b).outlineStyle") == "solid"  # visible focus
    page.keyboard.press("Enter")
    expect(page.locator("[data-eng-share] [role=status]")).to_have_text("Link copied to the clipboard")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert re.fullmatch(SHARE_LINK, copied)
    assert api.stats("b-copy")["shares"]["by_network"]["copy"] == 1
    assert api.redirect(copied).startswith("https://t4k3.news/b-copy?utm_source=copy&")
    assert traffic.external == []


def test_native_share_button_appears_only_where_the_browser_has_it(
    new_context: ContextFactory, api: Api, live_server: str
) -> None:
    api.put_article("b-native")
    context = new_context()
    context.add_init_script("navigator.share = function (data) { window.__shared = data; return Promise.resolve(); };")
    page = context.new_page()
    open_demo(page, live_server, "b-native")
    native = button(page, "native")
    expect(native).to_have_text("Share\u2026")
    native.click()
    poll(lambda: page.evaluate("window.__shared !== undefined"), what="navigator.share call")
    shared = page.evaluate("window.__shared")
    assert re.fullmatch(SHARE_LINK, shared["url"])
    assert api.stats("b-native")["shares"]["by_network"]["native"] == 1


def test_one_page_load_counts_one_view(page: Page, api: Api, live_server: str, traffic: Traffic) -> None:
    api.put_article("b-view")
    open_demo(page, live_server, "b-view")
    poll(lambda: api.stats("b-view")["views"] == 1, what="the view to be counted")
    page.wait_for_load_state("networkidle")
    beacons = traffic.posts("/v1/articles/b-view/views")
    assert len(beacons) == 1
    assert beacons[0].headers["content-type"].startswith("text/plain")  # a simple request: no preflight
    body = json.loads(beacons[0].post_data or "")
    assert re.fullmatch(r"[0-9a-f]{32}", body["event_id"])
    stats = api.stats("b-view")
    assert (stats["views"], stats["unique_visitors"], stats["bot_views"]) == (1, 1, 0)
    no_client_state(page)
    page.reload()
    poll(lambda: api.stats("b-view")["views"] == 2, what="the second page view")
    second = json.loads(traffic.posts("/v1/articles/b-view/views")[1].post_data or "")
    assert second["event_id"] != body["event_id"]  # nothing remembered between page views


def test_demo_page_runs_under_its_strict_csp(page: Page, live_server: str, traffic: Traffic) -> None:
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    response = page.goto(f"{live_server}/demo")
    assert response is not None
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "require-trusted-types-for 'script'" in csp
    expect(page.locator("[data-eng-share] button").first).to_be_visible()
    page.wait_for_load_state("networkidle")
    fetched = [r for r in traffic.ours if r.url.endswith("/stats")]
    assert len(fetched) == 1 and fetched[0].response().status == 200  # type: ignore[union-attr]
    assert page.evaluate("window.__csp") == []
    assert not [e for e in errors if "Content Security Policy" in e or "Trusted Type" in e]
    assert page.evaluate("[...document.scripts].every(s => s.src)")
    sheets = page.evaluate("document.querySelector('[data-eng-share] eng-widget').shadowRoot.adoptedStyleSheets.length")
    assert sheets == 1


HOSTILE_SITE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Another site</title>
<style>
  html { font-size: 10px; }
  * { font-size: 40px !important; color: red !important; letter-spacing: 3px !important;
      text-transform: uppercase !important; }
  button { display: none !important; }
  h2 { border: 5px dotted green; }
</style></head>
<body>
  <h2 class="own">The site's own heading</h2>
  <section data-eng-share></section>
  <script async src="SERVICE/widget.js" data-article-id="b-site" data-networks="x, copy, myspace"
          data-share-heading="Share this story"></script>
</body></html>"""


def test_widget_on_another_site_is_isolated_and_uses_cors(
    page: Page, api: Api, live_server: str, traffic: Traffic
) -> None:
    api.put_article("b-site")
    api.share("b-site", "x")
    traffic.pages["/article"] = ("text/html", HOSTILE_SITE.replace("SERVICE", live_server).encode())
    page.goto(f"{traffic.site}/article")
    expect(page.locator("[data-eng-share] h2")).to_have_text("Share this story")
    shown = page.locator("[data-eng-share] button").evaluate_all("bs => bs.map(b => b.dataset.network)")
    assert shown == ["x", "copy"]
    expect(page.locator("[data-eng-share] .total")).to_have_text("1 share")  # read cross-origin: CORS works
    x = button(page, "x")
    expect(x).to_be_visible()
    style = x.evaluate("b => { const s = getComputedStyle(b); return [s.fontSize, s.color, s.textTransform]; }")
    assert style == ["14px", "rgb(255, 255, 255)", "none"]
    heading = page.locator("[data-eng-share] h2").evaluate("h => getComputedStyle(h).borderTopStyle")
    assert heading == "none"
    own = page.locator("h2.own").evaluate("h => [getComputedStyle(h).borderTopStyle, getComputedStyle(h).fontWeight]")
    assert own == ["dotted", "700"]  # our h2 rule (weight 800) did not leak out
    poll(lambda: api.stats("b-site")["views"] == 1, what="the cross-origin view beacon")
    page.wait_for_load_state("networkidle")
    assert traffic.external == []
    beacon = traffic.posts("/v1/articles/b-site/views")[0]
    assert beacon.headers["content-type"].startswith("text/plain")  # CORS-safelisted: sent without a preflight


def test_related_list_reports_being_shown_and_each_click_with_its_position(
        page: Page, api: Api, live_server: str, traffic: Traffic) -> None:
    api.put_article("b-rel-src", title="Reservoir levels fall in the dry north", tags=["drought", "water"])
    api.put_article("b-rel-one", title="Drought empties northern reservoirs", tags=["drought", "water"],
                    url="https://t4k3.news/b-rel-one")
    api.put_article("b-rel-two", title="Water rationing begins in dry towns", tags=["water"],
                    url="https://t4k3.news/b-rel-two")
    page.route("https://t4k3.news/**", lambda route: route.fulfill(status=200, body="<p>article</p>"))
    open_demo(page, live_server, "b-rel-src")
    links = page.locator("[data-eng-related] a")
    expect(links.first).to_be_visible()
    poll(lambda: api.stats("b-rel-src")["related"]["impressions"] == 1, what="the shown list to be counted")
    target = urlsplit(links.nth(1).get_attribute("href") or "").path.strip("/")
    links.nth(1).click()
    poll(lambda: api.stats("b-rel-src")["related"]["clicks"]["total"] == 1, what="the click to be counted")
    clicked = [json.loads(r.post_data or "") for r in traffic.posts("/v1/articles/b-rel-src/related/clicks")]
    assert [(c["target"], c["position"]) for c in clicked] == [(target, 2)]
    stats = api.stats("b-rel-src")["related"]
    assert stats["clicks"]["by_position"]["2"] == 1 and stats["ctr"] == 1.0
