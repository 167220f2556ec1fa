"""A throwaway PostgreSQL server for tests: initdb + pg_ctl in a temp dir, on a free loopback
port, run as the ``postgres`` user when the tests run as root (initdb refuses root)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


def postgres_bin() -> Path | None:
    """The directory holding initdb and pg_ctl, or None when PostgreSQL is not installed."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_user(command: list[str], user: str | None) -> list[str]:
    return command if user is None else ["runuser", "-u", user, "--", *command]


def postgres_server() -> Iterator[str]:
    """Start a server; yield its URL; stop it and delete its files."""
    bindir = postgres_bin()
    if bindir is None:
        pytest.skip("no PostgreSQL binary (initdb) on this machine: apt-get install postgresql")
    user = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no `postgres` user to run initdb as")
        user = "postgres"
    root = Path(tempfile.mkdtemp(prefix="kili-rules-pg-"))
    data = root / "data"
    if user is not None:
        shutil.chown(root, user)
    port = _free_port()
    log = root / "server.log"
    run = {"check": True, "capture_output": True, "timeout": 120}
    subprocess.run(
        _as_user(
            [str(bindir / "initdb"), "-D", str(data), "-U", "kili", "--auth=trust", "-E", "UTF8"],
            user,
        ),
        **run,  # type: ignore[call-overload]
    )
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=on"
    subprocess.run(
        _as_user(
            [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start"],
            user,
        ),
        **run,  # type: ignore[call-overload]
    )
    try:
        url = f"postgresql://kili@127.0.0.1:{port}/postgres"
        deadline = time.monotonic() + 30
        import psycopg

        while True:
            try:
                psycopg.connect(url, connect_timeout=2).close()
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield url
    finally:
        subprocess.run(
            _as_user([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], user),
            capture_output=True,
            timeout=60,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)


def fresh_database(url: str, name: str) -> str:
    """Create database ``name`` on the server; return its URL."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.rsplit("/", 1)[0] + "/" + name
