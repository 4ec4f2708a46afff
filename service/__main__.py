"""Command line: `python -m service serve|import|flush`."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from . import appkeys as K
from .api import server
from .app import create_app
from .config import Settings
from .logs import setup_logging


def load_settings() -> Settings:
    """Settings from the environment, or a clear message and exit status 2."""
    try:
        return Settings()
    except ValidationError as exc:
        lines = [f"  {'.'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()]
        sys.exit("invalid configuration:\n" + "\n".join(lines))


def read_articles(path: Path) -> Iterator[dict[str, Any]]:
    """Articles from a JSON array, a JSON {"articles": [...]} or NDJSON file."""
    text = path.read_text(encoding="utf-8")
    stripped = text.lstrip()
    if stripped.startswith("["):
        yield from json.loads(text)
    elif stripped.startswith("{") and '"articles"' in stripped[:200] and "\n{" not in stripped.strip():
        yield from json.loads(text)["articles"]
    else:
        for line in text.splitlines():
            if line.strip():
                yield json.loads(line)


async def run_import(settings: Settings, path: Path, batch: int = 1000) -> int:
    app = create_app(settings, flusher=False)
    runner = web.AppRunner(app)
    await runner.setup()
    rejected = done = 0
    try:
        items = list(read_articles(path))
        for start in range(0, len(items), batch):
            results = await app[K.CATALOG].bulk(items[start : start + batch])
            for r in results:
                if r.error is not None:
                    rejected += 1
                    print(f"item {start + r.index}: {r.error.message} {r.error.details}", file=sys.stderr)
            done += len(results)
            _progress(done, len(items))
    finally:
        await runner.cleanup()
    print(f"\nimported {done - rejected} articles, rejected {rejected}")
    return 1 if rejected else 0


def _progress(done: int, total: int, width: int = 40) -> None:
    filled = width * done // max(total, 1)
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    sys.stderr.flush()


async def run_flush(settings: Settings) -> int:
    from .appkeys import FLUSHER

    app = create_app(settings, flusher=False)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        report = await app[FLUSHER].flush_once()
    finally:
        await runner.cleanup()
    print(json.dumps(report.as_dict()))
    return 0


async def freeze_heap(app: web.Application) -> None:
    """Move what start-up built out of the garbage collector's sight: requests then pay less for GC."""
    gc.collect()
    gc.freeze()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--demo", action="store_true", help="load the demo catalog")
    serve.add_argument("--role", choices=["all", "api", "worker"], default=None,
                       help="all: one process doing everything (default, or ROLE); api: serve only; "
                            "worker: flush and build while holding the worker lease, standby otherwise")
    imp = sub.add_parser("import", help="import articles from a JSON or NDJSON file")
    imp.add_argument("file", type=Path)
    sub.add_parser("flush", help="move pending counters from Redis to SQLite once")
    args = parser.parse_args(argv)
    settings = load_settings()
    setup_logging(settings.log_format, settings.log_level)
    if args.command == "serve":
        if args.role is not None:
            settings = settings.model_copy(update={"role": args.role})
        app = create_app(settings, demo=args.demo)
        app.on_startup.append(freeze_heap)
        server.run(app, args.host, args.port, server.Limits.from_settings(settings), settings.shutdown_timeout_s)
        return 0
    if args.command == "import":
        return asyncio.run(run_import(settings, args.file))
    return asyncio.run(run_flush(settings))


if __name__ == "__main__":
    sys.exit(main())
