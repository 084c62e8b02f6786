"""The `kyodo serve` process: embedded database lifecycle, persistence across restarts, readiness."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO

import aiohttp
import pytest

from broker.store.embedded import free_port

API = "/ngsi-ld/v1"
ENTITY = {"id": "urn:ngsi-ld:Sensor:restart-1", "type": "Sensor", "temperature": 21.5}


_LOGS: dict[int, IO[bytes]] = {}
"""Each started broker's output, by pid: a file, not a pipe, so a chatty broker never blocks on a
full pipe that nobody reads (64 KiB of access log is a few hundred requests)."""


def start_broker(data_dir: Path, port: int, extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    env = {name: value for name, value in os.environ.items() if name != "KYODO_MONGO_URL"}
    env.update({"KYODO_DATA_DIR": str(data_dir), "KYODO_PORT": str(port), "KYODO_LOG_FORMAT": "json",
                **(extra_env or {})})
    return spawn(["serve"], env)


def spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """`python -m broker.cli <args>` with its output going to a file (read it with output_of, end it with stop)."""
    log = tempfile.NamedTemporaryFile(prefix="kyodo-e2e-", suffix=".log")  # noqa: SIM115 (closed by stop)
    process = subprocess.Popen([sys.executable, "-m", "broker.cli", *args], env=env, stdout=log,
                               stderr=subprocess.STDOUT)
    _LOGS[process.pid] = log
    return process


def output_of(process: subprocess.Popen[bytes]) -> str:
    """What the broker printed so far (all of it once it has exited)."""
    return Path(_LOGS[process.pid].name).read_bytes().decode(errors="replace")


async def wait_ready(base: str, process: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            assert process.poll() is None, output_of(process)
            try:
                async with session.get(f"{base}/ready") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError("broker did not become ready")


def stop(process: subprocess.Popen[bytes]) -> str:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
    output = output_of(process)
    _LOGS.pop(process.pid).close()
    return output


def embedded_pids(data_dir: Path) -> list[int]:
    """Processes whose command line runs the embedded database on `data_dir` (read from /proc)."""
    wanted = str(data_dir / "db").encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"--storage-path" in argv and wanted in argv and (entry / "status").read_text().find("zombie") < 0:
                pids.append(int(entry.name))
    return pids


async def test_entities_survive_a_restart_of_the_broker_and_its_embedded_database(tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = start_broker(tmp_path, port)
    try:
        await wait_ready(base, process)
        async with aiohttp.ClientSession() as session, \
                session.post(f"{base}{API}/entities", json=ENTITY) as response:
            assert response.status == 201
    finally:
        output = stop(process)
    assert process.returncode == 0, output
    assert embedded_pids(tmp_path) == [], "the embedded database must stop with the broker"

    process = start_broker(tmp_path, port)
    try:
        await wait_ready(base, process)
        async with aiohttp.ClientSession() as session, session.get(f"{base}{API}/entities/{ENTITY['id']}",
                               params={"options": "keyValues"}) as response:
            assert response.status == 200
            assert await response.json() == ENTITY
    finally:
        stop(process)


async def test_ready_reports_not_ready_and_the_log_says_so_when_the_embedded_database_dies(tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = start_broker(tmp_path, port)
    try:
        await wait_ready(base, process)
        pids = embedded_pids(tmp_path)
        assert len(pids) == 1
        os.kill(pids[0], signal.SIGKILL)
        deadline = time.monotonic() + 10
        status = 200
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline and status == 200:
                async with session.get(f"{base}/ready") as response:
                    status = response.status
                    body = await response.json()
                await asyncio.sleep(0.2)
            assert status == 503
            assert body["status"] == "not ready"
            async with session.get(f"{base}/health") as response:
                assert response.status == 200
        await asyncio.sleep(1.5)
    finally:
        output = stop(process)
    assert "embedded database exited" in output


@pytest.mark.parametrize("argument", ["--port=notanumber", "--log-level=loud"])
def test_invalid_settings_exit_with_a_clear_message(argument):
    result = subprocess.run([sys.executable, "-m", "broker.cli", "serve", argument],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "invalid" in (result.stderr + result.stdout).lower()


async def test_json_logs_carry_request_id_tenant_route_status_and_latency(tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = start_broker(tmp_path, port)
    try:
        await wait_ready(base, process)
        async with aiohttp.ClientSession() as session, session.post(
                f"{base}{API}/entities", json=ENTITY, headers={"NGSILD-Tenant": "shiga", "X-Request-Id": "r-1"}) as r:
            assert r.status == 201
    finally:
        output = stop(process)
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    [entry] = [line for line in lines if line.get("request_id") == "r-1" and line.get("event") == "request"]
    assert entry["tenant"] == "shiga"
    assert entry["route"] == f"{API}/entities"
    assert entry["status"] == 201
    assert entry["ms"] >= 0
