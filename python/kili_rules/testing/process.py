"""The emulator as its own process: ``kili-rules emulator [--port N] [--seed FILE]``.

It binds a fixed loopback port (so a webhook server or a notebook in another process has an
endpoint that does not change between runs), loads a seed file (``kili_rules.testing.seed``),
prints the endpoint and the API key, and serves until SIGTERM or SIGINT, which stop it cleanly
(the port is released, exit code 0).
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import TextIO

from .emulator import DEFAULT_API_KEY, KiliEmulator
from .seed import Seeded, load_seed

DEFAULT_PORT = 8090


def serve_emulator(
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    seed: str | None = None,
    api_key: str = DEFAULT_API_KEY,
    out: TextIO | None = None,
    ready: Callable[[KiliEmulator], None] | None = None,
) -> int:
    """Run an emulator until SIGTERM/SIGINT; returns the exit code (0).

    Raises ``OSError`` when the port cannot be bound and ``SeedError`` for a bad seed file,
    before anything is printed as ready. Must run in the main thread (it installs signal
    handlers).
    """
    stream = out if out is not None else sys.stdout
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    emulator = KiliEmulator(api_key=api_key, host=host, port=port)
    try:
        emulator.start()
        seeded = load_seed(emulator, seed) if seed is not None else Seeded()
        _announce(stream, emulator, seed, seeded)
        if ready is not None:
            ready(emulator)
        # wait() with a timeout, so the signal handler runs promptly on every platform
        while not stop.wait(0.2):
            pass
        print("kili-rules emulator: stopped", file=stream, flush=True)
    finally:
        emulator.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def _announce(stream: TextIO, emulator: KiliEmulator, seed: str | None, seeded: Seeded) -> None:
    lines = [
        f"kili-rules emulator: serving on {emulator.url}",
        f"  endpoint: {emulator.endpoint}",
        f"  api key:  {emulator.api_key}",
    ]
    if seed is not None:
        projects = ", ".join(seeded.projects)
        lines.append(
            f"  seeded from {seed}: {len(seeded.projects)} project(s) ({projects}), "
            f"{seeded.assets} asset(s), {seeded.labels} label(s)"
        )
    else:
        lines.append("  no seed file: the emulator starts empty")
    lines += [
        "use it from a shell:",
        f"  export KILI_API_ENDPOINT={emulator.endpoint}",
        f"  export KILI_API_KEY={emulator.api_key}",
        "stop it with Ctrl-C or SIGTERM",
    ]
    print("\n".join(lines), file=stream, flush=True)
