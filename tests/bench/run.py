"""`make bench` / `make bench QUICK=1`: start a database server and the broker as a real process, load
Sensors, run every scenario against the broker and its raw-driver equivalent, write
tests/bench/results/<UTC date>-<commit>[-quick].json and print a Markdown table.

    .venv/bin/python -m tests.bench.run [--quick] [--concurrency 16] [--workers N] [--scaling 1,2]
                                        [--only create,retrieve] [--py-spy PATH]

After the scenarios, create and retrieve run again against a fresh `kyodo serve --workers N` for each
N of --scaling (default 1,2; with --only, none unless given): the scaling from 1 to N processes.

KYODO_MONGO_URL set: both use that server instead of an embedded one (its CPU is then not reported).
--only and --py-spy runs are for investigation: they print but write no results file.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from pymongo import AsyncMongoClient

from tests.bench.load import Meters
from tests.bench.processes import Broker, Database
from tests.bench.scenarios import BATCH_SIZE, ENTITIES, WRITE_TENANT, Bench, Pair, Plan, Result
from tests.bench.stacks import summarize

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(__file__).resolve().parent / "results"
LOAD_AT_START = [round(value, 2) for value in os.getloadavg()]
"""Other work on the machine skews throughput (CPU per operation much less): recorded with the results."""
SCENARIOS = ("create", "retrieve", "query", "geo_near", "update_attr", "batch_upsert", "notify")
SCALING_SCENARIOS = ("create", "retrieve")

FULL = Plan(entities=10_000, meters=5_000, warmup=200, warmup_seconds=3.0, max_seconds=15.0, requests={
    "create": 5000, "retrieve": 10000, "query": 2000, "geo_near": 2000, "update_attr": 4000,
    "batch_upsert": 150, "notify": 2000})
QUICK = Plan(entities=2_000, meters=3_200, warmup=50, warmup_seconds=1.0, max_seconds=4.0, requests={
    "create": 1000, "retrieve": 2000, "query": 400, "geo_near": 400, "update_attr": 800,
    "batch_upsert": 30, "notify": 400})


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()


def commit() -> str:
    """The short commit, with -dirty when the broker's code differs from it."""
    short = _git("rev-parse", "--short", "HEAD") or "unknown"
    changed = _git("status", "--porcelain", "--untracked-files=no", "--", "broker", "tenants", "schemas",
                   "pyproject.toml")
    return f"{short}-dirty" if changed else short


def machine(database: str, concurrency: int, workers: int, plan: Plan) -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    quota = None
    with contextlib.suppress(OSError):
        quota = Path("/sys/fs/cgroup/cpu.max").read_text().strip()
    return {"cpus": len(os.sched_getaffinity(0)), "cpu_model": model, "cgroup_cpu_max": quota,
            "os": f"{platform.system()} {platform.release()}", "python": platform.python_version(),
            "load_average_at_start": LOAD_AT_START, "database": database, "concurrency": concurrency,
            "broker_workers": workers, "entities": plan.entities}


# --- reporting ----------------------------------------------------------------------------------


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def scenario_record(result: Result) -> dict[str, Any]:
    """The issue's schema, exactly: one object per scenario."""
    broker, raw = result.broker, result.raw
    raw_throughput = raw.throughput if raw is not None and raw.ops else None
    return {
        "name": result.name,
        "ops": broker.ops,
        "throughput_per_s": _round(broker.throughput, 1),
        "p50_ms": _round(broker.percentile(50)),
        "p95_ms": _round(broker.percentile(95)),
        "p99_ms": _round(broker.percentile(99)),
        "cpu_us_per_op": _round(broker.per_op_us(broker.broker_cpu_s), 1),
        "raw_throughput_per_s": _round(raw_throughput, 1),
        "ratio": _round(broker.throughput / raw_throughput, 3) if raw_throughput else None,
    }


def _cell(value: Any, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def markdown(results: list[Result]) -> str:
    """The results as a table: broker first, then the raw driver, then broker/raw."""
    lines = [
        "| scenario | ops | ops/s | p50 ms | p95 ms | p99 ms | errors | broker CPU µs/op | DB CPU µs/op "
        "| raw ops/s | raw p50 ms | raw DB CPU µs/op | broker/raw |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for result in results:
        record, broker, raw = scenario_record(result), result.broker, result.raw
        lines.append("| " + " | ".join([
            result.name + (" (entities)" if result.name == "batch_upsert" else ""),
            _cell(record["ops"]), _cell(record["throughput_per_s"], 0), _cell(record["p50_ms"], 2),
            _cell(record["p95_ms"], 2), _cell(record["p99_ms"], 2), _cell(broker.errors),
            _cell(record["cpu_us_per_op"], 0), _cell(_round(broker.per_op_us(broker.db_cpu_s)), 0),
            _cell(record["raw_throughput_per_s"], 0),
            _cell(_round(raw.percentile(50)) if raw else None, 2),
            _cell(_round(raw.per_op_us(raw.db_cpu_s)) if raw else None, 0),
            _cell(record["ratio"], 2),
        ]) + " |")
    return "\n".join(lines)


def scaling_records(scaling: list[tuple[int, Result]]) -> list[dict[str, Any]]:
    """Per worker count and scenario: throughput, latency, CPU, and the speed-up over the fewest workers."""
    base = {result.name: result.broker.throughput for workers, result in scaling
            if workers == min(count for count, _ in scaling)}
    return [{"workers": workers, "name": result.name, "ops": result.broker.ops,
             "throughput_per_s": _round(result.broker.throughput, 1),
             "p50_ms": _round(result.broker.percentile(50)), "p99_ms": _round(result.broker.percentile(99)),
             "cpu_us_per_op": _round(result.broker.per_op_us(result.broker.broker_cpu_s), 1),
             "errors": result.broker.errors,
             "speedup": _round(result.broker.throughput / base[result.name], 2) if base.get(result.name) else None}
            for workers, result in scaling]


def scaling_markdown(records: list[dict[str, Any]]) -> str:
    lines = ["| workers | scenario | ops/s | p50 ms | p99 ms | broker CPU µs/op (all processes) | errors | speed-up |",
             "|--:|---|--:|--:|--:|--:|--:|--:|"]
    for record in records:
        lines.append("| " + " | ".join([
            str(record["workers"]), record["name"], _cell(record["throughput_per_s"], 0), _cell(record["p50_ms"], 2),
            _cell(record["p99_ms"], 2), _cell(record["cpu_us_per_op"], 0), _cell(record["errors"]),
            _cell(record["speedup"], 2)]) + " |")
    return "\n".join(lines)


async def run_scaling(work: Path, url: str, prefix: str, database: Database, plan: Plan, concurrency: int,
                      counts: list[int], http: aiohttp.ClientSession, sensors: Pair,
                      meters: Pair) -> list[tuple[int, Result]]:
    """create and retrieve against a fresh broker of each worker count, on the data already loaded."""
    scaling: list[tuple[int, Result]] = []
    for workers in counts:
        broker = Broker(work, url, prefix, workers)
        broker.start()
        try:
            await broker.wait_ready()
            print(f"scaling: {workers} worker(s), broker pid {broker.pid}", file=sys.stderr)
            bench = Bench(http, broker.base, sensors, meters, lambda pid=broker.pid: Meters(pid, database.pid),
                          plan, concurrency, with_raw=False, label=f"-w{workers}")
            for name in SCALING_SCENARIOS:
                result = await getattr(bench, name)()
                scaling.append((workers, result))
                print(f"  {name}: {result.broker.ops:,} ops, {result.broker.throughput:,.0f}/s, "
                      f"errors {result.broker.errors}", file=sys.stderr)
        finally:
            broker.stop()
    return scaling


def _share(part: float | None, whole: float | None) -> str:
    return "—" if part is None or not whole else f"{part / whole:.0%}"


def details(results: list[Result]) -> str:
    """What the table leaves out: the load generator's own CPU, first errors, raw-side errors."""
    lines = []
    for result in results:
        broker, raw = result.broker, result.raw
        parts = [f"kernel share of CPU: broker {_share(broker.broker_system_s, broker.broker_cpu_s)}, "
                 f"database {_share(broker.db_system_s, broker.db_cpu_s)}",
                 f"load generator CPU {_cell(_round(broker.per_op_us(broker.client_cpu_s)), 0)} µs/op"]
        if raw is not None:
            parts.append(f"raw driver CPU (in the generator) {_cell(_round(raw.per_op_us(raw.client_cpu_s)), 0)} µs/op")
            if raw.errors:
                parts.append(f"raw errors {raw.errors}: {raw.notes}")
        if broker.notes:
            parts.append(f"first errors: {broker.notes}")
        lines.append(f"- {result.name}: " + "; ".join(parts))
    return "\n".join(lines)


# --- running ------------------------------------------------------------------------------------


class PySpy:
    """`py-spy record` during each measured broker phase, on the broker and (when it is the embedded
    SecantusDB, itself Python) on the database: collapsed stacks per scenario and process."""

    def __init__(self, executable: str, out_dir: Path, pids: dict[str, int | None]) -> None:
        self.executable, self.out_dir = executable, out_dir
        self.pids = {label: pid for label, pid in pids.items() if pid is not None}
        self.files: dict[str, Path] = {}

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        processes = {}
        for label, pid in self.pids.items():
            path = self.out_dir / f"{name}-{label}.txt"
            processes[f"{name} ({label})", path] = subprocess.Popen(
                [self.executable, "record", "--pid", str(pid), "--rate", "250", "--gil", "--format", "raw",
                 "--output", str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)  # attached before the load starts
        try:
            yield
        finally:
            for (title, path), process in processes.items():
                process.send_signal(signal.SIGINT)
                process.wait(30)
                self.files[title] = path


async def run(args: argparse.Namespace) -> int:
    plan = QUICK if args.quick else FULL
    names = args.only.split(",") if args.only else list(SCENARIOS)
    unknown = set(names) - set(SCENARIOS)
    if unknown:
        print(f"unknown scenario(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="kyodo-bench-"))
    prefix = f"bench{secrets.token_hex(4)}"
    database = Database(work)
    broker: Broker | None = None
    raw_client: AsyncMongoClient | None = None
    results: list[Result] = []
    scaling: list[tuple[int, Result]] = []
    scaling_counts = ([int(count) for count in args.scaling.split(",") if count] if args.scaling is not None
                      else [] if args.only else [1, 2])
    load_note = ""
    try:
        url = database.start()
        if args.url_options:
            url += ("&" if "?" in url else "?" if urlsplit(url).path else "/?") + args.url_options
        broker = Broker(work, url, prefix, args.workers)
        broker.start()
        await broker.wait_ready()
        print(f"broker pid {broker.pid} on {broker.base}, {database.kind} pid {database.pid}, "
              f"work dir {work}", file=sys.stderr)
        raw_client = AsyncMongoClient(url, tz_aware=True, appname="kyodo-bench-raw")
        profiler = PySpy(args.py_spy, work, {"broker": broker.pid, "db": database.pid}) if args.py_spy else None
        connector = aiohttp.TCPConnector(limit=args.concurrency)
        async with aiohttp.ClientSession(connector=connector) as http:
            # the broker's databases are <prefix> (default tenant) and <prefix>-<tenant> (README "Configuration")
            sensors = Pair(raw_client[prefix][ENTITIES], raw_client[f"{prefix}_raw"][ENTITIES])
            meters = Pair(raw_client[f"{prefix}-{WRITE_TENANT}"][ENTITIES], raw_client[f"{prefix}_raw_write"][ENTITIES])
            bench = Bench(http, broker.base, sensors, meters, lambda: Meters(broker.pid, database.pid), plan,
                          args.concurrency, profiler)
            seconds, per_s = await bench.load()
            load_note = (f"loading {plan.entities:,} Sensors and {bench.meter_pool:,} Meters, upserts of {BATCH_SIZE} "
                         f"new entities: {per_s:,.0f} entities/s (the Sensors in {seconds:.1f} s)")
            print(load_note, file=sys.stderr)
            for name in names:
                started = time.perf_counter()
                result = await getattr(bench, name)()
                results.append(result)
                print(f"{name}: {result.broker.ops:,} ops, {result.broker.throughput:,.0f}/s, "
                      f"errors {result.broker.errors} ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
            if scaling_counts:
                broker.stop()  # one broker at a time on the machine
                scaling = await run_scaling(work, url, prefix, database, plan, args.concurrency, scaling_counts,
                                            http, sensors, meters)
        if profiler is not None:
            for name, path in profiler.files.items():
                print(f"\n### py-spy: {name} ({path})\n\n{summarize(path)}")
    finally:
        if raw_client is not None:
            if database.embedded is None:  # an external server keeps nothing of ours
                for name in await raw_client.list_database_names():
                    if name.startswith(prefix):
                        await raw_client.drop_database(name)
            await raw_client.close()
        if broker is not None:
            broker.stop()
        database.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    table = markdown(results)
    notes = f"{details(results)}\n- {load_note}" if results else ""
    if scaling:
        notes += f"\n\nWorkers (`kyodo serve --workers N`, {args.concurrency} requests in flight):\n\n" \
                 f"{scaling_markdown(scaling_records(scaling))}"
    print(f"\n{table}\n\n{notes}")
    if args.only or args.py_spy:
        return 0
    stem = f"{datetime.now(UTC):%Y-%m-%d}-{commit()}" + ("-quick" if args.quick else "")
    document = {"commit": commit(), "machine": machine(database.kind, args.concurrency, args.workers, plan),
                "scenarios": [scenario_record(result) for result in results],
                "scaling": scaling_records(scaling)}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    (RESULTS / f"{stem}.md").write_text(f"# {stem}\n\n{table}\n\n{notes}\n")
    print(f"\nwritten: {RESULTS.relative_to(ROOT) / stem}.json (and .md)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer entities and operations (about 2 minutes)")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight (default 16)")
    parser.add_argument("--workers", type=int, default=1, help="broker processes (kyodo serve --workers)")
    parser.add_argument("--scaling", help="worker counts to compare on create and retrieve, e.g. 1,2 "
                                          "(default 1,2; none with --only; '' for none)")
    parser.add_argument("--only", help="comma-separated scenarios, e.g. create,retrieve (writes no results)")
    parser.add_argument("--py-spy", help="path of py-spy: profile the broker in each scenario (writes no results)")
    parser.add_argument("--url-options", help="appended to the database URL of the broker and the raw driver, "
                                              "e.g. retryWrites=false")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (broker log, profiles)")
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
