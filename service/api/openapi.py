"""GET /openapi.json: the OpenAPI 3.1 document, built from the routes' declared operations and models."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from ..domain.articles import ARTICLE_ID
from ..domain.codes import CODE
from .answers import ErrorAnswer
from .contract import JSON, Models, Operation, Reply
from .edge import Declared, routes
from .errors import HTTP_CODES

REF = "#/components/schemas/{model}"
COMMON_ERRORS = (400, 503)  # any route: a request the parser refuses; storage down or past the deadline
ERROR_TEXT = {**HTTP_CODES, 410: "gone", 422: "validation_error", 429: "rate_limited"}
PATH_PARAMS: dict[str, dict[str, Any]] = {
    "article_id": {"type": "string", "pattern": ARTICLE_ID.pattern},
    "code": {"type": "string", "pattern": CODE.pattern, "description": "a share link's code"},
    "path": {"type": "string", "description": "a file's path under the folder"},
}
_PARAM = re.compile(r"\{([A-Za-z_]+)\}")
DESCRIPTION = (
    "The sharing and engagement service behind a news site's article pages. Every GET also answers HEAD. "
    "Errors are always the ErrorAnswer shape. Admin routes need `Authorization: Bearer <ADMIN_TOKEN>`."
)


def _models(models: Models | None) -> tuple[type[BaseModel], ...]:
    if models is None:
        return ()
    return models if isinstance(models, tuple) else (models,)


def _used(declared: Iterable[Declared]) -> list[tuple[type[BaseModel], JsonSchemaMode]]:
    """Every (model, mode) the operations name: bodies and queries validate, replies serialise."""
    used: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {(ErrorAnswer, "serialization"): None}
    for d in declared:
        for model in (d.operation.body, d.operation.query):
            if model is not None:
                used[(model, "validation")] = None
        for status in d.operation.replies:
            for model in _models(d.operation.reply(status).model):
                used[(model, "serialization")] = None
    return list(used)


class Builder:
    """One document: component schemas from pydantic (one `$defs` pool), operations from the registry."""

    def __init__(self, declared: list[Declared]) -> None:
        self.declared = declared
        self.refs, defs = models_json_schema(_used(declared), ref_template=REF)
        self.schemas: dict[str, Any] = defs.get("$defs", {})

    def ref(self, model: type[BaseModel], mode: JsonSchemaMode) -> dict[str, Any]:
        return dict(self.refs[(model, mode)])

    def content(self, models: Models | None, media: str) -> dict[str, Any]:
        if media != JSON:
            return {media: {"schema": {"type": "string"}}}
        refs = [self.ref(m, "serialization") for m in _models(models)]
        return {media: {"schema": refs[0] if len(refs) == 1 else {"anyOf": refs}}}

    def response(self, reply: Reply) -> dict[str, Any]:
        out: dict[str, Any] = {"description": reply.description or "OK"}
        if reply.model is not None or reply.media != JSON:
            out["content"] = self.content(reply.model, reply.media)
        if reply.headers:
            out["headers"] = {h: {"schema": {"type": "string"}} for h in reply.headers}
        return out

    def error(self, status: int) -> dict[str, Any]:
        headers = {"Retry-After": {"schema": {"type": "string"}}} if status in (429, 503) else None
        out = {"description": ERROR_TEXT.get(status, "error"), "content": self.content(ErrorAnswer, JSON)}
        return {**out, "headers": headers} if headers else out

    def responses(self, op: Operation) -> dict[str, Any]:
        out = {str(s): self.response(op.reply(s)) for s in sorted(op.replies)}
        for status in sorted({*COMMON_ERRORS, *op.errors, *((401,) if op.admin else ())}):
            out.setdefault(str(status), self.error(status))
        return out

    def parameters(self, path: str, op: Operation) -> list[dict[str, Any]]:
        params = [{"name": n, "in": "path", "required": True, "schema": PATH_PARAMS[n]} for n in _PARAM.findall(path)]
        if op.query is not None:
            schema = op.query.model_json_schema(ref_template=REF)
            required = set(schema.get("required", ()))
            for name, prop in schema.get("properties", {}).items():
                params.append({"name": name, "in": "query", "required": name in required, "schema": prop})
        return params

    def operation(self, d: Declared) -> dict[str, Any]:
        op = d.operation
        out: dict[str, Any] = {
            "operationId": f"{d.method.lower()}{re.sub(r'[^A-Za-z0-9]+', '_', d.path).rstrip('_')}",
            "summary": op.summary, "tags": [op.tag], "responses": self.responses(op),
        }
        if op.description:
            out["description"] = op.description
        if params := self.parameters(d.path, op):
            out["parameters"] = params
        if op.body is not None:
            schema = self.ref(op.body, "validation")
            content = {m: {"schema": schema} for m in op.body_media}
            out["requestBody"] = {"required": op.body_required, "content": content}
        out["security"] = [{"bearer": []}] if op.admin else []
        return out

    def document(self) -> dict[str, Any]:
        paths: dict[str, dict[str, Any]] = {}
        for d in self.declared:
            paths.setdefault(d.path, {})[d.method.lower()] = self.operation(d)
        return {
            "openapi": "3.1.0",
            "info": {"title": "Engagement service", "version": "1", "description": DESCRIPTION},
            "paths": paths,
            "components": {
                "schemas": self.schemas,
                "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "ADMIN_TOKEN"}},
            },
        }


def document(declared: list[Declared]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of these routes."""
    return Builder(declared).document()


def setup(app: web.Application) -> None:
    built: list[bytes] = []  # on first use, when every route is registered

    async def openapi(request: web.Request) -> web.Response:
        if not built:
            built.append(json.dumps(document(routes(request.app).declared), ensure_ascii=False).encode())
        return web.Response(body=built[0], content_type="application/json", headers={"Cache-Control": "no-cache"})

    routes(app).get("/openapi.json", openapi, Operation(
        "This document: the API's OpenAPI 3.1 contract", {200: Reply("the OpenAPI document", None, JSON)}, "meta",
    ))
