"""Runs one event through an unpacked hosted plugin, as Kili's runner does (a fresh process).

Started by the emulator (``plugins.py``), never imported by it: this file imports nothing of
kili_rules, so what the plugin needs comes from the plugin's own imports.

    python plugin_runner.py --check FOLDER
        import FOLDER/main.py; exit 0 when it defines PluginHandler (the "build")
    python plugin_runner.py FOLDER ENDPOINT API_KEY PROJECT_ID legacy|event  < event JSON
        PluginHandler(Kili(...), PROJECT_ID), then on_submit / on_review (a legacy
        ``{eventType, payload: {label, asset_id}}``) or on_event (a kili-events envelope)

The last stdout line is ``{"kili_rules_run": {...}}``: ok, error, seconds, peak_rss_mb. A
handler that raises fails the run (exit code 1), as a Kili run is then marked failed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import resource
import sys
import time
import traceback
from types import ModuleType
from typing import Any


def _load_main(folder: str) -> ModuleType:
    sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location("main", os.path.join(folder, "main.py"))
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {folder}/main.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["main"] = module
    spec.loader.exec_module(module)
    if not isinstance(getattr(module, "PluginHandler", None), type):
        raise ImportError("main.py defines no class PluginHandler")
    return module


def _peak_rss_mb() -> float:
    """This process's own peak RSS. ``ru_maxrss`` is not that on Linux: exec keeps the peak of
    the process it replaced, so a runner forked from a big test process reports the parent's
    size. ``VmHWM`` belongs to the current address space, reset by exec."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _report(started: float, error: str | None) -> None:
    peak = _peak_rss_mb()
    result = {
        "ok": error is None,
        "error": error,
        "seconds": time.perf_counter() - started,
        "peak_rss_mb": peak,
    }
    print(json.dumps({"kili_rules_run": result}), flush=True)


def _run(argv: list[str]) -> int:
    started = time.perf_counter()
    if len(argv) == 2 and argv[0] == "--check":
        _load_main(argv[1])
        return 0
    if len(argv) != 5 or argv[4] not in ("legacy", "event"):
        print(
            "usage: plugin_runner.py FOLDER ENDPOINT API_KEY PROJECT_ID legacy|event",
            file=sys.stderr,
        )
        return 2
    folder, endpoint, api_key, project_id, mode = argv
    event: Any = json.loads(sys.stdin.read())
    try:
        module = _load_main(folder)
        from kili.client import Kili  # type: ignore[import-untyped]

        kili = Kili(
            api_key=api_key,
            api_endpoint=endpoint,
            disable_tqdm=True,
            # a schema cache would be written under the user's home
            graphql_client_params={"enable_schema_caching": False},
        )
        handler = module.PluginHandler(kili, project_id)
        if mode == "event":
            handler.on_event(event)
        elif event.get("eventType") == "onSubmit":
            handler.on_submit(event["payload"]["label"], event["payload"]["asset_id"])
        elif event.get("eventType") == "onReview":
            handler.on_review(event["payload"]["label"], event["payload"]["asset_id"])
        else:
            raise ValueError(f"the runner does not run eventType {event.get('eventType')!r}")
    except Exception as err:
        traceback.print_exc()
        _report(started, f"{type(err).__name__}: {err}")
        return 1
    _report(started, None)
    return 0


if __name__ == "__main__":
    sys.exit(_run(sys.argv[1:]))
