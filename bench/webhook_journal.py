"""Webhook journal benchmark: events accepted per second, durably committed, and the drain rate.

Runs ``kili-rules serve`` (the installed package) as a subprocess on loopback with a SQLite
journal and the local Kili emulator, then:

1. intake: ``--events`` legacy events posted by ``--clients`` concurrent keep-alive
   connections (a raw asyncio HTTP/1.1 client, so the client costs little); every 202 means
   the event was committed (WAL, synchronous=FULL) before the answer. Reports events/s and
   the 2xx latency p50 / p99. The workers are kept out of the way (one worker, passing labels
   without reconciliation: no Kili call) so the figure is the intake's.
2. drain: ``--drain-events`` failing labels (2 issues and a send-back each) checked against
   the emulator with ``--workers`` workers: events/s and Kili calls/s from first post to an
   empty backlog.

A figure, not a test. Usage (from the repository root, the release build installed)::

    python bench/webhook_journal.py [--events 10000] [--clients 100] [--drain-events 300]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "examples" / "webhook" / "rules.toml"
SEED = ROOT / "tests" / "data" / "seed"
SECRET = "bench-secret"
PASSING: dict[str, Any] = {"JOB_0": {"annotations": []}}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def event(project: str, asset: str, label: str, content: dict[str, Any]) -> bytes:
    return json.dumps(
        {
            "eventType": "onSubmit",
            "logPayload": {"runId": f"run-{label}", "projectId": project},
            "payload": {"label": {"id": label, "jsonResponse": content}, "asset_id": asset},
        }
    ).encode()


async def _post(port: int, bodies: list[bytes], clients: int) -> tuple[list[int], list[float]]:
    statuses = [0] * len(bodies)
    latencies = [0.0] * len(bodies)
    cursor = 0

    async def client() -> None:
        nonlocal cursor
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while cursor < len(bodies):
                index = cursor
                cursor += 1
                body = bodies[index]
                started = time.perf_counter()
                writer.write(
                    b"POST / HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
                    b"Authorization: "
                    + SECRET.encode()
                    + b"\r\nContent-Length: "
                    + str(len(body)).encode()
                    + b"\r\n\r\n"
                    + body
                )
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                await reader.readexactly(length)
                statuses[index] = int(head.split(b" ", 2)[1])
                latencies[index] = time.perf_counter() - started
        finally:
            writer.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    return statuses, latencies


class Server:
    def __init__(self, store: Path, endpoint: str, key: str, log: Path, *extra: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        env = {**os.environ, "KILI_API_KEY": key, "BENCH_SECRET": SECRET}
        env["KILI_SDK_SKIP_CHECKS"] = "1"
        command = [sys.executable, "-m", "kili_rules.cli", "serve", "--rules", str(RULES)]
        command += ["--port", str(self.port), "--secret-env", "BENCH_SECRET"]
        command += ["--api-endpoint", endpoint, "--store", str(store), *extra]
        self.log = open(log, "wb")
        self.proc = subprocess.Popen(command, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(self.url + "healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"server did not start: see {log}")
            time.sleep(0.1)

    def status(self) -> dict[str, Any]:
        auth = {"Authorization": SECRET}
        data: dict[str, Any] = httpx.get(self.url + "status", headers=auth, timeout=30).json()
        return data

    def drained(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.status()["backlog"] and time.monotonic() < deadline:
            time.sleep(0.2)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(60)
        self.log.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--drain-events", type=int, default=300)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    from kili_rules.testing import KiliEmulator

    three_boxes = json.loads((SEED / "json_response_three_boxes.json").read_text())
    interface = json.loads((SEED / "json_interface.json").read_text())
    work = Path(tempfile.mkdtemp(prefix="kili-rules-bench-"))
    try:
        with KiliEmulator() as emu:
            print(f"load average before: {os.getloadavg()}")
            # 1. intake
            server = Server(
                work / "intake.db", emu.endpoint, emu.api_key, work / "intake.log",
                "--workers", "1", "--no-reconcile", "--max-connections", str(args.clients * 2),
            )  # fmt: skip
            bodies = [event("p", f"a{i}", f"l{i}", PASSING) for i in range(args.events)]
            asyncio.run(_post(server.port, bodies[:200], 20))  # warm-up (counted below: no)
            started = time.perf_counter()
            statuses, latencies = asyncio.run(_post(server.port, bodies[200:], args.clients))
            elapsed = time.perf_counter() - started
            server.stop()
            ok = sum(1 for s in statuses if s == 202)
            print(
                f"intake: {ok} of {len(statuses)} events accepted (202, committed) in "
                f"{elapsed:.2f} s = {ok / elapsed:.0f} events/s at {args.clients} clients; "
                f"2xx latency p50 {statistics.median(latencies) * 1000:.1f} ms, "
                f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms, "
                f"max {max(latencies) * 1000:.1f} ms"
            )
            # 2. drain against the emulator
            project = emu.add_project(json_interface=interface)
            drain_bodies = []
            for _ in range(args.drain_events):
                asset = emu.add_asset(project)
                label = emu.add_label(asset, three_boxes)
                drain_bodies.append(event(project, asset, label, three_boxes))
            server = Server(
                work / "drain.db", emu.endpoint, emu.api_key, work / "drain.log",
                "--workers", str(args.workers), "--kili-calls-per-minute", "1000000",
            )  # fmt: skip
            time.sleep(3)  # the Kili client is built in the background at start
            calls_before = len(emu.requests)
            started = time.perf_counter()
            asyncio.run(_post(server.port, drain_bodies, 20))
            server.drained(600)
            elapsed = time.perf_counter() - started
            calls = len(emu.requests) - calls_before
            done = server.status()["done"]
            server.stop()
            issues = len(emu.issues(project))
            print(
                f"drain: {done} failing events ({issues} issues, {len(emu.sent_back)} "
                f"send-backs) in {elapsed:.1f} s = {done / elapsed:.1f} events/s, "
                f"{calls / elapsed:.0f} Kili calls/s ({calls / max(done, 1):.1f} per event), "
                f"{args.workers} workers, emulator in-process"
            )
            print(f"load average after: {os.getloadavg()}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
