"""The ops dashboard in Debian's Chromium against the real app served in-process on 127.0.0.1.

In-process (not a subprocess) so a test can stop and restart the flush itself: the app runs with
its flush loop off and the test calls `flush_once()`.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from playwright.async_api import Browser, BrowserContext, Page, Route, async_playwright, expect

from service import appkeys as K
from service.app import create_app
from service.config import Settings
from tests.browser.a11y import axe_run_async
from tests.conftest import ADMIN, AUTH, BROWSER_UA

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
RECORD_CSP = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
"""
SERIES = [(37, 99, 235), (22, 163, 74), (217, 119, 6)]  # views, shares, clicks


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    message = "Chromium is not installed at /usr/bin/chromium (apt-get install chromium)"
    if os.environ.get("CI"):
        pytest.fail(message + "; CI is set, so browser tests may not be skipped")
    pytest.skip(message)


@dataclass
class Live:
    """The app on a real port, and every URL the browser asked for."""

    app: web.Application
    base: str
    requests: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)

    async def route(self, route: Route) -> None:
        url = route.request.url
        self.requests.append(url)
        if url.startswith(self.base + "/"):
            await route.continue_()
        else:
            self.external.append(url)
            await route.abort()

    async def summary(self) -> dict[str, Any]:
        async with aiohttp.ClientSession() as http, http.get(f"{self.base}/v1/ops/summary", headers=AUTH) as resp:
            assert resp.status == 200
            body: dict[str, Any] = await resp.json()
            return body


@pytest.fixture
async def live(settings: Settings, request: pytest.FixtureRequest) -> AsyncIterator[Live]:
    """The app; the flush interval (which sets the lag warning at 3 intervals) is 30 s, or the test's param."""
    require_chromium()
    interval = float(getattr(request, "param", 30.0))  # long: a loaded machine does not turn the panel red
    app = create_app(settings.model_copy(update={"flush_interval_s": interval}), flusher=False)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield Live(app, f"http://{host}:{port}")
    finally:
        await runner.cleanup()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    require_chromium()
    expect.set_options(timeout=10_000)  # the 5 s default is short on a loaded 2-core machine
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


async def new_context(browser: Browser, live: Live) -> BrowserContext:
    context = await browser.new_context(viewport={"width": 1400, "height": 1000}, user_agent=BROWSER_UA)
    context.set_default_timeout(10_000)
    await context.add_init_script(RECORD_CSP)
    await context.route("**/*", live.route)
    return context


async def activity(base: str) -> None:
    """a1: 3 views, 2 shares (facebook, x), 1 click, 4 related lists shown with 1 click at position 2; a2: 1 view."""
    async with aiohttp.ClientSession(headers={"User-Agent": BROWSER_UA}) as http:
        for article_id, title in (("a1", "First story"), ("a2", "Second story")):
            body = {"url": f"https://t4k3.news/{article_id}", "title": title, "tags": ["Ops"],
                    "published_at": "2026-11-20T10:00:00Z"}
            async with http.put(f"{base}/v1/articles/{article_id}", json=body, headers=AUTH) as resp:
                assert resp.status == 201
        for article_id, n in (("a1", 3), ("a2", 1)):
            for i in range(n):
                async with http.post(f"{base}/v1/articles/{article_id}/views",
                                     json={"event_id": f"evt-{article_id}-{i:04d}"}) as resp:
                    assert resp.status == 202
        codes = []
        for network in ("facebook", "x"):
            async with http.post(f"{base}/v1/articles/a1/shares", json={"network": network}) as resp:
                codes.append((await resp.json())["code"])
        async with http.get(f"{base}/s/{codes[0]}", allow_redirects=False) as resp:
            assert resp.status == 302
        for n, (kind, body) in enumerate((("impressions", {}), ("impressions", {}), ("impressions", {}),
                                          ("impressions", {}), ("clicks", {"target": "a2", "position": 2}))):
            async with http.post(f"{base}/v1/articles/a1/related/{kind}",
                                 json={"event_id": f"rel-a1-{n:04d}", **body}) as resp:
                assert resp.status == 202


async def logged_in_after_activity(browser: Browser, live: Live, path: str = "/ops?refresh=0.25") -> tuple[Any, Any]:
    """The sample activity, flushed, and a page logged in on `path` (a new context: close it)."""
    await activity(live.base)
    await live.app[K.FLUSHER].flush_once()
    context = await new_context(browser, live)
    page = await context.new_page()
    await login(page, live, path)
    return context, page


async def login(page: Page, live: Live, path: str = "/ops?refresh=0.25") -> None:
    await page.goto(live.base + path)
    await expect(page.locator("#login")).to_be_visible()
    await page.fill("#token", ADMIN)
    await page.click("#login button[type=submit]")
    await expect(page.locator("#main")).to_be_visible()


async def series_pixels(page: Page, selector: str) -> int:
    """Series-coloured pixels in the upper half of a chart (axes and grid are grey; zeros lie low)."""
    count: int = await page.evaluate(
        """([selector, colours]) => {
            const canvas = document.querySelector(selector + ' canvas');
            const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height / 2).data;
            const near = (i, c) => Math.abs(data[i] - c[0]) < 12 && Math.abs(data[i + 1] - c[1]) < 12
                && Math.abs(data[i + 2] - c[2]) < 12;
            let n = 0;
            for (let i = 0; i < data.length; i += 4) {
                if (data[i + 3] > 200 && colours.some((c) => near(i, c))) n++;
            }
            return n;
        }""",
        [selector, [list(c) for c in SERIES]],
    )
    return count


async def assert_clean(page: Page, live: Live) -> None:
    assert live.external == []
    assert live.requests and all(url.startswith(live.base + "/") for url in live.requests)
    assert await page.evaluate("window.__csp") == []


async def test_dashboard_shows_what_the_api_reports(browser: Browser, live: Live) -> None:
    context, page = await logged_in_after_activity(browser, live)
    await expect(page.locator("#chart-hourly")).to_have_attribute("data-total", "4,2,1")
    s = await live.summary()
    for metric in ("views", "shares", "clicks"):
        await expect(page.locator(f"#h-{metric}-hour")).to_have_text(f"{s['headline']['last_hour'][metric]:,}")
        await expect(page.locator(f"#h-{metric}-day")).to_have_text(f"{s['headline']['last_day'][metric]:,}")
    assert s["headline"]["last_hour"]["views"] == 4
    await expect(page.locator("#chart-networks")).to_have_attribute("data-total", "2,1")
    assert await series_pixels(page, "#chart-hourly") > 20
    assert await series_pixels(page, "#chart-networks") > 100  # three bars
    first = page.locator("#top-views tbody tr").first
    link = first.locator("a").first
    await expect(link).to_have_text("First story")
    await expect(link).to_have_attribute("href", "https://t4k3.news/a1")
    await expect(first.locator("a.more")).to_have_attribute("href", "/ops/articles/a1")
    await expect(first.locator("td.num")).to_have_text("3")
    await expect(page.locator("#f-pending")).to_have_text(str(s["flush"]["pending_batches"]))
    await live.app[K.FLUSHER].flush_once()  # no flusher runs here: lag past 3 s (a loaded machine) would warn
    await expect(page.locator("#flush")).to_have_attribute("data-state", "ok")
    await expect(page.locator("#health")).to_have_attribute("data-status", "ok")
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "ops-dashboard.png"), full_page=True)
    await assert_clean(page, live)
    await context.close()


@pytest.mark.parametrize("live", [1.0], indirect=True)
async def test_warning_when_the_flush_stops_and_clears_when_it_catches_up(browser: Browser, live: Live) -> None:
    await activity(live.base)
    context = await new_context(browser, live)
    page = await context.new_page()
    await login(page, live)
    await live.app[K.FLUSHER].flush_once()  # now, so the page sees a fresh flush whatever the login took
    flush = page.locator("#flush")
    await expect(flush).to_have_attribute("data-state", "ok")
    # No flush runs now: past 3 intervals (3 s) the lag turns the panel red.
    await expect(flush).to_have_attribute("data-state", "warning", timeout=15_000)
    await expect(page.locator("#health")).to_have_attribute("data-status", "warning")
    await expect(page.locator("#reasons li").first).to_contain_text("flush lag")
    colour = await flush.evaluate("el => getComputedStyle(el).backgroundColor")
    assert colour == "rgb(254, 226, 226)"
    await page.screenshot(path=str(ARTIFACTS / "ops-dashboard-warning.png"), full_page=True)
    await live.app[K.FLUSHER].flush_once()  # the flusher catches up
    await expect(flush).to_have_attribute("data-state", "ok", timeout=2_500)
    await expect(page.locator("#reasons li")).to_have_count(0)
    await assert_clean(page, live)
    await context.close()


async def test_token_is_asked_once_per_browser_session(browser: Browser, live: Live) -> None:
    context = await new_context(browser, live)
    page = await context.new_page()
    await page.goto(live.base + "/ops")
    await page.fill("#token", "wrong-token")
    await page.click("#login button[type=submit]")
    await expect(page.locator("#login-error")).to_contain_text("rejected")
    await expect(page.locator("#login")).to_be_visible()
    await login(page, live)
    assert await page.evaluate("sessionStorage.getItem('ops-admin-token')") == ADMIN
    assert await page.evaluate("localStorage.length") == 0
    await page.reload()
    await expect(page.locator("#main")).to_be_visible()
    await expect(page.locator("#login")).to_be_hidden()
    await expect(page.locator("#chart-hourly")).to_have_attribute("data-total", "0,0,0")
    assert await series_pixels(page, "#chart-hourly") == 0  # no data, nothing drawn up there
    other = await new_context(browser, live)  # a new browser session asks again
    fresh = await other.new_page()
    await fresh.goto(live.base + "/ops")
    await expect(fresh.locator("#login")).to_be_visible()
    await assert_clean(page, live)
    await other.close()
    await context.close()


async def test_article_drill_down(browser: Browser, live: Live) -> None:
    context, page = await logged_in_after_activity(browser, live, "/ops/articles/a1")
    await expect(page.locator("#a-title")).to_have_text("First story")
    await expect(page.locator("#a-views")).to_have_text("3")
    await expect(page.locator("#chart-networks")).to_have_attribute("data-total", "2,1")
    await expect(page.locator("#chart-article")).to_have_attribute("data-total", "3,2,1")
    await expect(page.locator("#r-shown")).to_have_text("4")
    await expect(page.locator("#r-ctr")).to_have_text("25.0 %")
    await expect(page.locator("#r-positions tbody tr").nth(1).locator("td")).to_have_text(["2", "1", "25.0 %"])
    assert await series_pixels(page, "#chart-article") > 20
    await page.screenshot(path=str(ARTIFACTS / "ops-article.png"), full_page=True)
    await assert_clean(page, live)
    await context.close()


# Accessibility (WCAG 2.2 AA): axe-core, and what axe cannot check by itself.

PHONE = {"width": 320, "height": 700}
HEADINGS = "() => [...document.querySelectorAll('h1,h2,h3,h4,h5,h6')].map((h) => Number(h.tagName[1]))"
OVERFLOW = "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"


async def summaries(live: Live) -> int:
    return sum(1 for url in live.requests if "/v1/ops/summary" in url)


async def wait_for(condition: Any, timeout: float = 10, what: str = "condition") -> None:
    """Polls an async condition with a deadline."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)  # polling a condition with a deadline


async def assert_axe_clean(page: Page) -> None:
    result = await axe_run_async(page)
    assert result.violations == [], "\n".join(result.violations)


async def test_dashboard_and_drill_down_have_no_axe_violations(browser: Browser, live: Live) -> None:
    context, page = await logged_in_after_activity(browser, live)
    await expect(page.locator("#chart-hourly")).to_have_attribute("data-total", "4,2,1")
    assert await page.evaluate("document.activeElement.id") == "main"  # not left on <body> after login
    await assert_axe_clean(page)
    await page.locator("#chart-hourly + details summary").click()  # the chart's data table, opened
    await assert_axe_clean(page)
    await page.goto(live.base + "/ops/articles/a1")
    await expect(page.locator("#chart-article")).to_have_attribute("data-total", "3,2,1")
    await expect(page.locator("#r-shown")).to_have_text("4")
    await expect(page.locator("#r-ctr")).to_have_text("25.0 %")
    await expect(page.locator("#r-positions tbody tr").nth(1).locator("td")).to_have_text(["2", "1", "25.0 %"])
    await assert_axe_clean(page)
    levels = await page.evaluate(HEADINGS)
    assert levels[0] == 1 and all(b <= a + 1 for a, b in pairwise(levels)), levels
    await assert_clean(page, live)
    await context.close()


@pytest.mark.parametrize("path", ["/ops?refresh=0.25", "/ops/articles/a1"])
@pytest.mark.parametrize("width", [320, 375])
async def test_no_horizontal_scroll_on_a_phone(browser: Browser, live: Live, path: str, width: int) -> None:
    await activity(live.base)
    await live.app[K.FLUSHER].flush_once()
    context = await browser.new_context(viewport={**PHONE, "width": width}, user_agent=BROWSER_UA)
    context.set_default_timeout(10_000)
    await context.route("**/*", live.route)
    page = await context.new_page()
    await login(page, live, path)
    chart = "#chart-hourly" if path.startswith("/ops?") else "#chart-article"
    await expect(page.locator(chart)).to_have_attribute("data-total", re.compile(r"\d+,\d+,\d+"))
    scroll, client = await page.evaluate(OVERFLOW)
    assert scroll <= client == width, (scroll, client)
    await page.screenshot(path=str(ARTIFACTS / f"ops-{width}{'-article' if 'articles' in path else ''}.png"),
                          full_page=True)
    await context.close()


async def test_refresh_keeps_the_focused_link_and_can_be_paused(browser: Browser, live: Live) -> None:
    context, page = await logged_in_after_activity(browser, live)
    link = page.locator("#top-views tbody tr").first.locator("a").first
    await expect(link).to_have_text("First story")
    await link.focus()
    await link.evaluate("a => { a.__marked = true; }")
    before = await summaries(live)
    await wait_for(lambda: _more(live, before + 2), what="two dashboard refreshes")
    await expect(page.locator("#h-views-hour")).to_have_text("4")
    assert await page.evaluate("document.activeElement.__marked === true")  # the same element, still focused
    assert await page.evaluate("document.activeElement.textContent") == "First story"
    pause = page.get_by_role("button", name="Pause updates")
    await pause.click()
    await expect(page.get_by_role("button", name="Resume updates")).to_be_visible()
    await expect(page.locator("#updated")).to_contain_text("(paused)")
    paused_at = await summaries(live)
    # An absence is watched for a while: 8 refresh intervals (0.25 s each) of the page's own clock.
    await page.evaluate("() => new Promise((done) => setTimeout(done, 2000))")
    assert await summaries(live) <= paused_at + 1  # at most the one already in flight
    await page.get_by_role("button", name="Resume updates").click()
    resumed_at = await summaries(live)
    await wait_for(lambda: _more(live, resumed_at + 2), what="refreshes after resuming")
    await context.close()


async def _more(live: Live, n: int) -> bool:
    return await summaries(live) >= n


FLUSH_LABELS = """() => [...document.querySelectorAll('#flush dt')].map((dt) => {
      const c = (s) => s.match(/\\d+/g).slice(0, 3).map(Number);
      const lum = (v) => v.map((x) => x / 255).map((x) => x <= 0.04045 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4)
        .reduce((s, x, i) => s + x * [0.2126, 0.7152, 0.0722][i], 0);
      const [a, b] = [lum(c(getComputedStyle(dt).color)), lum(c(getComputedStyle(document.getElementById('flush'))
        .backgroundColor))].sort((x, y) => y - x);
      return (a + 0.05) / (b + 0.05);
    })"""


WATCH = """() => {
  window.__changes = {health: 0, reasons: 0};
  for (const [name, id] of [['health', 'health'], ['reasons', 'reasons']]) {
    new MutationObserver((r) => { window.__changes[name] += r.length; })
      .observe(document.getElementById(id), {childList: true, characterData: true, subtree: true});
  }
}"""


@pytest.mark.parametrize("live", [2.0], indirect=True)
async def test_status_changes_are_announced_and_only_changes(browser: Browser, live: Live) -> None:
    await activity(live.base)
    context = await new_context(browser, live)
    page = await context.new_page()
    await login(page, live)
    await live.app[K.FLUSHER].flush_once()
    await expect(page.locator("#health")).to_have_text("all good")
    assert await page.locator("#health").get_attribute("role") == "status"
    assert await page.locator("#reasons").get_attribute("aria-live") == "polite"
    await page.evaluate(WATCH)
    before = await summaries(live)
    await wait_for(lambda: _more(live, before + 3), what="three refreshes")
    assert await page.evaluate("window.__changes") == {"health": 0, "reasons": 0}  # nothing re-announced
    green = await page.evaluate(FLUSH_LABELS)
    assert green and min(green) >= 4.5, green  # flush labels on the green panel
    # No flush now: past 3 intervals the lag is a warning, and that change is written (announced).
    await expect(page.locator("#health")).to_have_attribute("data-status", "warning", timeout=15_000)
    await expect(page.locator("#reasons li").first).to_contain_text("flush lag")
    changes = await page.evaluate("window.__changes")
    assert changes["health"] >= 1 and changes["reasons"] >= 1
    labels = await page.evaluate(FLUSH_LABELS)
    assert labels and min(labels) >= 4.5, labels  # flush labels on the red panel
    await context.close()


async def test_charts_have_tables_line_styles_and_a_keyboard_legend(browser: Browser, live: Live) -> None:
    context, page = await logged_in_after_activity(browser, live)
    await expect(page.locator("#chart-hourly")).to_have_attribute("data-total", "4,2,1")
    canvas = page.locator("#chart-hourly canvas")
    assert await canvas.get_attribute("role") == "img"
    assert "data table" in (await canvas.get_attribute("aria-label") or "")
    table = page.locator("#chart-hourly + details table")
    await page.locator("#chart-hourly + details summary").focus()
    await page.keyboard.press("Enter")
    await expect(table).to_be_visible()
    assert await table.locator("tbody tr").count() == 48
    sums = await table.evaluate("""t => [1, 2, 3].map((i) => [...t.tBodies[0].rows]
      .reduce((s, r) => s + Number(r.cells[i].textContent.replace(/,/g, '')), 0))""")
    assert sums == [4, 2, 1]
    styles = await page.locator("#chart-hourly .legend .key").evaluate_all(
        "ks => ks.map((k) => getComputedStyle(k).borderTopStyle)")
    assert styles == ["solid", "dashed", "dotted"]  # told apart without colour
    views = page.locator("#chart-hourly .legend button[data-series=views]")
    drawn = await series_pixels(page, "#chart-hourly")
    await views.focus()
    await page.keyboard.press("Space")
    await expect(views).to_have_attribute("aria-pressed", "false")
    await wait_for(lambda: _fewer_pixels(page, drawn), what="the views line to disappear")
    await page.keyboard.press("Enter")
    await expect(views).to_have_attribute("aria-pressed", "true")
    await context.close()


async def _fewer_pixels(page: Page, drawn: int) -> bool:
    return await series_pixels(page, "#chart-hourly") < drawn


async def test_selected_window_shows_in_forced_colours(browser: Browser, live: Live) -> None:
    context = await browser.new_context(viewport={"width": 1400, "height": 1000}, user_agent=BROWSER_UA,
                                        forced_colors="active")
    context.set_default_timeout(10_000)
    await context.route("**/*", live.route)
    page = await context.new_page()
    await login(page, live)
    looks = await page.locator("#windows button").evaluate_all(
        "bs => bs.map((b) => [b.getAttribute('aria-pressed'), getComputedStyle(b).backgroundColor])")
    pressed = {colour for state, colour in looks if state == "true"}
    others = {colour for state, colour in looks if state != "true"}
    assert len(pressed) == 1 and not pressed & others, looks
    await context.close()
