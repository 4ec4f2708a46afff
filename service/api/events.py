"""The events article pages send: views (the beacon), share intents, related lists shown and clicked."""

from __future__ import annotations

import json
import re

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..appkeys import ENGAGEMENT, SETTINGS
from ..domain.articles import ARTICLE_ID
from ..domain.engagement import MAX_RELATED_POSITION, Requester
from ..domain.networks import Network
from ..domain.results import ShareLink
from ..domain.visitors import client_ip
from .answers import EventAnswer
from .contract import JSON, Operation, Reply
from .edge import forwarded_for, routes
from .parsing import buffered_body, decode_json, json_answer, read_body, validate

_VIEW_BODIES = {s: json.dumps({"status": s}).encode() for s in ("accepted", "repeat", "duplicate", "bot")}
EVENT_ID_TOKEN = r"[A-Za-z0-9_.:-]{8,128}"
EVENT_ID = f"^{EVENT_ID_TOKEN}$"
MAX_REFERRER = 2048
# The widget's beacon body exactly as JSON.stringify writes it: {"event_id":"…"}, or with ,"referrer":"…"
# (no whitespace, no escapes), built from ViewIn's own constraints. A body of that shape is one ViewIn
# accepts, with the same event id, and is read with this one regex; every other body, good or bad, goes
# through ViewIn (pydantic): its general path is a measurable share of the beacon's cost (README,
# "Benchmarks"); tests/unit/test_beacon_body.py checks the two agree.
BEACON_BODY = re.compile(
    rb'\{"event_id":"(' + EVENT_ID_TOKEN.encode()
    + rb')"(?:,"referrer":"[\x20\x21\x23-\x5b\x5d-\x7e]{0,%d}")?\}' % MAX_REFERRER
)


class ShareIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    network: Network
    event_id: str | None = Field(None, pattern=EVENT_ID)


class ViewIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    event_id: str | None = Field(None, pattern=EVENT_ID)
    referrer: str | None = Field(None, max_length=MAX_REFERRER)


class RelatedClickIn(BaseModel):
    """Body of `POST /v1/articles/{id}/related/clicks`: which related item of the list was clicked."""

    model_config = ConfigDict(extra="forbid")
    event_id: str | None = Field(None, pattern=EVENT_ID)
    target: str = Field(pattern=ARTICLE_ID.pattern)
    position: int = Field(ge=1, le=MAX_RELATED_POSITION)


class RelatedImpressionIn(BaseModel):
    """Body of `POST /v1/articles/{id}/related/impressions`: the related list was shown."""

    model_config = ConfigDict(extra="forbid")
    event_id: str | None = Field(None, pattern=EVENT_ID)


def requester(request: web.Request) -> Requester:
    settings = request.app[SETTINGS]
    ip = client_ip(request.remote, forwarded_for(request), settings.trusted_proxies)
    return Requester(ip=ip, user_agent=request.headers.get("User-Agent", ""), method=request.method)


async def _public_json(request: web.Request, allow_empty: bool = False) -> object:
    body = await read_body(request, request.app[SETTINGS].max_public_body)
    return decode_json(body, allow_empty)


async def share(request: web.Request) -> web.Response:
    data = validate(ShareIn, await _public_json(request))
    engagement = request.app[ENGAGEMENT]
    link = await engagement.share(request.match_info["article_id"], data.network, data.event_id, requester(request))
    return json_answer(link, 201)


def view_event_id(body: bytes) -> str | None:
    """The event id of a valid beacon body (None: it has none); a 4xx error for a bad one."""
    if (canonical := BEACON_BODY.fullmatch(body)) is not None:
        return canonical[1].decode()
    try:
        return ViewIn.model_validate_json(body or b"{}").event_id
    except ValidationError:  # say exactly what is wrong, as every other endpoint does
        return validate(ViewIn, decode_json(body, allow_empty=True)).event_id


async def view(request: web.Request) -> web.Response:
    limit = request.app[SETTINGS].max_public_body
    body = buffered_body(request, limit)
    if body is None:
        body = await read_body(request, limit)
    event_id = view_event_id(body)
    status = await request.app[ENGAGEMENT].view(request.match_info["article_id"], event_id, requester(request))
    body = _VIEW_BODIES.get(status) or json.dumps({"status": status}).encode()
    return web.Response(body=body, status=202, content_type="application/json")


async def related_click(request: web.Request) -> web.Response:
    data = validate(RelatedClickIn, await _public_json(request))
    status = await request.app[ENGAGEMENT].related(request.match_info["article_id"], "click", data.position,
                                                   data.event_id, requester(request))
    return json_answer(EventAnswer(status=status), 202)


async def related_impression(request: web.Request) -> web.Response:
    data = validate(RelatedImpressionIn, await _public_json(request, allow_empty=True))
    status = await request.app[ENGAGEMENT].related(request.match_info["article_id"], "impression", 0,
                                                   data.event_id, requester(request))
    return json_answer(EventAnswer(status=status), 202)


WRITE_ERRORS = (404, 410, 413, 415, 422, 429)
EVENT = Reply("what became of the event", EventAnswer)


def setup(app: web.Application) -> None:
    r = routes(app)
    r.post("/v1/articles/{article_id}/views", view, Operation(  # first: the busiest route resolves at once
        "Count a page view (the widget's beacon)", {202: EVENT}, "events", body=ViewIn,
        body_media=(JSON, "text/plain"), body_required=False, errors=WRITE_ERRORS, cross_origin=True,
        description="Once per event id and once per visitor and article in VIEW_PER_VISITOR_S; the rest are repeats.",
    ))
    r.post("/v1/articles/{article_id}/shares", share, Operation(
        "Count a share intent and get the share link", {201: ShareLink}, "events", body=ShareIn,
        errors=WRITE_ERRORS, cross_origin=True,
    ))
    r.post("/v1/articles/{article_id}/related/clicks", related_click, Operation(
        "Count a click on an item of the related list", {202: EVENT}, "events", body=RelatedClickIn,
        errors=WRITE_ERRORS, cross_origin=True,
    ))
    r.post("/v1/articles/{article_id}/related/impressions", related_impression, Operation(
        "Count a shown related list", {202: EVENT}, "events", body=RelatedImpressionIn, body_required=False,
        errors=WRITE_ERRORS, cross_origin=True,
    ))
