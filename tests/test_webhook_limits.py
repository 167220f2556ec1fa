"""Slow clients cannot stop the server: the real server process, raw loopback sockets.

Connections past the cap are refused at once (503), headers or bodies trickled past their
deadline are cut (408), other clients are answered quickly meanwhile, and the log stays small.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("uvicorn")

import httpx
from _server import AUTH, ONE_BOX, Server, legacy_event

pytestmark = pytest.mark.e2e

HEADER_TIMEOUT = 2.0


def slow_client(port: int, kind: str, stop: threading.Event, outcome: list[str]) -> None:
    """Trickle the headers (or, after complete headers, the body) one byte every 0.3 s."""
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    except OSError as exc:
        outcome.append(f"connect failed: {exc}")
        return
    with sock:
        sock.settimeout(0.3)
        if kind == "body":
            sock.sendall(
                b"POST / HTTP/1.1\r\nHost: x\r\nAuthorization: "
                + AUTH["Authorization"].encode()
                + b"\r\nContent-Length: 100000\r\n\r\n"
            )
        else:
            sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")
        while not stop.is_set():
            try:
                data = sock.recv(4096)
            except TimeoutError:
                data = None
            except OSError:
                outcome.append("reset")
                return
            if data is not None:  # an answer (408 or 503) or the close
                outcome.append(data.split(b"\r\n", 1)[0].decode(errors="replace") or "closed")
                return
            try:
                sock.sendall(b"X" if kind == "body" else b"X-Slow: 1\r\n")
            except OSError:
                outcome.append("reset")
                return
        outcome.append("still open")


@pytest.fixture
def slow_clients() -> Iterator[tuple[threading.Event, list[str], list[threading.Thread]]]:
    stop = threading.Event()
    outcome: list[str] = []
    threads: list[threading.Thread] = []
    yield stop, outcome, threads
    stop.set()
    for thread in threads:
        thread.join(5)


def serve(tmp_path: Path, *extra: str, open_files: int | None = None) -> Server:
    return Server(
        tmp_path / "events.db",
        "http://127.0.0.1:9/unused",  # dry run: Kili is never called
        "unused-key",
        tmp_path / "server.log",
        "--dry-run",
        "--header-timeout",
        str(HEADER_TIMEOUT),
        "--body-timeout",
        str(HEADER_TIMEOUT),
        *extra,
        open_files=open_files,
    ).wait_ready()


def probe(url: str, n: int) -> list[tuple[int | str, float]]:
    """``n`` ordinary requests, each with its own connection; (status or error, seconds)."""
    results: list[tuple[int | str, float]] = []
    for i in range(n):
        started = time.monotonic()
        try:
            body = legacy_event("p", f"a{i}", f"probe-{time.monotonic_ns()}", ONE_BOX)
            status: int | str = httpx.post(url, content=body, headers=AUTH, timeout=5).status_code
        except httpx.HTTPError as exc:
            status = type(exc).__name__
        results.append((status, time.monotonic() - started))
    return results


def test_slow_clients_up_to_the_cap_do_not_stop_the_server(
    tmp_path: Path, slow_clients: tuple[threading.Event, list[str], list[threading.Thread]]
) -> None:
    stop, outcome, threads = slow_clients
    server = serve(tmp_path, "--max-connections", "30")
    try:
        for i in range(50):  # 20 more than the cap, half trickling headers, half bodies
            kind = "body" if i % 2 else "headers"
            thread = threading.Thread(
                target=slow_client, args=(server.port, kind, stop, outcome), daemon=True
            )
            thread.start()
            threads.append(thread)
        time.sleep(0.5)
        during = probe(server.url, 10)
        # every ordinary request is answered quickly: stored (202) or refused (503), no hang
        assert all(status in (202, 503) for status, _ in during), during
        assert max(seconds for _, seconds in during) < 3.0, during
        deadline = time.monotonic() + HEADER_TIMEOUT + 5
        while len(outcome) < 50 and time.monotonic() < deadline:
            time.sleep(0.1)
        # the slow ones were refused at once or cut at their deadline, none kept open
        assert len(outcome) == 50, outcome
        refused = [o for o in outcome if "503" in o]
        cut = [o for o in outcome if "408" in o]
        assert len(refused) >= 20 and len(refused) + len(cut) == 50, outcome
        after = probe(server.url, 5)
        assert [status for status, _ in after] == [202] * 5
    finally:
        server.stop()
    log = server.log.read_text()
    assert len(log) < 20_000, f"the log grew to {len(log)} characters"
    assert "Traceback" not in log


def test_a_low_open_file_limit_lowers_the_cap_instead_of_failing(tmp_path: Path) -> None:
    """``ulimit -n 200``: the cap becomes 111 (200 minus a reserve and the listen backlog of
    25); 300 idle connections are refused past it rather than exhausting the file table."""
    server = serve(tmp_path, "--max-connections", "1000", open_files=200)
    sockets: list[socket.socket] = []
    try:
        for _ in range(300):
            sockets.append(socket.create_connection(("127.0.0.1", server.port), timeout=5))
        time.sleep(0.5)
        during = probe(server.url, 5)
        assert all(status in (202, 503) for status, _ in during), during
        assert max(seconds for _, seconds in during) < 3.0, during
        for sock in sockets:
            sock.close()
        sockets.clear()
        time.sleep(HEADER_TIMEOUT + 0.5)
        assert [status for status, _ in probe(server.url, 3)] == [202] * 3
        assert server.status()["status"] == "ok"
    finally:
        for sock in sockets:
            sock.close()
        server.stop()
    log = server.log.read_text()
    assert "at most 111 connections" in log
    assert "Too many open files" not in log, log[-2000:]
    assert len(log) < 20_000, f"the log grew to {len(log)} characters"
