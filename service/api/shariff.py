"""A Shariff-compatible count backend: `GET /shariff?url=<page>` -> our share counts by Shariff service name."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field, RootModel

from ..appkeys import CATALOG, ENGAGEMENT
from .contract import Operation
from .edge import routes
from .parsing import query

# Our networks under the names Shariff's front-end (npm `shariff`) gives its services.
SHARIFF_NAMES = {
    "facebook": "facebook",
    "x": "twitter",
    "linkedin": "linkedin",
    "whatsapp": "whatsapp",
    "telegram": "telegram",
    "reddit": "reddit",
    "bluesky": "bluesky",
    "email": "mail",
    "copy": "clipboard",
}
MAX_URL = 2048
CACHE = "public, max-age=30"  # counts may lag half a minute; saves us a burst of identical page loads


class ShariffQuery(BaseModel):
    url: str = Field(min_length=1, max_length=MAX_URL, description="the page's address")


class ShariffCounts(RootModel[dict[str, int]]):
    """Share counts keyed by Shariff service name."""


def shariff_counts(by_network: dict[str, int]) -> dict[str, int]:
    """Non-zero share counts keyed by Shariff service name (Shariff shows every number it gets)."""
    return {name: by_network[ours] for ours, name in SHARIFF_NAMES.items() if by_network.get(ours, 0) > 0}


async def shariff(request: web.Request) -> web.Response:
    url = query(ShariffQuery, request).url
    engagement = request.app[ENGAGEMENT]
    counts: dict[str, int] = {}
    article_id = await request.app[CATALOG].article_for_url(url)
    if article_id is not None:
        found = await engagement.stats([article_id])
        if article_id in found:
            counts = shariff_counts(found[article_id].shares.by_network)
    return web.json_response(counts, headers={"Cache-Control": CACHE})


def setup(app: web.Application) -> None:
    routes(app).get("/shariff", shariff, Operation(
        "Share counts of a page by Shariff service name (non-zero ones)", {200: ShariffCounts}, "stats",
        query=ShariffQuery, errors=(422,), cross_origin=True,
    ))
