"""One meaning at every depth: the same label gets the same verdict on every path.

Two labels, each built at 100, 127, 128, 129, 150, 250 and 10,000 levels of JSON containers
(counted from the jsonResponse object):

- ``chain``: a classification answer nested through ``children``, every level read by the
  rule; the core's reader judges 128 levels and refuses the 129th ("recursion limit exceeded");
- ``extra``: the same forbidden answer with a deeply nested key that no rule reads (skipped by
  the core at any depth): one issue at every depth.

Each goes through ``RuleSet.validate`` (dict, str and bytes), ``validate_many``,
``validate_export`` (a zip written here), ``RulesPlugin`` and ``handle_label`` against the Kili
emulator with the real client, and a real ``kili-rules serve`` process. The verdict (the Kili
issue texts, or the refusal's reason) is the same on all of them; nothing raises
RecursionError, nothing answers 5xx.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("kili")
pytest.importorskip("uvicorn")

from _server import AUTH, Server, post_all
from kili_rules import LabelError, RuleSet, deep_json
from kili_rules.journal import content_digest
from kili_rules.kili.finding_text import issue_text, unreadable_text
from kili_rules.testing import KiliEmulator

pytestmark = pytest.mark.e2e

DEPTHS = (100, 127, 128, 129, 150, 250, 10_000)
RULES_TOML = '[[rule]]\nid = "no-bad"\nkind = "answer"\njob = "CLS"\nforbidden = ["BAD"]\n'
RULES = RuleSet.from_toml(RULES_TOML)
BAD = "In CLS, BAD is not allowed: choose another answer."
# the innermost answer at 4 to 7 levels, every container read by the rule
INNER = {
    4: '{"CLS":{"categories":[{"name":"BAD"}]}}',
    5: '{"CLS":{"categories":[{"name":"BAD","children":{}}]}}',
    6: '{"CLS":{"categories":[{"name":"BAD","children":{"CLS":{}}}]}}',
    7: '{"CLS":{"categories":[{"name":"BAD","children":{"CLS":{"categories":[]}}}]}}',
}


def chain(depth: int) -> str:
    levels, rest = divmod(depth - 4, 4)
    text = INNER[4 + rest]
    for _ in range(levels):  # each level: the job, its categories, a category, its children
        text = '{"CLS":{"categories":[{"name":"OK","children":' + text + "}]}}"
    return text


def extra(depth: int) -> str:
    arrays = depth - 4  # under the category object, 4 levels down
    return '{"CLS":{"categories":[{"name":"BAD","extra":' + "[" * arrays + "]" * arrays + "}]}}"


SHAPES: dict[str, Callable[[int], str]] = {"chain": chain, "extra": extra}


def containers(text: str) -> int:
    deepest = level = 0
    for ch in text:  # no strings with brackets in these labels
        if ch in "[{":
            level += 1
            deepest = max(deepest, level)
        elif ch in "]}":
            level -= 1
    return deepest


# The core refuses a container past 128 levels from the root of the label it reads (a rule
# reads every level of the chain). A label {id, jsonResponse} puts the jsonResponse one level
# down; an asset record's labels (latestLabel, latestLabels[i]) are each read by a reader of
# their own, counting from the label, so both forms read 126 levels and refuse 127 and deeper.
LAST_READ = 126


def expected(shape: str, depth: int) -> tuple[str, ...]:
    if shape == "chain" and depth > LAST_READ:
        return ("refused",)
    return (BAD,)


# the paths that hand the core a label object, and those that hand it an asset record
LABEL_FORM = (
    "validate dict",
    "validate str",
    "validate bytes",
    "plugin decision",
    "plugin kili",
    "handle_label kili",
    "serve kili",
    "serve batched kili",
)
RECORD_FORM = ("validate_many", "validate_export")


def verdict_of(call: Callable[[Any], Any], arg: object) -> tuple[str, ...]:
    """Issue texts as Kili would get them, or the refusal's issue text."""
    try:
        issues = call(arg)
    except LabelError as exc:
        return (unreadable_text(str(exc)),)
    return tuple(sorted(issue_text(issue) for issue in issues))


def shape_of(verdict: tuple[str, ...]) -> tuple[str, ...]:
    if len(verdict) == 1 and "recursion limit exceeded" in verdict[0]:
        return ("refused",)
    return verdict


CASES = [(shape, depth) for shape in SHAPES for depth in DEPTHS]
# `kili-rules serve` one event at a time, and with its batched worker (the default)
SERVERS: dict[str, tuple[str, ...]] = {"serve": ("--batch-size", "1"), "serve batched": ()}


@pytest.fixture(scope="module")
def emu() -> Iterator[KiliEmulator]:
    with KiliEmulator() as emulator:
        yield emulator


@pytest.fixture(scope="module")
def verdicts(emu: KiliEmulator, tmp_path_factory: pytest.TempPathFactory) -> dict[Any, Any]:
    """Every path's verdict per (shape, depth): {path: verdict}."""
    from kili_rules.kili.effects import MemorySteps
    from kili_rules.kili.plugin import handle_label
    from kili_rules.plugin import RulesPlugin

    tmp = tmp_path_factory.mktemp("depth")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KILI_SDK_SKIP_CHECKS", "1")
        kili = emu.kili_client()
    out: dict[Any, dict[str, Any]] = {case: {} for case in CASES}
    labels: dict[Any, tuple[str, str, str]] = {}
    for shape, depth in CASES:
        text = SHAPES[shape](depth)
        assert containers(text) == depth
        doc = deep_json.loads(text)  # json.loads cannot build the 10,000-level one
        got = out[(shape, depth)]
        # the label as the plugin and the webhook hand it to the core: {id, jsonResponse}
        label_doc = {"id": "L", "jsonResponse": doc}
        label_text = '{"id":"L","jsonResponse":' + text + "}"
        got["validate dict"] = verdict_of(RULES.validate, label_doc)
        got["validate str"] = verdict_of(RULES.validate, label_text)
        got["validate bytes"] = verdict_of(RULES.validate, label_text.encode())
        record = {"id": "a", "externalId": "e", "latestLabel": {"id": "L", "jsonResponse": doc}}
        got["validate_many"] = verdict_of(RULES.validate_many, [record])
        export = tmp / f"{shape}-{depth}.zip"
        with zipfile.ZipFile(export, "w") as z:
            z.writestr("labels/0000.json", deep_json.dumps(record))
        got["validate_export"] = verdict_of(RULES.validate_export, export)
        assert content_digest({"jsonResponse": doc}) == content_digest({"jsonResponse": text})
        # the plugin and handle_label, on their own projects (issues are counted per label)
        for path in ("plugin", "handle_label", *SERVERS):
            project = emu.add_project(title=f"{path}-{shape}-{depth}")
            asset = emu.add_asset(project)
            label = emu.add_label(asset, {"CLS": {"categories": [{"name": "OK"}]}})
            labels[(shape, depth, path)] = (project, asset, label)
        project, asset, label = labels[(shape, depth, "plugin")]
        decision = RulesPlugin(kili, project, rules=RULES).on_submit(
            {"id": label, "jsonResponse": doc}, asset
        )
        got["plugin decision"] = (
            (unreadable_text(decision.invalid),)
            if decision.invalid
            else tuple(sorted(issue_text(i) for i in decision.issues))
        )
        got["plugin kili"] = kili_issues(emu, label)
        project, asset, label = labels[(shape, depth, "handle_label")]
        decision = handle_label(
            kili, RULES, project, asset, {"id": label, "jsonResponse": doc}, steps=MemorySteps()
        )
        got["handle_label kili"] = kili_issues(emu, label)
    rules = tmp / "rules.toml"
    rules.write_text(RULES_TOML)
    statuses = {}
    logs = []
    for path, extra_args in SERVERS.items():
        statuses[path], log = _serve(emu, tmp / path, rules, extra_args, labels, out, path)
        logs.append(log)
    return {"cases": out, "status": statuses, "log": "\n".join(logs)}


def _serve(
    emu: KiliEmulator,
    tmp: Path,
    rules: Path,
    extra_args: tuple[str, ...],
    labels: dict[Any, tuple[str, str, str]],
    out: dict[Any, dict[str, Any]],
    path: str,
) -> tuple[dict[str, Any], str]:
    """A real server: the same labels posted as Kili posts them (the envelope adds 3 levels)."""
    tmp.mkdir()
    server = Server(
        tmp / "events.db", emu.endpoint, emu.api_key, tmp / "server.log", *extra_args, rules=rules
    )
    try:
        server.wait_ready()
        bodies = []
        for shape, depth in CASES:
            project, asset, label = labels[(shape, depth, path)]
            bodies.append(
                (
                    '{"eventType":"onSubmit","logPayload":{"runId":"r","projectId":'
                    + json.dumps(project)
                    + '},"payload":{"label":{"id":'
                    + json.dumps(label)
                    + ',"jsonResponse":'
                    + SHAPES[shape](depth)
                    + '},"asset_id":'
                    + json.dumps(asset)
                    + "}}"
                ).encode()
            )
        codes = post_all(server.url, bodies, clients=4)
        for case, code in zip(CASES, codes, strict=True):
            out[case][f"{path} status"] = code
        server.wait_drained(120)
        for shape, depth in CASES:
            out[(shape, depth)][f"{path} kili"] = kili_issues(emu, labels[(shape, depth, path)][2])
        status: dict[str, Any] = httpx.get(server.url + "status", headers=AUTH, timeout=10).json()
        return status, server.tail(1_000_000)
    finally:
        server.stop()


def kili_issues(emu: KiliEmulator, label_id: str) -> tuple[str, ...]:
    return tuple(sorted(issue["text"] for issue in emu.issues(label_id=label_id)))


@pytest.mark.parametrize(("shape", "depth"), CASES)
def test_one_verdict_on_every_path(verdicts: dict[str, Any], shape: str, depth: int) -> None:
    got = dict(verdicts["cases"][(shape, depth)])
    for server in SERVERS:  # accepted: the core, not the envelope, judges
        assert got.pop(f"{server} status") == 202
    assert set(got) == {*LABEL_FORM, *RECORD_FORM}
    outcomes = {path: shape_of(verdict) for path, verdict in got.items()}
    assert set(outcomes.values()) == {expected(shape, depth)}, outcomes
    # the same texts, word for word, on every path that reads the label as a label: the
    # plugin, the webhook (through its journal) and RuleSet.validate; and in a batch
    for form in (LABEL_FORM, RECORD_FORM):
        texts = {got[path] for path in form}
        assert len(texts) == 1, {path: got[path] for path in form}
    if shape == "extra":
        assert got["serve kili"] == got["validate_many"] == (BAD,)


@pytest.mark.parametrize("depth", (126, 129, 10_000))
def test_the_refusal_reads_the_same_in_a_batch(verdicts: dict[str, Any], depth: int) -> None:
    if depth == 126:  # not in DEPTHS: the last depth read, alone and in a record
        text = chain(126)
        doc = deep_json.loads(text)
        alone = verdict_of(RULES.validate, {"id": "L", "jsonResponse": doc})
        record = {"id": "a", "latestLabel": {"id": "L", "jsonResponse": doc}}
        assert alone == verdict_of(RULES.validate_many, [record])
        return
    got = verdicts["cases"][("chain", depth)]
    assert got["serve kili"] == got["validate_many"]


def test_the_refusal_is_the_cores_reason(verdicts: dict[str, Any]) -> None:
    refused = verdicts["cases"][("chain", 129)]["serve kili"]
    assert refused[0].startswith("This label could not be checked: jsonResponse.CLS")
    assert refused[0].endswith(": recursion limit exceeded. Please tell your project manager.")
    # 10,000 levels are refused at the same place as 129: the core's limit, not a size
    assert verdicts["cases"][("chain", 10_000)]["serve kili"] == refused


def test_the_server_stays_healthy(verdicts: dict[str, Any]) -> None:
    for status in verdicts["status"].values():
        assert status["dead_letters"] == 0, status
        assert status["done"] == len(CASES)
    assert "RecursionError" not in verdicts["log"]
    assert "Traceback" not in verdicts["log"]


def test_deep_json_matches_the_json_module() -> None:
    """The iterative codec agrees with json where json can go (values, errors), and goes on."""
    for text in (
        '{"a": [1, 2.5, -3e5, "x\\u00e9\\ud800", null, true, false, {}, []], "b": NaN}',
        ' [ 1 , { "k" : [ ] } , -Infinity, 1e400, -0 ] ',
        '{"a": 1, "a": 2}',
    ):
        want = json.loads(text)
        assert repr(deep_json._loads_iteratively(text, None)) == repr(want)
        assert repr(deep_json._loads_iteratively(text.encode(), None)) == repr(want)
    for bad in ("[1,]", '{"a" 1}', "[1 2]", '{"a":1,}', "", "tru", "[", "01", "[1]x"):
        with pytest.raises(json.JSONDecodeError) as want_error:
            json.loads(bad)
        with pytest.raises(json.JSONDecodeError) as got_error:
            deep_json._loads_iteratively(bad, None)
        assert str(got_error.value) == str(want_error.value)
    deep = "[" * 50_000 + "]" * 50_000
    with pytest.raises(RecursionError):
        json.loads(deep)  # the reason for the module
    value = deep_json.loads(deep)
    assert deep_json.nesting_depth(value) == 50_000
    assert deep_json.dumps(value, separators=(",", ":")) == deep
    with pytest.raises(deep_json.TooDeep):
        deep_json.loads(deep, max_depth=10_000)


def test_a_body_past_the_servers_bound_is_a_422(tmp_path: Path) -> None:
    """Past the 100,000-level resource bound (far past the core's limit) the body is refused
    before anything is stored, with a reason; not a 5xx."""
    from kili_rules.webhook.envelope import MAX_DEPTH, PayloadError, parse_body

    body = ('{"eventType":"onSubmit","x":' + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "}").encode()
    with pytest.raises(PayloadError) as refused:
        parse_body(body, "f")
    assert (refused.value.status, refused.value.error) == (422, "too_deep")
    assert "100000 levels" in refused.value.detail


def test_reports_of_a_deep_export_are_written(tmp_path: Path) -> None:
    """The report re-reads an export's labels to draw them: a box whose boundingPoly nests
    5,000 lists deep (past json's own depth) is drawn or left out, never a RecursionError."""
    rules = RuleSet(
        [{"id": "one-a", "kind": "count", "job": "JOB_0", "category": "OBJECT_A", "max": 1}]
    )
    square = [{"x": x, "y": y} for x, y in ((0.1, 0.1), (0.1, 0.3), (0.3, 0.3), (0.3, 0.1))]
    poly = "[" * 5000 + json.dumps({"normalizedVertices": square}) + "]" * 5000
    box = '{"mid":"%s","type":"rectangle","categories":[{"name":"OBJECT_A"}],"boundingPoly":%s}'
    response = '{"JOB_0":{"annotations":[' + box % ("m1", poly) + "," + box % ("m2", poly) + "]}}"
    record = '{"id":"a","externalId":"e","latestLabel":{"id":"L","jsonResponse":' + response + "}}"
    export = tmp_path / "export.zip"
    with zipfile.ZipFile(export, "w") as z:
        z.writestr("labels/0000.json", record)
    report = rules.validate_export(export)
    assert [row.rule for row in report] == ["one-a"]
    page = report.to_html()
    assert "one-a" in page
    assert "one-a" in report.to_csv()


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (
            '{"id":"a","latestLabels":[{"id":"L","jsonResponse":{"CLS":{"categories":[{"name":NaN}]}}}]}',
            "latestLabels[0].jsonResponse.CLS.categories[0].name",
        ),
        (
            '{"id":"a","latestLabel":{"id":"L","jsonResponse":{"CLS":{"categories":[{"name":"x",}]}}}}',
            "latestLabel.jsonResponse.CLS.categories[0]",
        ),
    ],
)
def test_a_label_that_is_not_json_is_located_inside_a_record(text: str, where: str) -> None:
    """Each label of a record has a reader of its own; malformed JSON in one is still named
    at its place inside the label, not at the label."""
    with pytest.raises(LabelError) as err:
        RULES.validate(text)
    assert str(err.value).startswith(where), str(err.value)
