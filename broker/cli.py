"""The `kyodo` command: `kyodo serve` runs the broker (with the embedded database by default)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator

from aiohttp import web
from pydantic import ValidationError

from broker import __version__
from broker.app import create_app
from broker.config import Settings
from broker.logs import configure_logging, log
from broker.store.embedded import EmbeddedDatabase, EmbeddedDatabaseError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kyodo", description="Kyodo NGSI-LD context broker")
    parser.add_argument("--version", action="version", version=f"kyodo {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the broker (flags override KYODO_* variables)")
    serve.add_argument("--host", help="address to bind (KYODO_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (KYODO_PORT, default 1026)")
    serve.add_argument("--mongo-url", help="MongoDB URL (KYODO_MONGO_URL; unset = embedded database)")
    serve.add_argument("--data-dir", help="embedded database directory (KYODO_DATA_DIR, default ./.kyodo-data)")
    serve.add_argument("--db-prefix", help="database name prefix (KYODO_DB_PREFIX, default kyodo)")
    serve.add_argument("--log-level", help="debug, info, warning or error (KYODO_LOG_LEVEL)")
    serve.add_argument("--log-format", help="json or console (KYODO_LOG_FORMAT)")
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {key: value for key, value in vars(args).items()
                 if key not in ("command",) and value is not None}
    return Settings(**overrides)


async def _watch_embedded(database: EmbeddedDatabase) -> None:
    while database.alive():
        await asyncio.sleep(1.0)
    log.error("embedded database exited; the broker is not ready until it is restarted",
              exit_code=database.exit_code, log_file=str(database.data_dir / "secantusd.log"))


def serve(settings: Settings) -> int:
    configure_logging(settings.log_level, settings.log_format)
    embedded: EmbeddedDatabase | None = None
    mongo_url = settings.mongo_url
    if mongo_url is None:
        embedded = EmbeddedDatabase(settings.data_dir)
        try:
            mongo_url = embedded.start()
        except EmbeddedDatabaseError as exc:
            log.error("cannot start the embedded database", error=str(exc))
            return 1
        log.info("embedded database started", url=mongo_url, data_dir=str(settings.data_dir.resolve()))
    app = create_app(settings, mongo_url,
                     database_alive=embedded.alive if embedded is not None else (lambda: True))
    if embedded is not None:
        async def watchdog(app: web.Application) -> AsyncIterator[None]:
            task = asyncio.create_task(_watch_embedded(embedded))
            yield
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        app.cleanup_ctx.append(watchdog)
    log.info("kyodo listening", url=f"http://{settings.host}:{settings.port}", version=__version__)
    try:
        web.run_app(app, host=settings.host, port=settings.port, print=None, access_log=None)
    finally:
        if embedded is not None:
            embedded.stop()
            log.info("embedded database stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = _settings(args)
    except ValidationError as exc:
        print(f"kyodo: invalid settings:\n{exc}", file=sys.stderr)
        return 2
    return serve(settings)


if __name__ == "__main__":
    sys.exit(main())
