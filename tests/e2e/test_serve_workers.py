"""`kyodo serve --workers N`: several processes on one port, one embedded database, graceful stop."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import aiohttp

from broker.store.embedded import free_port
from tests.e2e.test_serve_process import API, ENTITY, embedded_pids, start_broker, stop, wait_ready
from tests.procfs import children


def _alive(pid: int) -> bool:
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:  # gone between the listing and the read
        return False


def _workers(process, tmp_path: Path) -> list[int]:
    """The broker's live worker processes (its children but the embedded database)."""
    return [pid for pid in children().get(process.pid, []) if pid not in embedded_pids(tmp_path) and _alive(pid)]


async def _serving_pids(base: str, timeout_s: float = 30) -> set[int]:
    """The pids that answered /version over fresh connections (the kernel spreads connections), until
    both did: /ready answered by one worker says nothing of the other, which may still be starting."""
    pids: set[int] = set()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session, \
                session.get(f"{base}/version") as response:
            assert response.status == 200
            pids.add((await response.json())["pid"])
        if len(pids) == 2:
            break
        await asyncio.sleep(0.05)
    return pids


async def test_two_workers_serve_one_port_share_the_embedded_database_and_stop_on_sigterm(tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = start_broker(tmp_path, port, {"KYODO_WORKERS": "2"})
    try:
        await wait_ready(base, process)
        workers = _workers(process, tmp_path)
        assert len(workers) == 2
        assert len(embedded_pids(tmp_path)) == 1, "the parent starts the embedded database once"
        assert await _serving_pids(base) == set(workers)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
            async with session.post(f"{base}{API}/entities", json=ENTITY) as response:
                assert response.status == 201
            for _ in range(6):  # whichever worker answers sees the same database
                async with session.get(f"{base}{API}/entities/{ENTITY['id']}",
                                       params={"options": "keyValues"}) as response:
                    assert response.status == 200
                    assert await response.json() == ENTITY
    finally:
        output = stop(process)
    assert process.returncode == 0, output
    for pid in workers:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
    assert embedded_pids(tmp_path) == [], "the embedded database stops with the broker"
    assert output.count('"event": "workers stopped"') == 1
    assert output.count('"event_loop": "uvloop"') == 2


async def test_a_worker_that_dies_is_reported_and_started_again(tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = start_broker(tmp_path, port, {"KYODO_WORKERS": "2"})
    try:
        await wait_ready(base, process)
        await asyncio.sleep(10.5)  # past the crash-loop guard: a worker that dies at startup stops the broker
        workers = _workers(process, tmp_path)
        os.kill(workers[0], signal.SIGKILL)
        deadline = time.monotonic() + 20
        replaced: list[int] = []
        while time.monotonic() < deadline and len(replaced) < 2:
            await asyncio.sleep(0.2)
            replaced = [pid for pid in _workers(process, tmp_path) if pid != workers[0]]
        assert len(replaced) == 2 and workers[1] in replaced
        await wait_ready(base, process)
    finally:
        output = stop(process)
    assert process.returncode == 0, output
    assert '"event": "worker exited"' in output
    assert f'"pid": {workers[0]}' in output
