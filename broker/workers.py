"""`kyodo serve --workers N`: N broker processes on one port (SO_REUSEPORT), supervised by the parent.

The parent serves no requests: it starts the workers (`python -m broker.cli serve` with the same
settings, the database URL fixed), forwards SIGTERM/SIGINT to them, reports a worker that dies and
starts it again, and returns once every worker has finished its own graceful shutdown.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType

from broker.config import Settings
from broker.logs import log
from broker.store.embedded import die_with_parent

WORKER_ENV = "KYODO_WORKER"
"""Set in a worker's environment to its number (1..N): bind with SO_REUSEPORT, do not fork again."""
_STOP_GRACE_S = 90.0
"""A worker's shutdown: aiohttp's 60 s for requests in flight plus the background tasks' own grace."""
_CRASH_LOOP_S = 10.0
"""A worker that dies sooner than this after its start is not started again: the broker exits."""


def worker_number() -> int | None:
    """In a worker process, its number (1..N); None in a single-process broker or the parent."""
    value = os.environ.get(WORKER_ENV)
    return int(value) if value and value.isdigit() else None


def worker_environment(settings: Settings, mongo_url: str, workers: int) -> dict[str, str]:
    """The parent's environment with every setting a `kyodo serve` flag may have changed made explicit,
    the database fixed (the embedded one is the parent's), and rate limits divided among the workers."""
    env = dict(os.environ)
    env.update({
        "KYODO_HOST": settings.host,
        "KYODO_PORT": str(settings.port),
        "KYODO_MONGO_URL": mongo_url,
        "KYODO_DATA_DIR": str(settings.data_dir),
        "KYODO_DB_PREFIX": settings.db_prefix,
        "KYODO_LOG_LEVEL": settings.log_level,
        "KYODO_LOG_FORMAT": settings.log_format,
        "KYODO_INSECURE_BIND": "true" if settings.insecure_bind else "false",
        "KYODO_WORKERS": "1",
        # each process counts maxRequestsPerMinute on its own (tenants/quotas.py)
        "KYODO_RATE_LIMIT_REPLICAS": str(settings.rate_limit_replicas * workers),
    })
    return env


@dataclass
class _Worker:
    number: int
    process: subprocess.Popen[bytes]
    started: float = field(default_factory=time.monotonic)


class WorkerPool:
    """The parent's side: start, watch, signal and reap N worker processes."""

    def __init__(self, count: int, env: dict[str, str], *,
                 on_tick: Callable[[], None] = lambda: None) -> None:
        self.count = count
        self.env = env
        self.on_tick = on_tick
        """Called about twice a second while serving (the embedded database's watchdog)."""
        self._workers: dict[int, _Worker] = {}
        self._stop_signal: int | None = None
        self._failed = False

    def _spawn(self, number: int) -> _Worker:
        process = subprocess.Popen(
            [sys.executable, "-m", "broker.cli", "serve"], env={**self.env, WORKER_ENV: str(number)},
            stdin=subprocess.DEVNULL,
            # own session: a Ctrl-C reaches the parent only, which stops the workers once, in order
            start_new_session=True,
            preexec_fn=die_with_parent if sys.platform == "linux" else None,
        )
        log.info("worker started", worker=number, pid=process.pid)
        return _Worker(number, process)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self._stop_signal is None:
            self._stop_signal = signum
            self._forward(signum)

    def _forward(self, signum: int) -> None:
        for worker in self._workers.values():
            if worker.process.poll() is None:
                worker.process.send_signal(signum)

    def run(self) -> int:
        """Serve until SIGTERM/SIGINT (or a worker crash loop); 0 when every worker ended cleanly."""
        previous = {signum: signal.signal(signum, self._on_signal) for signum in (signal.SIGTERM, signal.SIGINT)}
        try:
            for number in range(1, self.count + 1):
                self._workers[number] = self._spawn(number)
            while self._stop_signal is None:
                time.sleep(0.5)
                self.on_tick()
                self._reap_and_restart()
            return self._wait_for_workers()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _reap_and_restart(self) -> None:
        for number, worker in list(self._workers.items()):
            code = worker.process.poll()
            if code is None or self._stop_signal is not None:
                continue
            lived = time.monotonic() - worker.started
            log.error("worker exited", worker=number, pid=worker.process.pid, exit_code=code,
                      after_s=round(lived, 1))
            if lived < _CRASH_LOOP_S:
                log.error("worker died at startup; stopping the broker", worker=number)
                self._failed = True
                self._stop_signal = signal.SIGTERM
                self._forward(signal.SIGTERM)
                return
            self._workers[number] = self._spawn(number)

    def _wait_for_workers(self) -> int:
        deadline = time.monotonic() + _STOP_GRACE_S
        clean = not self._failed
        for number, worker in self._workers.items():
            try:
                code = worker.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.error("worker did not stop in time; killed", worker=number, pid=worker.process.pid)
                worker.process.kill()
                code = worker.process.wait(5)
            # a worker still starting up dies of the forwarded signal itself: it had nothing to finish
            if code not in (0, -(self._stop_signal or signal.SIGTERM)):
                clean = False
                if not self._failed:
                    log.warning("worker exited with an error", worker=number, pid=worker.process.pid,
                                exit_code=code)
        log.info("workers stopped", workers=len(self._workers))
        return 0 if clean else 1
