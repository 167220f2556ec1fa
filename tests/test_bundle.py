"""`kili-rules bundle`: the SDK's own uploader checks accept the folder, and the unpacked
archive runs as Kili runs a plugin (fresh process, real kili client, emulator)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("kili")

from kili.services.plugins.upload import PluginUploader  # type: ignore[import-untyped]
from kili_rules.bundle import DEFAULT_REQUIREMENT, write_bundle
from kili_rules.cli import main
from kili_rules.testing import KiliEmulator

try:
    from kili.plugins import on_kili_event  # type: ignore[import-untyped]  # noqa: F401

    TYPED_EVENTS = True
except ImportError:  # kili 26.2.1, the oldest supported: no kili-events, no --events bundle
    TYPED_EVENTS = False

# the --events bundle needs a kili with kili-events (26.2.4); the default one holds on all
MODES = pytest.mark.parametrize(
    "events",
    [
        False,
        pytest.param(
            True,
            marks=pytest.mark.skipif(not TYPED_EVENTS, reason="kili-events needs kili >= 26.2.4"),
        ),
    ],
    ids=["handlers", "events"],
)

RULES = """\
[[rule]]
id = "one-object-a"
kind = "count"
job = "JOB_0"
category = "OBJECT_A"
max = 1
message = "Only one OBJECT_A box ({count} found)"
"""
ISSUE_TEXT = "Only one OBJECT_A box (2 found)"


def _box(x0: float, y0: float, x1: float, y1: float, mid: str) -> dict[str, Any]:
    vertices = [{"x": x0, "y": y0}, {"x": x0, "y": y1}, {"x": x1, "y": y1}, {"x": x1, "y": y0}]
    return {
        "boundingPoly": [{"normalizedVertices": vertices}],
        "categories": [{"name": "OBJECT_A"}],
        "mid": mid,
        "type": "rectangle",
        "children": {},
    }


TWO_BOXES = {
    "JOB_0": {"annotations": [_box(0.1, 0.1, 0.2, 0.2, "m1"), _box(0.5, 0.5, 0.6, 0.6, "m2")]}
}


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    path = tmp_path / "rules.toml"
    path.write_text(RULES)
    return path


def _uploader(folder: Path) -> Any:
    # No client and no HTTP: only the validation / zip-building steps run.
    return PluginUploader(
        kili=None,
        plugin_path=str(folder),
        plugin_name=None,
        verbose=False,
        http_client=None,
        event_matcher=None,
    )


def _archive(folder: Path, tmp: Path) -> tuple[Any, Path]:
    uploader = _uploader(folder)
    tmp.mkdir()
    return uploader, uploader._create_zip(tmp)


@MODES
def test_sdk_uploader_accepts_the_bundle(rules_file: Path, tmp_path: Path, events: bool) -> None:
    out = tmp_path / "plugin"
    write_bundle(rules_file, out, events=events)
    uploader, zip_path = _archive(out, tmp_path / "zip")
    with zipfile.ZipFile(zip_path) as archive:
        names = sorted(archive.namelist())
        requirements = archive.read("requirements.txt").decode()
    assert names == ["main.py", "requirements.txt", "rules_data.py"]
    assert requirements == DEFAULT_REQUIREMENT + "\n"
    if events:
        assert uploader.handler_types is None
        assert uploader.event_matcher == [
            "label.workflow.created.default",
            "label.workflow.created.review",
        ]
    else:
        assert uploader.handler_types == ["onSubmit", "onReview"]
        assert uploader.event_matcher is None


def test_sdk_uploader_refuses_the_old_documented_plugin(rules_file: Path, tmp_path: Path) -> None:
    old = tmp_path / "old"
    old.mkdir()
    (old / "rules.toml").write_text(RULES)
    (old / "main.py").write_text(
        "from kili_rules.plugin import RulesPlugin\n\n\n"
        "class PluginHandler(RulesPlugin):\n"
        '    rules = "rules.toml"\n'
    )
    if not TYPED_EVENTS:
        # kili 26.2.1's uploader accepts it but reads no handler from the class body, so
        # none is registered: the reason the bundle declares them in PluginHandler itself
        uploader, _ = _archive(old, tmp_path / "zip")
        assert uploader.handler_types is None and uploader.event_matcher is None
        return
    with pytest.raises(ValueError, match="PluginHandler has no handler"):
        _archive(old, tmp_path / "zip")


def test_cli_writes_the_bundle_and_refuses_a_non_empty_folder(
    rules_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "plugin"
    wheel = "kili-rules[plugin] @ https://wheels.example.invalid/kili_rules-0.1.0-cp310-abi3.whl"
    assert main(["bundle", str(rules_file), "-o", str(out), "--requirement", wheel]) == 0
    assert (out / "requirements.txt").read_text() == wheel + "\n"
    capsys.readouterr()
    assert main(["bundle", str(rules_file), "-o", str(out)]) == 2
    assert "folder is not empty (use --force" in capsys.readouterr().err
    assert (out / "requirements.txt").read_text() == wheel + "\n"  # untouched
    assert main(["bundle", str(rules_file), "-o", str(out), "--force", "--events"]) == 0
    assert "on_kili_event" in (out / "main.py").read_text()
    assert (out / "requirements.txt").read_text() == DEFAULT_REQUIREMENT + "\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[[rule]]\nid = "mine"\nkind = "python"\nmodule = "my_rules"\nfunction = "f"\n',
            'rule mine (rule #1) is kind = "python"',
        ),
        ("[[rule]\n", "rules.toml"),
        ('[[rule]]\nkind = "no-such-kind"\n', "rules.toml"),
    ],
    ids=["python-rule", "bad-toml", "bad-rule"],
)
def test_bad_rules_are_refused_with_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(text)
    out = tmp_path / "plugin"
    assert main(["bundle", str(rules), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert not out.exists()


def test_bad_requirement_is_refused(rules_file: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="one requirement line"):
        write_bundle(rules_file, tmp_path / "p", requirement="a\nb")
    assert not (tmp_path / "p").exists()


# Run in a fresh interpreter: import main.py from the unpacked archive, build PluginHandler with
# the real kili client, handle one label, report time since start and peak RSS.
RUNNER = textwrap.dedent(
    """
    import importlib.util, json, os, resource, sys, time
    t0 = time.perf_counter()
    folder, endpoint, api_key, project_id, mode, arg = sys.argv[1:7]
    os.chdir(folder)
    spec = importlib.util.spec_from_file_location("main", os.path.join(folder, "main.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    from kili.client import Kili
    kili = Kili(api_key=api_key, api_endpoint=endpoint, disable_tqdm=True,
                graphql_client_params={"enable_schema_caching": False})
    handler = module.PluginHandler(kili, project_id)
    if mode == "submit":
        label = json.loads(arg)
        decision = handler.on_submit(label["label"], label["asset_id"])
    else:
        handler.on_event(json.loads(arg))
        decision = handler.last_decision
    print(json.dumps({
        "seconds": time.perf_counter() - t0,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "decision": None if decision is None else decision.to_dict(),
    }))
    """
)


def _run_plugin(
    folder: Path, emu: KiliEmulator, project: str, mode: str, arg: dict[str, Any], home: Path
) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != "KILI_SDK_SKIP_CHECKS"}
    env["HOME"] = str(home)
    started = time.perf_counter()
    argv = [sys.executable, "-c", RUNNER, str(folder), emu.endpoint, emu.api_key, project]
    proc = subprocess.run(
        [*argv, mode, json.dumps(arg)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    wall = time.perf_counter() - started
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall_seconds"] = wall
    print(f"bundle {mode}: {json.dumps({k: v for k, v in result.items() if k != 'decision'})}")
    return result


@MODES
def test_unpacked_archive_runs_as_kili_runs_it(
    rules_file: Path, tmp_path: Path, events: bool
) -> None:
    out = tmp_path / "plugin"
    write_bundle(rules_file, out, events=events)
    _, zip_path = _archive(out, tmp_path / "zip")
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(unpacked)
    home = tmp_path / "home"
    home.mkdir()
    with KiliEmulator() as emu:
        project = emu.add_project()
        asset = emu.add_asset(project, external_id="ext-1")
        label_id = emu.add_label(asset, TWO_BOXES)
        if events:
            envelope = {
                "event": "label.workflow.created.default",
                "organizationId": "org-1",
                "projectId": project,
                "userId": "user-1",
                "payload": {"assetId": asset, "labelId": label_id, "externalId": "ext-1"},
            }
            result = _run_plugin(unpacked, emu, project, "event", envelope, home)
        else:
            label = {"label": {"id": label_id, "jsonResponse": TWO_BOXES}, "asset_id": asset}
            result = _run_plugin(unpacked, emu, project, "submit", label, home)
        issues = emu.issues(project, asset_id=asset)
        sent_back = list(emu.sent_back)
    decision = result["decision"]
    assert decision is not None, "no handler ran"
    assert decision["error"] is None and decision["invalid"] is None, decision
    assert decision["fetched"] is events  # the event carries no jsonResponse
    assert [(i["labelId"], i["text"]) for i in issues] == [(label_id, ISSUE_TEXT)], issues
    assert sent_back, "the error-severity issue sends the asset back"
    assert result["peak_rss_mb"] < 512 and result["wall_seconds"] < 60
