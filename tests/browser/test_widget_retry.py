"""The widget retries a write answered 503 (outcome unknown) with the same event id, in a real Chromium."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, Route

from tests.browser.conftest import Api, Traffic, poll
from tests.browser.test_widget_browser import button, open_demo

pytestmark = pytest.mark.browser

UNKNOWN = json.dumps({"error": {"code": "unavailable", "message": "outcome unknown",
                                "details": {"outcome": "unknown", "retry": "same event_id"}}})


def _first_answered_503(bodies: list[str]) -> object:
    def handle(route: Route) -> None:
        bodies.append(route.request.post_data or "")
        if len(bodies) == 1:
            route.fulfill(status=503, content_type="application/json", body=UNKNOWN, headers={"Retry-After": "1"})
        else:
            route.continue_()

    return handle


def _count(page: Page, bodies: list[str]) -> int:
    """How many were sent; a Playwright call, so that route handlers run meanwhile (sync API)."""
    page.wait_for_timeout(50)
    return len(bodies)


def test_a_share_answered_503_is_retried_with_the_same_event_id(
    page: Page, api: Api, live_server: str, traffic: Traffic
) -> None:
    api.put_article("r-share", title="Retried share")
    bodies: list[str] = []
    page.route("**/v1/articles/r-share/shares", _first_answered_503(bodies))
    open_demo(page, live_server, "r-share")
    button(page, "email").click()
    poll(lambda: _count(page, bodies) == 2, what="the share sent again")
    first, second = (json.loads(b) for b in bodies)
    assert first == second and len(first["event_id"]) == 32
    poll(lambda: api.stats("r-share")["shares"]["total"] == 1, what="the retried share counted")
    page.wait_for_load_state("networkidle")
    assert len(bodies) == 2


def test_a_fetch_beacon_answered_503_is_retried_with_the_same_event_id(
    page: Page, api: Api, live_server: str, traffic: Traffic
) -> None:
    api.put_article("r-view", title="Retried view")
    bodies: list[str] = []
    page.add_init_script("Object.defineProperty(navigator, 'sendBeacon', {value: undefined})")  # the fetch path
    page.route("**/v1/articles/r-view/views", _first_answered_503(bodies))
    open_demo(page, live_server, "r-view")
    poll(lambda: _count(page, bodies) == 2, what="the beacon sent again")
    assert bodies[0] == bodies[1] and len(json.loads(bodies[0])["event_id"]) == 32
    poll(lambda: api.stats("r-view")["views"] == 1, what="the retried view counted")
