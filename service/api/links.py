"""GET /s/{code}: a share link's redirect to its article, counted as a click."""

from __future__ import annotations

from aiohttp import web

from ..appkeys import ENGAGEMENT
from .contract import Operation, Reply
from .edge import routes
from .events import requester

NO_STORE = "private, max-age=0, no-store"  # every click must reach us to be counted


async def redirect(request: web.Request) -> web.Response:
    target = await request.app[ENGAGEMENT].click(request.match_info["code"], requester(request))
    headers = {"Location": target, "Cache-Control": NO_STORE, "Referrer-Policy": "unsafe-url"}
    return web.Response(status=302, headers=headers)


def setup(app: web.Application) -> None:
    routes(app).get("/s/{code}", redirect, Operation(  # answers HEAD too (counted as a bot click)
        "Follow a share link", {302: Reply("to the article, with UTM parameters", None, headers=("Location",))},
        "links", errors=(404, 410, 429),
    ))
