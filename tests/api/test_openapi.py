"""GET /openapi.json: a valid OpenAPI 3.1 document of every route; no route registered around the edge."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from openapi_spec_validator import validate

from service.api.edge import ROUTES, CatchAll
from service.app import create_app
from service.config import Settings


async def _document(aiohttp_client: Any, settings: Settings) -> tuple[Any, dict[str, Any]]:
    client = await aiohttp_client(create_app(settings, demo=True, flusher=False))
    resp = await client.get("/openapi.json")
    assert resp.status == 200
    return client, await resp.json()


async def test_the_document_is_valid_openapi_3_1_and_names_every_route(settings: Settings, aiohttp_client: Any) -> None:
    client, doc = await _document(aiohttp_client, settings)
    validate(doc)
    assert doc["openapi"] == "3.1.0"
    registered = {
        (r.method.lower(), r.resource.canonical) for r in client.app.router.routes()
        if r.resource is not None and not isinstance(r.resource, CatchAll) and r.method != "HEAD"
    }
    documented = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    assert registered == documented
    assert len(registered) > 25


async def test_admin_routes_need_the_bearer_scheme_and_errors_have_the_json_shape(
        settings: Settings, aiohttp_client: Any) -> None:
    _client, doc = await _document(aiohttp_client, settings)
    assert doc["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "description": "ADMIN_TOKEN"}
    put = doc["paths"]["/v1/articles/{article_id}"]["put"]
    assert put["security"] == [{"bearer": []}] and "401" in put["responses"]
    assert doc["paths"]["/v1/articles/{article_id}/views"]["post"]["security"] == []
    error = put["responses"]["422"]["content"]["application/json"]["schema"]
    assert error == {"$ref": "#/components/schemas/ErrorAnswer"}
    assert set(doc["components"]["schemas"]["ErrorAnswer"]["properties"]) == {"error"}


async def test_bulk_items_are_documented_with_id_and_its_answers_by_status(
        settings: Settings, aiohttp_client: Any) -> None:
    _client, doc = await _document(aiohttp_client, settings)
    bulk = doc["paths"]["/v1/articles/bulk"]["post"]
    assert {"200", "201", "207", "422"} <= set(bulk["responses"])
    schemas = doc["components"]["schemas"]
    item = schemas["BulkIn"]["properties"]["articles"]["items"]
    item = schemas[item["$ref"].rsplit("/", 1)[1]] if "$ref" in item else item
    assert "id" in item["required"] and "url" in item["properties"]
    stats = doc["paths"]["/v1/articles/{article_id}/stats"]["get"]["responses"]["200"]
    assert stats["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Stats"}


async def test_every_handler_in_the_router_is_wrapped_by_the_edge(settings: Settings, aiohttp_client: Any) -> None:
    app = create_app(settings, demo=True, flusher=False)
    wrapped = app[ROUTES].wrapped
    assert all(route.handler in wrapped for route in app.router.routes())
    await aiohttp_client(app)  # and it starts


async def test_a_route_added_around_the_edge_stops_the_start(settings: Settings, aiohttp_client: Any) -> None:
    app = create_app(settings, flusher=False)

    async def sneaky(request: web.Request) -> web.Response:
        return web.Response(text="no metrics, no JSON errors, no CORS")

    app.router.add_get("/sneaky", sneaky)
    with pytest.raises(RuntimeError, match=r"around the edge.*GET /sneaky"):
        await aiohttp_client(app)
