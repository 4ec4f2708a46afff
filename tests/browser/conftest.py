"""A live service (`python -m service serve --demo`) and Debian's Chromium driven by Playwright.

Every request the browser makes to a host other than the service (or the fake news site the tests
serve themselves) is answered by a local stub and recorded: nothing leaves the machine.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import (
    APIRequestContext,
    Browser,
    BrowserContext,
    Page,
    Playwright,
    Request,
    Route,
    expect,
    sync_playwright,
)

from tests.conftest import ADMIN, BROWSER_UA, RAW_COUNTING_ENV, start_redis_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
VENDOR = Path(__file__).resolve().parent / "vendor"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}

# Records securitypolicyviolation events (CSP and Trusted Types) and calls of window.open.
INIT_SCRIPT = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI);
});
window.__opened = [];
(function () {
  var open = window.open;
  window.open = function (url, target, features) {
    window.__opened.push([String(url), target, features]);
    return /^mailto:/.test(String(url)) ? null : open.apply(window, arguments);
  };
})();
"""

def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    message = ("Chromium is not installed at /usr/bin/chromium: install it with `sudo apt-get install chromium` "
               "(Debian/Ubuntu) to run the browser tests")
    if os.environ.get("CI"):
        pytest.fail(message + " (CI is set: browser tests may not be skipped)")
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_ready(base: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the service exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(base + "/readyz", timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.05)  # polling until the service answers
    raise RuntimeError(f"the service did not become ready:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of the real service started as a user would, with the demo catalog."""
    _require_chromium()
    directory = tmp_path_factory.mktemp("live")
    redis_proc = start_redis_server(directory / "redis")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "REDIS_URL": f"unix://{directory / 'redis' / 'redis.sock'}",
        "DATA_DIR": str(directory / "data"),
        "ADMIN_TOKEN": ADMIN,
        "PUBLIC_BASE_URL": base,
        "LOG_FORMAT": "text",
        **RAW_COUNTING_ENV,  # every test is the same visitor
    }
    log = directory / "service.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "service", "serve", "--port", str(port), "--demo"],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_ready(base, proc, log)
        yield base
    finally:
        proc.terminate()
        proc.wait(30)
        redis_proc.terminate()
        redis_proc.wait(10)


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    _require_chromium()
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    expect.set_options(timeout=10_000)  # the 5 s default is short on a loaded 2-core machine
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield browser
    browser.close()


class Api:
    """The service's HTTP API, called from the test (not from the page)."""

    def __init__(self, request: APIRequestContext, base: str) -> None:
        self.request = request
        self.base = base

    def _json(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        resp = self.request.fetch(self.base + path, method=method, data=json.dumps(body) if body else None,
                                  headers={"Authorization": f"Bearer {ADMIN}", "User-Agent": BROWSER_UA})
        assert resp.status == status, resp.text()
        return resp.json()

    def put_article(self, article_id: str, **over: Any) -> dict[str, Any]:
        body = {"url": f"https://t4k3.news/{article_id}", "title": f"Story {article_id}",
                "tags": ["Browser", "Widget"], "published_at": "2026-11-20T10:00:00Z", **over}
        resp = self.request.put(f"{self.base}/v1/articles/{article_id}", data=json.dumps(body),
                                headers={"Authorization": f"Bearer {ADMIN}"})
        assert resp.status in (200, 201), resp.text()
        data: dict[str, Any] = resp.json()
        return data

    def stats(self, article_id: str) -> dict[str, Any]:
        data: dict[str, Any] = self._json("GET", f"/v1/articles/{article_id}/stats")
        return data

    def share(self, article_id: str, network: str) -> dict[str, Any]:
        data: dict[str, Any] = self._json("POST", f"/v1/articles/{article_id}/shares", {"network": network}, 201)
        return data

    def related(self, article_id: str, limit: int = 5) -> list[dict[str, Any]]:
        data: dict[str, Any] = self._json("GET", f"/v1/articles/{article_id}/related?limit={limit}")
        return list(data["related"])

    def redirect(self, share_url: str) -> str:
        """Where a share link sends a reader (counts one click)."""
        resp = self.request.get(share_url, max_redirects=0, headers={"User-Agent": BROWSER_UA})
        assert resp.status == 302, resp.text()
        return resp.headers["location"]


@pytest.fixture(scope="module")
def api(playwright: Playwright, live_server: str) -> Iterator[Api]:
    request = playwright.request.new_context()
    yield Api(request, live_server)
    request.dispose()


@dataclass
class Traffic:
    """What the browser asked for, split into our service, the fake site and everything else."""

    service: str
    site: str
    pages: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # path on the site -> (type, body)
    ours: list[Request] = field(default_factory=list)
    external: list[str] = field(default_factory=list)

    def handle(self, route: Route) -> None:
        url = route.request.url
        if url.startswith(self.service + "/"):
            self.ours.append(route.request)
            route.continue_()
        elif url.startswith(self.site + "/"):
            content_type, body = self.pages.get(url[len(self.site):].split("?")[0], ("text/plain", b"not found"))
            route.fulfill(status=200 if body != b"not found" else 404, content_type=content_type, body=body)
        else:
            self.external.append(url)
            route.fulfill(status=200, content_type="text/html", body="<!doctype html><title>stub</title>stub")

    def posts(self, suffix: str) -> list[Request]:
        return [r for r in self.ours if r.method == "POST" and r.url.endswith(suffix)]


@pytest.fixture
def traffic(live_server: str) -> Traffic:
    port = live_server.rsplit(":", 1)[1]
    return Traffic(service=live_server, site=f"http://news.localhost:{port}")


ContextFactory = Callable[..., BrowserContext]


@pytest.fixture
def new_context(browser: Browser, traffic: Traffic) -> Iterator[ContextFactory]:
    """Contexts with a desktop Chrome user agent, all traffic routed through `traffic`."""
    made: list[BrowserContext] = []

    def make(viewport: dict[str, int] | None = None, **options: Any) -> BrowserContext:
        context = browser.new_context(user_agent=BROWSER_UA, viewport=viewport or DESKTOP, **options)
        context.set_default_timeout(10_000)
        context.add_init_script(INIT_SCRIPT)
        # The fake site counts as public and our live server is on loopback: Chrome's Local Network
        # Access would ask the reader. In production both are public, so the test grants it.
        context.grant_permissions(["local-network-access"], origin=traffic.site)
        context.route("**/*", traffic.handle)
        made.append(context)
        return context

    yield make
    for context in made:
        context.close()


@pytest.fixture
def page(new_context: ContextFactory) -> Page:
    return new_context().new_page()


def poll(check: Callable[[], bool], timeout: float = 10, what: str = "condition") -> None:
    """Wait until `check()` holds, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)  # polling a condition with a deadline


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
