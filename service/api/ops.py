"""The ops view: GET /v1/ops/summary (admin), the dashboard page and the per-article drill-down."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from .. import appkeys as K
from ..domain.catalog import check_article_id
from ..domain.results import OpsSummary
from .contract import Operation, Reply
from .edge import routes
from .parsing import json_answer, require_admin

ASSETS = Path(__file__).resolve().parent.parent / "web" / "ops"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {  # on every page and asset of the dashboard
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
PAGE_HEADERS = {**SECURITY_HEADERS, "Cache-Control": "no-store"}
ASSET_HEADERS = {**SECURITY_HEADERS, "Cache-Control": "no-cache"}  # revalidated (ETag) on every load


PAGE = Reply("the page", media="text/html")


async def summary(request: web.Request) -> web.Response:
    require_admin(request, request.app[K.ADMIN_TOKEN])
    return json_answer(await request.app[K.OPS].summary(), headers={"Cache-Control": "no-store"})


def _page(name: str) -> web.FileResponse:
    return web.FileResponse(ASSETS / name, headers={**PAGE_HEADERS, "Content-Type": "text/html; charset=utf-8"})


async def dashboard(request: web.Request) -> web.FileResponse:
    return _page("index.html")


async def article_page(request: web.Request) -> web.FileResponse:
    check_article_id(request.match_info["article_id"])
    return _page("article.html")


def setup(app: web.Application) -> None:
    r = routes(app)
    r.get("/v1/ops/summary", summary, Operation(
        "What the dashboard shows: rates, flush lag, Redis memory, top articles, health", {200: OpsSummary}, "ops",
        admin=True,
    ))
    r.get("/ops", dashboard, Operation("The ops dashboard (it logs in with the admin token)", {200: PAGE}, "ops"))
    r.get("/ops/articles/{article_id}", article_page, Operation(
        "An article's drill-down page", {200: PAGE}, "ops", errors=(422,),
    ))
    r.files("/ops/static", ASSETS, Operation(
        "The dashboard's scripts and styles", {200: Reply("the file", media="application/octet-stream")}, "ops",
        errors=(404,),
    ), ASSET_HEADERS)
