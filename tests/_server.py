"""Helpers for tests that run ``kili-rules serve`` as a real process against the emulator.

The server is ``python -m kili_rules.cli serve ...`` in a subprocess (stderr to a log file),
stopped with real signals. Events are legacy ``onSubmit`` envelopes carrying the label's
jsonResponse, posted over loopback HTTP by a bounded thread pool.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "examples" / "webhook" / "rules.toml"
SEED = ROOT / "tests" / "data" / "seed"
SECRET = "durability-secret"
AUTH = {"Authorization": SECRET}


def seed(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SEED / name).read_text())
    return data


THREE_BOXES = seed("json_response_three_boxes.json")  # 2 issues and a send-back
ONE_BOX = seed("json_response_one_box.json")  # passes
JSON_INTERFACE = seed("json_interface.json")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """One ``kili-rules serve`` process."""

    def __init__(
        self,
        store: str | Path,
        endpoint: str,
        api_key: str,
        log: Path,
        *extra: str,
        port: int | None = None,
        open_files: int | None = None,
        file_size: int | None = None,
        rules: Path = RULES,
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = log
        env = {
            **os.environ,
            "KILI_API_KEY": api_key,
            "WEBHOOK_SECRET": SECRET,
            "KILI_SDK_SKIP_CHECKS": "1",
            "PYTHONUNBUFFERED": "1",
        }
        args = [
            sys.executable,
            "-m",
            "kili_rules.cli",
            "serve",
            "--rules",
            str(rules),
            "--port",
            str(self.port),
            "--secret-env",
            "WEBHOOK_SECRET",
            "--api-endpoint",
            endpoint,
            "--store",
            str(store),
            "--kili-calls-per-minute",
            "1000000",
            *extra,
        ]
        self._log_handle = open(log, "ab")

        def limit_files() -> None:  # runs in the child before exec: `ulimit -n`
            if open_files is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))
            if file_size is not None:  # `ulimit -f`: a full disk, for the files it writes
                resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))

        self.proc = subprocess.Popen(
            args,
            env=env,
            stdout=self._log_handle,
            stderr=subprocess.STDOUT,
            preexec_fn=limit_files,
        )

    def wait_ready(self, timeout: float = 30.0) -> Server:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                if httpx.get(self.url + "healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server not ready within {timeout} s:\n{self.tail()}")

    def status(self) -> dict[str, Any]:
        data: dict[str, Any] = httpx.get(self.url + "status", headers=AUTH, timeout=10).json()
        return data

    def wait_drained(self, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        status: dict[str, Any] = {}
        while time.monotonic() < deadline:
            status = self.status()
            if status["backlog"] == 0:
                return status
            time.sleep(0.2)
        raise AssertionError(f"backlog not drained within {timeout} s: {status}\n{self.tail()}")

    def kill(self, sig: int = signal.SIGKILL, timeout: float = 60.0) -> int:
        self.proc.send_signal(sig)
        return self.wait(timeout)

    def wait(self, timeout: float = 60.0) -> int:
        try:
            code = self.proc.wait(timeout)
        finally:
            self._log_handle.close()
        return code

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._log_handle.close()

    def tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def legacy_event(project_id: str, asset_id: str, label_id: str, content: dict[str, Any]) -> bytes:
    body = {
        "eventType": "onSubmit",
        "logPayload": {"runId": f"run-{label_id}", "projectId": project_id},
        "payload": {"label": {"id": label_id, "jsonResponse": content}, "asset_id": asset_id},
    }
    return json.dumps(body).encode()


def post_all(url: str, bodies: Sequence[bytes], *, clients: int = 16) -> list[int]:
    """POST every body (bounded pool, keep-alive); returns the status codes in order."""
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    with httpx.Client(limits=limits, timeout=30) as client:

        def one(body: bytes) -> int:
            headers = {**AUTH, "Content-Type": "application/json"}
            return client.post(url, content=body, headers=headers).status_code

        with ThreadPoolExecutor(clients) as pool:
            return list(pool.map(one, bodies))


async def _blast(
    host: str, port: int, bodies: Sequence[bytes], clients: int
) -> tuple[list[int], list[float]]:
    import asyncio

    statuses = [0] * len(bodies)
    latencies = [0.0] * len(bodies)
    next_index = 0
    auth = AUTH["Authorization"].encode()

    async def client() -> None:
        nonlocal next_index
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while next_index < len(bodies):
                index = next_index
                next_index += 1
                body = bodies[index]
                started = time.perf_counter()
                writer.write(
                    b"POST / HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
                    b"Authorization: "
                    + auth
                    + b"\r\nContent-Length: "
                    + str(len(body)).encode()
                    + b"\r\n\r\n"
                    + body
                )
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                await reader.readexactly(length)
                statuses[index] = int(head.split(b" ", 2)[1])
                latencies[index] = time.perf_counter() - started
        finally:
            writer.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    return statuses, latencies


def blast(
    url: str, bodies: Sequence[bytes], *, clients: int = 100
) -> tuple[list[int], list[float]]:
    """POST every body over ``clients`` keep-alive connections (raw HTTP/1.1, asyncio: a
    cheap client, so the server is what gets measured). Statuses and latencies, in order."""
    import asyncio
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    return asyncio.run(_blast(parts.hostname, parts.port, bodies, clients))
