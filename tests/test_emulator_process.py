"""`kili-rules emulator` as its own process: the real kili client exports from it, `kili-rules
check` judges that export, and `kili-rules serve` in a third process receives its webhooks.

Everything runs on loopback, in real processes stopped with real signals.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._server import JSON_INTERFACE, ONE_BOX, RULES, THREE_BOXES, Server, free_port

pytest.importorskip("kili")

API_KEY = "kili-rules-emulator-key"
SMALL_BOX = {
    "JOB_0": {
        "annotations": [
            {
                "mid": "small-box",
                "type": "rectangle",
                "categories": [{"name": "OBJECT_A"}],
                "boundingPoly": [
                    {
                        "normalizedVertices": [
                            {"x": 0.1, "y": 0.1},
                            {"x": 0.1, "y": 0.3},
                            {"x": 0.3, "y": 0.3},
                            {"x": 0.3, "y": 0.1},
                        ]
                    }
                ],
            }
        ]
    }
}


class Emulator:
    """One `kili-rules emulator` process, its stdout read until it prints its endpoint."""

    def __init__(self, tmp_path: Path, *args: str, port: int | None = None) -> None:
        self.port = port or free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}/api/label/v2/graphql"
        # HOME in the temporary folder: the SDK's schema cache stays out of the user's
        env = {**os.environ, "HOME": str(tmp_path), "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kili_rules.cli", "emulator", "--port", str(self.port), *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.banner: list[str] = []

    def wait_ready(self, timeout: float = 30.0) -> Emulator:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"emulator exited: {self.proc.wait(5)} {self.stderr()}")
            self.banner.append(line.rstrip("\n"))
            if line.startswith("stop it with"):
                return self
        raise RuntimeError(f"emulator not ready: {self.banner}")

    def stderr(self) -> str:
        assert self.proc.stderr is not None
        return self.proc.stderr.read()

    def terminate(self) -> tuple[int, str]:
        self.proc.send_signal(signal.SIGTERM)
        out, _err = self.proc.communicate(timeout=20)
        return self.proc.returncode, out

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate(timeout=10)


@pytest.fixture
def seed_file(tmp_path: Path) -> Path:
    (tmp_path / "interface.json").write_text(json.dumps(JSON_INTERFACE))
    (tmp_path / "three_boxes.json").write_text(json.dumps(THREE_BOXES))
    seed = {
        "projects": [
            {
                "id": "project-cars",
                "title": "Cars",
                "json_interface_file": "interface.json",
                "assets": [
                    {
                        "id": "asset-big",
                        "external_id": "car_big",
                        "resolution": [1920, 1080],
                        "labels": [{"json_response_file": "three_boxes.json", "author_id": "bob"}],
                    },
                    {
                        "id": "asset-small",
                        "external_id": "car_small",
                        "resolution": [640, 480],  # COCO, YOLO and VOC need one
                        "labels": [{"json_response": SMALL_BOX, "author_id": "alice"}],
                    },
                    {"id": "asset-todo", "external_id": "car_todo"},
                ],
            }
        ]
    }
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(seed))
    return path


@pytest.fixture
def emulator(tmp_path: Path, seed_file: Path) -> Iterator[Emulator]:
    emu = Emulator(tmp_path, "--seed", str(seed_file)).wait_ready()
    yield emu
    emu.stop()


def kili_client(endpoint: str) -> Any:
    from kili.client import Kili

    return Kili(
        api_key=API_KEY,
        api_endpoint=endpoint,
        graphql_client_params={"enable_schema_caching": False},
    )


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kili_rules.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_banner_names_the_endpoint_key_and_seed(emulator: Emulator) -> None:
    text = "\n".join(emulator.banner)
    assert f"endpoint: {emulator.endpoint}" in text
    assert f"api key:  {API_KEY}" in text
    assert "1 project(s) (project-cars), 3 asset(s), 2 label(s)" in text
    assert f"export KILI_API_ENDPOINT={emulator.endpoint}" in text


def test_export_labels_then_check(emulator: Emulator, tmp_path: Path) -> None:
    kili = kili_client(emulator.endpoint)
    out = tmp_path / "export.zip"
    kili.export_labels(project_id="project-cars", filename=str(out), fmt="kili", with_assets=False)
    with zipfile.ZipFile(out) as archive:
        names = sorted(n for n in archive.namelist() if n.endswith(".json"))
        assert names == ["labels/car_big.json", "labels/car_small.json"]  # the unlabeled: none
        big = json.loads(archive.read("labels/car_big.json"))
    assert big["latestLabel"]["author"]["id"] == "bob"
    assert big["resolution"] == {"width": 1920, "height": 1080}
    exported = big["latestLabel"]["jsonResponse"]["JOB_0"]["annotations"]
    seeded = THREE_BOXES["JOB_0"]["annotations"]
    # the SDK adds pixel "vertices" from the resolution; the normalized ones are the seed's
    assert [(a["mid"], a["boundingPoly"][0]["normalizedVertices"]) for a in exported] == [
        (a["mid"], a["boundingPoly"][0]["normalizedVertices"]) for a in seeded
    ]
    assert exported[0]["boundingPoly"][0]["vertices"][0]["x"] > 1  # pixels, from 1920 x 1080

    result = run_cli("check", str(out), "--rules", str(RULES), "--format", "json")
    assert result.returncode == 1, result.stderr  # violations
    report = json.loads(result.stdout)
    issues = [(row["external_id"], row["rule"]) for row in report["rows"]]
    assert sorted(issues) == [("car_big", "bbox-too-large"), ("car_big", "too-many-object-a")]

    # a clean label exports and passes: exit 0 on the small box alone
    kili.export_labels(
        project_id="project-cars",
        filename=str(tmp_path / "small.zip"),
        fmt="kili",
        with_assets=False,
        asset_ids=["asset-small"],
    )
    assert run_cli("check", str(tmp_path / "small.zip"), "--rules", str(RULES)).returncode == 0


@pytest.mark.parametrize(
    ("fmt", "extra", "expected"),
    [
        ("coco", {}, "labels.json"),
        ("yolo_v8", {}, ".txt"),
        ("pascal_voc", {"layout": "merged"}, ".xml"),
        ("raw", {}, ".json"),
    ],
)
def test_other_sdk_formats(
    emulator: Emulator, tmp_path: Path, fmt: str, extra: dict[str, str], expected: str
) -> None:
    out = tmp_path / f"{fmt}.zip"
    kili_client(emulator.endpoint).export_labels(
        project_id="project-cars", filename=str(out), fmt=fmt, with_assets=False, **extra
    )
    with zipfile.ZipFile(out) as archive:
        assert any(name.endswith(expected) for name in archive.namelist()), archive.namelist()


def test_sigterm_stops_cleanly_and_frees_the_port(emulator: Emulator) -> None:
    code, out = emulator.terminate()
    assert code == 0
    assert "kili-rules emulator: stopped" in out
    with socket.socket() as sock:  # the port is free again
        sock.bind(("127.0.0.1", emulator.port))


def test_serve_receives_the_emulators_webhooks(emulator: Emulator, tmp_path: Path) -> None:
    server = Server(tmp_path / "events.db", emulator.endpoint, API_KEY, tmp_path / "serve.log")
    try:
        server.wait_ready()
        registered = run_cli(
            "register",
            "--project",
            "project-cars",
            "--url",
            server.url,
            "--name",
            "rules",
            "--api-endpoint",
            emulator.endpoint,
            "--header-env",
            "WEBHOOK_SECRET",
            env={
                "KILI_API_KEY": API_KEY,
                "WEBHOOK_SECRET": "durability-secret",
                "HOME": str(tmp_path),
            },
        )
        assert registered.returncode == 0, registered.stderr
        kili = kili_client(emulator.endpoint)
        # a submit on the unlabeled asset: the emulator POSTs onSubmit to the server
        kili.append_labels(json_response_array=[THREE_BOXES], asset_id_array=["asset-todo"])
        kili.append_labels(json_response_array=[ONE_BOX], asset_id_array=["asset-small"])
        deadline = time.monotonic() + 60
        issues: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            issues = kili.issues(project_id="project-cars", fields=["assetId", "comments.text"])
            if len(issues) >= 3:
                break
            time.sleep(0.3)
        by_asset = sorted((i["assetId"], i["comments"][0]["text"]) for i in issues)
        assert by_asset == [
            ("asset-small", "BBox too large"),
            ("asset-todo", "BBox too large"),
            (
                "asset-todo",
                "There are too many BBox (3) - Only 1 BBox of Object A accepted",
            ),
        ], server.tail()
        statuses = {
            a["id"]: a["status"]
            for a in kili.assets(project_id="project-cars", fields=["id", "status"])
        }
        assert statuses["asset-todo"] == "ONGOING"  # sent back by the server
    finally:
        server.stop()


def test_bad_seed_is_one_line_naming_the_place(tmp_path: Path) -> None:
    seed = tmp_path / "bad.json"
    seed.write_text(
        json.dumps({"projects": [{"assets": [{"external_id": "a", "resolution": [10]}]}]})
    )
    result = run_cli("emulator", "--port", str(free_port()), "--seed", str(seed))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "projects[0].assets[0].resolution: expected [width, height]" in result.stderr

    seed.write_text(json.dumps({"projects": [{"json_interfce": {}}]}))
    result = run_cli("emulator", "--port", str(free_port()), "--seed", str(seed))
    assert result.returncode == 2
    assert "projects[0]: unknown key(s) ['json_interfce']" in result.stderr

    result = run_cli("emulator", "--seed", str(tmp_path / "missing.json"))
    assert result.returncode == 2
    assert "seed file not found" in result.stderr


def test_toml_seed(tmp_path: Path) -> None:
    (tmp_path / "interface.json").write_text(json.dumps(JSON_INTERFACE))
    (tmp_path / "seed.toml").write_text(
        '[[projects]]\nid = "p-toml"\njson_interface_file = "interface.json"\n'
        '[[projects.assets]]\nexternal_id = "x"\n'
    )
    emu = Emulator(tmp_path, "--seed", str(tmp_path / "seed.toml")).wait_ready()
    try:
        assert any("1 project(s) (p-toml), 1 asset(s), 0 label(s)" in line for line in emu.banner)
        assets = kili_client(emu.endpoint).assets(project_id="p-toml", fields=["externalId"])
        assert [a["externalId"] for a in assets] == ["x"]
    finally:
        emu.stop()


def test_port_in_use_is_exit_2(emulator: Emulator, tmp_path: Path) -> None:
    result = run_cli("emulator", "--port", str(emulator.port))
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{emulator.port}" in result.stderr


def test_yaml_seed_and_unreadable_seeds(tmp_path: Path) -> None:
    pytest.importorskip("yaml")
    seed = tmp_path / "seed.yaml"
    seed.write_text("projects:\n  - id: p-yaml\n    assets:\n      - external_id: y\n")
    emu = Emulator(tmp_path, "--seed", str(seed)).wait_ready()
    try:
        assert any("(p-yaml), 1 asset(s)" in line for line in emu.banner)
    finally:
        emu.stop()
    for name, text, message in [
        ("bad.yaml", "projects: [", "not valid YAML"),
        ("bad.json", "{", "not valid JSON"),
        ("bad.toml", "[[projects]", "not valid TOML"),
        ("list.json", "[]", "expected an object with a 'projects' list"),
    ]:
        (tmp_path / name).write_text(text)
        result = run_cli("emulator", "--port", str(free_port()), "--seed", str(tmp_path / name))
        assert result.returncode == 2, name
        assert message in result.stderr and str(tmp_path / name) in result.stderr, result.stderr


EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_the_documented_local_session(tmp_path: Path) -> None:
    """docs/local-kili.md, step by step, with its files: emulator, serve, register, submit,
    export, check, audit."""
    local = EXAMPLES / "local-kili"
    rules = EXAMPLES / "webhook" / "rules.toml"
    emu = Emulator(tmp_path, "--seed", str(local / "seed.json")).wait_ready()
    server = Server(tmp_path / "local-events.db", emu.endpoint, API_KEY, tmp_path / "serve.log")
    env = {
        "KILI_API_ENDPOINT": emu.endpoint,
        "KILI_API_KEY": API_KEY,
        "WEBHOOK_SECRET": "durability-secret",
        "HOME": str(tmp_path),
    }
    try:
        assert any("1 project(s) (project-local), 3 asset(s), 2 label(s)" in x for x in emu.banner)
        server.wait_ready()
        registered = run_cli(
            *("register", "--project", "project-local", "--url", server.url, "--name", "rules"),
            *("--header-env", "WEBHOOK_SECRET", "--api-endpoint", emu.endpoint),
            env=env,
        )
        assert registered.returncode == 0, registered.stderr
        submitted = subprocess.run(
            [sys.executable, str(local / "submit.py"), "asset-3"],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, **env},
        )
        assert submitted.returncode == 0, submitted.stderr
        kili = kili_client(emu.endpoint)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            issues = kili.issues(project_id="project-local", fields=["assetId", "comments.text"])
            if issues:
                break
            time.sleep(0.3)
        assert [(i["assetId"], i["comments"][0]["text"]) for i in issues] == [
            ("asset-3", "There are too many BBox (3) - Only 1 BBox of Object A accepted")
        ], server.tail()
        kili.export_labels(
            project_id="project-local",
            filename=str(tmp_path / "export.zip"),
            fmt="kili",
            with_assets=False,
        )
        checked = run_cli(
            "check", str(tmp_path / "export.zip"), "--rules", str(rules), "--format", "json"
        )
        assert checked.returncode == 1, checked.stderr
        rows = json.loads(checked.stdout)["rows"]
        assert sorted((r["external_id"], r["rule"]) for r in rows) == [
            ("car_2", "bbox-too-large"),  # the extent 0.75 x 0.44 is 0.33000000000000007
            ("car_2", "too-many-object-a"),
            ("car_3", "too-many-object-a"),
        ]
        audited = run_cli(
            *("audit", "--project", "project-local", "--rules", str(rules)),
            *("--api-endpoint", emu.endpoint, "--no-progress"),
            env=env,
        )
        assert audited.returncode == 1, audited.stdout + audited.stderr
        assert "3 issues" in audited.stdout, audited.stdout
    finally:
        server.stop()
        emu.stop()


def test_the_documented_seed_example_loads(tmp_path: Path) -> None:
    doc = (Path(__file__).resolve().parent.parent / "docs" / "local-kili.md").read_text()
    block = doc.split("## The seed file", 1)[1].split("```json\n", 1)[1].split("```", 1)[0]
    (tmp_path / "seed.json").write_text(block)
    (tmp_path / "interface.json").write_text(json.dumps(JSON_INTERFACE))
    emu = Emulator(tmp_path, "--seed", str(tmp_path / "seed.json")).wait_ready()
    try:
        assert any("(project-local), 1 asset(s), 1 label(s)" in line for line in emu.banner)
        asset = kili_client(emu.endpoint).assets(
            project_id="project-local", fields=["externalId", "jsonMetadata", "currentStep.name"]
        )[0]
        assert asset["externalId"] == "car_1"
        assert asset["jsonMetadata"] == {"source": "scanner"}
        assert asset["currentStep"]["name"] == "Labeling"
    finally:
        emu.stop()
