"""The processes under measurement: the database server, the broker, and their CPU accounting (/proc)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from broker.store.embedded import EmbeddedDatabase, free_port
from tests.procfs import tree

_TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def _cpu_ticks(pid: int) -> tuple[int, int]:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0, 0
    fields = stat[stat.rindex(")") + 2:].split()
    return int(fields[11]), int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))


@dataclass
class CpuMeter:
    """CPU seconds a process tree spent between `start` and `stop` (user + system, from the kernel)."""

    root: int | None
    _start: dict[int, tuple[int, int]] | None = None
    system_s: float | None = None
    """Of the last measurement, the seconds spent in the kernel."""

    def snapshot(self) -> dict[int, tuple[int, int]]:
        if self.root is None:
            return {}
        return {pid: _cpu_ticks(pid) for pid in tree(self.root)}

    def start(self) -> None:
        self._start = self.snapshot()

    def stop(self) -> float | None:
        """Seconds since `start`; None when the process is not ours to read (an external database)."""
        if self.root is None or self._start is None:
            return None
        user = system = 0
        for pid, (utime, stime) in self.snapshot().items():
            before = self._start.get(pid, (0, 0))
            user += max(0, utime - before[0])
            system += max(0, stime - before[1])
        self.system_s = system / _TICKS_PER_S
        return (user + system) / _TICKS_PER_S


def client_cpu_s() -> float:
    times = os.times()
    return times.user + times.system


class Database:
    """The database both the broker and the raw driver use: the embedded server started here (so its
    CPU can be read), or an external one from KYODO_MONGO_URL."""

    def __init__(self, work_dir: Path) -> None:
        self.external_url = os.environ.get("KYODO_MONGO_URL") or None
        self.embedded = None if self.external_url else EmbeddedDatabase(work_dir / "db")

    def start(self) -> str:
        if self.embedded is None:
            return self.external_url  # type: ignore[return-value]
        return self.embedded.start()

    @property
    def pid(self) -> int | None:
        return None if self.embedded is None or self.embedded.process is None else self.embedded.process.pid

    @property
    def kind(self) -> str:
        return "external (KYODO_MONGO_URL)" if self.embedded is None else "embedded SecantusDB"

    def stop(self) -> None:
        if self.embedded is not None:
            self.embedded.stop()


class Broker:
    """`python -m broker.cli serve` on a free port, its output in a log file."""

    def __init__(self, work_dir: Path, mongo_url: str, db_prefix: str, workers: int = 1) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = work_dir / "broker.log"
        self.work_dir = work_dir
        self.mongo_url = mongo_url
        self.db_prefix = db_prefix
        self.workers = workers
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "KYODO_PORT": str(self.port), "KYODO_HOST": "127.0.0.1",
               "KYODO_DATA_DIR": str(self.work_dir / "broker-data"), "KYODO_DB_PREFIX": self.db_prefix,
               "KYODO_MONGO_URL": self.mongo_url, "KYODO_LOG_FORMAT": "json", "KYODO_LOG_LEVEL": "warning",
               # the bench measures the open development setup: no tokens to mint or verify
               "KYODO_AUTH": "none"}
        argv = [sys.executable, "-m", "broker.cli", "serve"]
        if self.workers > 1:
            argv += ["--workers", str(self.workers)]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    async def wait_ready(self, timeout_s: float = 60.0) -> None:
        """Until every worker answers /ready: measuring while a second worker still starts up showed as
        second-long p99s (its share of new connections waited for its warm-up, not for the load)."""
        deadline = time.monotonic() + timeout_s
        ready: set[int] = set()
        # a new connection per request: SO_REUSEPORT spreads connections, not requests, over the workers
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
            while time.monotonic() < deadline:
                if self.process is None or self.process.poll() is not None:
                    raise RuntimeError(f"the broker exited before it was ready:\n{self.log_tail()}")
                try:
                    async with session.get(f"{self.base}/ready") as response:
                        if response.status == 200:
                            async with session.get(f"{self.base}/version") as version:
                                ready.add((await version.json())["pid"])
                            if len(ready) >= self.workers:
                                return
                            continue
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
        raise RuntimeError(f"the broker was not ready within {timeout_s:.0f} s ({len(ready)} of {self.workers} "
                           f"workers answered):\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
