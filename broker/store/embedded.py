"""The embedded MongoDB-wire server: SecantusDB run as a child process (never imported: GPL-2.0)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

EXECUTABLE = "secantusd-py"


def die_with_parent() -> None:
    """In a child (preexec_fn): receive SIGTERM when the broker dies, even by SIGKILL (Linux prctl)."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class EmbeddedDatabaseError(RuntimeError):
    """The embedded server could not be found or started."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _find_executable() -> str:
    beside_python = Path(sys.executable).parent / EXECUTABLE
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which(EXECUTABLE)
    if found is None:
        raise EmbeddedDatabaseError(
            f"'{EXECUTABLE}' not found: install the embedded extra (pip install 'kyodo-broker[embedded]') "
            "or set KYODO_MONGO_URL to a MongoDB server")
    return found


class EmbeddedDatabase:
    """A SecantusDB server on a free loopback port with its data under `data_dir`."""

    def __init__(self, data_dir: Path | str, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.host = host
        self.port = port or free_port(host)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        # retryWrites=false: SecantusDB 0.7.0b3 scans (and once full, sorts) its whole retryable-write
        # record on every write; measured by `make bench`: update_attr 57 → 222/s, notify 8 → 64/s
        return f"mongodb://{self.host}:{self.port}/?directConnection=true&retryWrites=false"

    def start(self, timeout_s: float = 30.0) -> str:
        """Start the server and wait until it accepts connections; returns its URL."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log_file = open(self.data_dir / "secantusd.log", "ab")  # noqa: SIM115 - owned by the child
        self.process = subprocess.Popen(
            [_find_executable(), "--host", self.host, "--port", str(self.port),
             "--storage-path", str(self.data_dir / "db"), "--log-level", "WARNING"],
            stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C in the terminal reaches the broker, which stops us in order
            preexec_fn=die_with_parent if sys.platform == "linux" else None,
        )
        log_file.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EmbeddedDatabaseError(
                    f"embedded database exited with code {self.process.returncode}; "
                    f"see {self.data_dir / 'secantusd.log'}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return self.url
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise EmbeddedDatabaseError(f"embedded database did not listen on {self.host}:{self.port} "
                                    f"within {timeout_s:.0f} s")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def exit_code(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def stop(self, timeout_s: float = 15.0) -> None:
        """SIGTERM, wait, then SIGKILL: WiredTiger checkpoints on a clean shutdown."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)
