"""The `kyodo` command: `kyodo serve` runs the broker (with the embedded database by default);
`kyodo token` mints a development token."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import sys
from collections.abc import AsyncIterator

from aiohttp import web
from pydantic import ValidationError

from broker import __version__
from broker.app import create_app
from broker.auth.settings import AuthConfigError, auth_settings, insecure_bind_refusal
from broker.auth.tokens import mint_token
from broker.config import Settings
from broker.logs import configure_logging, log
from broker.store.embedded import EmbeddedDatabase, EmbeddedDatabaseError
from broker.workers import WorkerPool, worker_environment, worker_number


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
    serve.add_argument("--workers", type=int,
                       help="broker processes sharing the port (KYODO_WORKERS, default 1; SO_REUSEPORT)")
    serve.add_argument("--insecure-bind", action="store_true", default=None,
                       help="with KYODO_AUTH=none, bind a non-loopback address anyway (KYODO_INSECURE_BIND)")
    token = commands.add_parser("token", help="print an HS256 development token signed with KYODO_JWT_HS256_SECRET")
    token.add_argument("--tenant", action="append", required=True,
                       help="a tenant the token may act on ('default' for the default tenant, '*' for all); "
                            "repeat or separate with commas")
    token.add_argument("--scope", required=True, help='space-separated scopes, e.g. "ngsi-ld:read ngsi-ld:write"')
    token.add_argument("--subject", default="kyodo-dev", help="the token's sub (default kyodo-dev)")
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds (default 3600)")
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {key: value for key, value in vars(args).items()
                 if key not in ("command",) and value is not None}
    return Settings(**overrides)


def _report_embedded_exit(database: EmbeddedDatabase) -> None:
    log.error("embedded database exited; the broker is not ready until it is restarted",
              exit_code=database.exit_code, log_file=str(database.data_dir / "secantusd.log"))


async def _watch_embedded(database: EmbeddedDatabase) -> None:
    while database.alive():
        await asyncio.sleep(1.0)
    _report_embedded_exit(database)


def token(args: argparse.Namespace) -> int:
    """`kyodo token`: print a token for the secret, issuer and audience of the KYODO_* settings."""
    try:
        print(mint_token(Settings(), tenants=[name for value in args.tenant for name in value.split(",") if name],
                         scopes=args.scope.split(), subject=args.subject, ttl_s=args.ttl))
    except (ValidationError, AuthConfigError) as exc:
        print(f"kyodo token: {exc}", file=sys.stderr)
        return 2
    return 0


def use_uvloop() -> bool:
    """uvloop's event loop for every loop made from here on, when it is installed (a runtime
    dependency, but optional on platforms it does not build for): less CPU per request."""
    try:
        import uvloop
    except ImportError:
        return False
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return True


def serve(settings: Settings) -> int:
    configure_logging(settings.log_level, settings.log_format)
    refusal = insecure_bind_refusal(settings)
    if refusal is not None:
        print(f"kyodo: {refusal}", file=sys.stderr)
        return 2
    try:
        auth = auth_settings(settings)
    except AuthConfigError as exc:
        print(f"kyodo: {exc}", file=sys.stderr)
        return 2
    worker = worker_number()
    if worker is None:  # the workers of `--workers N` leave these to their parent
        if auth.mode == "none":
            log.warning("access control is off (KYODO_AUTH=none): every client may read and change every tenant; "
                        "for development only", host=settings.host)
        else:
            if not auth.audience:
                log.warning("tokens are accepted whatever their audience (aud); set KYODO_JWT_AUDIENCE")
            if auth.issuer is None:
                log.warning("tokens are accepted whatever their issuer (iss); set KYODO_JWT_ISSUER")
    if settings.workers > 1 and worker is None and settings.port == 0:
        print("kyodo: --workers needs a fixed port (the workers share it)", file=sys.stderr)
        return 2
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
    try:
        if settings.workers > 1 and worker is None:
            return _serve_workers(settings, mongo_url, embedded)
        _serve_here(settings, mongo_url, embedded, worker)
    finally:
        if embedded is not None:
            embedded.stop()
            log.info("embedded database stopped")
    return 0


def settle_garbage_collector() -> None:
    """Move everything built at startup (modules, schemas, the app) out of the collector's sight and
    collect the young generation less often: full collections over that heap cost ~40 ms each; under
    `make bench`'s batch upserts GC went from 13 % to 5 % of the broker's CPU (measured with gc.callbacks)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


def _serve_workers(settings: Settings, mongo_url: str, embedded: EmbeddedDatabase | None) -> int:
    """The parent of `--workers N`: the workers serve, it supervises (broker/workers.py)."""
    reported = False

    def watch_embedded() -> None:
        nonlocal reported
        if embedded is not None and not embedded.alive() and not reported:
            reported = True
            _report_embedded_exit(embedded)

    log.info("kyodo listening", url=f"http://{settings.host}:{settings.port}", version=__version__,
             workers=settings.workers)
    return WorkerPool(settings.workers, worker_environment(settings, mongo_url, settings.workers),
                      on_tick=watch_embedded).run()


def _serve_here(settings: Settings, mongo_url: str, embedded: EmbeddedDatabase | None, worker: int | None) -> None:
    """One broker process: a single-process broker, or worker number `worker` of `--workers N`."""
    loop = "uvloop" if use_uvloop() else "asyncio"
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
    if worker is None:
        log.info("kyodo listening", url=f"http://{settings.host}:{settings.port}", version=__version__,
                 event_loop=loop)
    else:
        log.info("worker listening", worker=worker, pid=os.getpid(), event_loop=loop)
    settle_garbage_collector()
    web.run_app(app, host=settings.host, port=settings.port, print=None, access_log=None,
                reuse_port=worker is not None or None)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "token":
        return token(args)
    try:
        settings = _settings(args)
    except ValidationError as exc:
        print(f"kyodo: invalid settings:\n{exc}", file=sys.stderr)
        return 2
    return serve(settings)


if __name__ == "__main__":
    sys.exit(main())
