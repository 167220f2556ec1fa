"""kili_rules.kili.effects and handle_label with the real kili client against the emulator:
reconciliation, resuming after a failure at each step, dry run, bounce cap, metadata merge,
workflow-v2 moves."""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kili_rules import RuleSet
from kili_rules.testing import KiliEmulator
from kili_rules.verdict import ActionPolicy, Verdict

pytest.importorskip("kili")

from kili_rules.kili.effects import KiliCallFailed, MemorySteps, act, is_retryable
from kili_rules.kili.plugin import RulesPlugin, handle_label

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "tests" / "data" / "seed"
RULES = RuleSet.from_file(ROOT / "examples" / "rules.toml")
THREE_BOXES: dict[str, Any] = json.loads((SEED / "json_response_three_boxes.json").read_text())
ONE_BOX: dict[str, Any] = json.loads((SEED / "json_response_one_box.json").read_text())
INTERFACE: dict[str, Any] = json.loads((SEED / "json_interface.json").read_text())
COUNT_TEXT = "There are too many BBox (3) - Only 1 BBox of Object A accepted"
BIG_MID = "20221124161451411-13314"
LEDGER = "kili_rules_issue_ids"
LOG = logging.getLogger("kili_rules.tests.effects")


def fixed() -> dict[str, Any]:
    """The one-box label with its box shrunk under the area limit: passes every rule."""
    label = copy.deepcopy(ONE_BOX)
    label["JOB_0"]["annotations"][0]["boundingPoly"][0]["normalizedVertices"] = [
        {"x": 0.1, "y": 0.2},
        {"x": 0.1, "y": 0.1},
        {"x": 0.2, "y": 0.1},
        {"x": 0.2, "y": 0.2},
    ]
    return label


@pytest.fixture
def emu() -> Iterator[KiliEmulator]:
    with KiliEmulator() as emulator:
        yield emulator


@pytest.fixture
def kili(emu: KiliEmulator) -> Any:
    return emu.kili_client(timeout=1.0)


@pytest.fixture
def asset(emu: KiliEmulator) -> tuple[str, str]:
    project = emu.add_project(json_interface=INTERFACE)
    return project, emu.add_asset(project, json_metadata={"owner": "team-a", "batch": 7})


def submit(emu: KiliEmulator, asset_id: str, json_response: dict[str, Any]) -> dict[str, Any]:
    return {"id": emu.add_label(asset_id, json_response), "jsonResponse": json_response}


def check(kili: Any, project: str, asset_id: str, label: Any, **kwargs: Any) -> Any:
    """handle_label's Decision; on a Kili failure, the one KiliCallFailed carries."""
    kwargs.setdefault("steps", MemorySteps())
    try:
        return handle_label(kili, RULES, project, asset_id, label, logger=LOG, **kwargs)
    except KiliCallFailed as exc:
        assert exc.decision is not None and exc.decision.failed_step == exc.step
        return exc.decision


def open_texts(emu: KiliEmulator, asset_id: str) -> list[tuple[str, str | None]]:
    return [(i["text"], i["objectMid"]) for i in emu.issues(asset_id=asset_id, status="OPEN")]


# ---- reconciliation ------------------------------------------------------------------------


def test_fixed_label_submitted_again_solves_earlier_issues(
    kili: Any, emu: KiliEmulator, asset: Any
) -> None:
    project, asset_id = asset
    first = check(kili, project, asset_id, submit(emu, asset_id, THREE_BOXES))
    assert first.error is None and first.sent_back
    assert open_texts(emu, asset_id) == [(COUNT_TEXT, None), ("BBox too large", BIG_MID)]
    assert emu.asset(asset_id)["metadata"][LEDGER] == ",".join(first.effects.created)

    second = check(kili, project, asset_id, submit(emu, asset_id, fixed()))
    assert second.error is None and second.outcome == "pass"
    assert sorted(second.effects.solved) == sorted(first.effects.created)
    assert [i["status"] for i in emu.issues(project)] == ["SOLVED", "SOLVED"]
    assert emu.sent_back == [asset_id]  # only the first submit bounced
    metadata = emu.asset(asset_id)["metadata"]
    assert metadata[LEDGER] == "" and metadata["owner"] == "team-a" and metadata["batch"] == 7


def test_still_firing_issue_is_kept_not_duplicated(
    kili: Any, emu: KiliEmulator, asset: Any
) -> None:
    project, asset_id = asset
    first = check(kili, project, asset_id, submit(emu, asset_id, THREE_BOXES))
    count_id, area_id = first.effects.created
    second = check(kili, project, asset_id, submit(emu, asset_id, ONE_BOX))
    assert second.error is None
    assert second.effects.kept == (area_id,) and second.effects.solved == (count_id,)
    assert second.effects.created == ()
    assert [(i["id"], i["status"]) for i in emu.issues(project)] == [
        (count_id, "SOLVED"),
        (area_id, "OPEN"),
    ]
    assert emu.asset(asset_id)["metadata"][LEDGER] == area_id


def test_open_issue_of_a_reviewer_is_never_solved(kili: Any, emu: KiliEmulator, asset: Any) -> None:
    project, asset_id = asset
    label = submit(emu, asset_id, THREE_BOXES)
    kili.create_issues(project_id=project, label_id_array=[label["id"]], text_array=["Blurry"])
    check(kili, project, asset_id, label)
    check(kili, project, asset_id, submit(emu, asset_id, fixed()))
    assert open_texts(emu, asset_id) == [("Blurry", None)]


def test_reconciliation_switched_off(kili: Any, emu: KiliEmulator, asset: Any) -> None:
    project, asset_id = asset
    check(kili, project, asset_id, submit(emu, asset_id, THREE_BOXES))
    again = check(kili, project, asset_id, submit(emu, asset_id, fixed()), reconcile=False)
    assert again.effects.changes == () and len(open_texts(emu, asset_id)) == 2


def test_plugin_reconciles_by_default(kili: Any, emu: KiliEmulator, asset: Any) -> None:
    project, asset_id = asset

    class Handler(RulesPlugin):
        rules = RULES

    Handler(kili, project, LOG).on_submit(submit(emu, asset_id, THREE_BOXES), asset_id)
    Handler(kili, project, LOG).on_submit(submit(emu, asset_id, THREE_BOXES), asset_id)
    assert len(emu.issues(project)) == 2  # the second submit created nothing
    Handler(kili, project, LOG).on_submit(submit(emu, asset_id, fixed()), asset_id)
    assert open_texts(emu, asset_id) == []


# ---- resuming after failures ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "kind", "step"),
    [
        ("countIssues", "error", "read"),
        ("createIssues", "error", "issues"),
        ("createIssues", "refuse", "issues"),
        ("createIssues", "timeout", "issues"),
        ("updatePropertiesInAssets", "error", "metadata"),
        ("sendAssetsBackToQueue", "error", "send_back"),
        ("sendAssetsBackToQueue", "refuse", "send_back"),
    ],
)
def test_resume_after_a_failure_at_each_step(
    kili: Any, emu: KiliEmulator, asset: Any, operation: str, kind: str, step: str
) -> None:
    project, asset_id = asset
    label = submit(emu, asset_id, THREE_BOXES)
    steps = MemorySteps()
    emu.inject_fault(operation, kind, calls=1, delay=2.0)
    failed = check(kili, project, asset_id, label, steps=steps)
    assert failed.error and failed.retryable and failed.failed_step == step
    done = check(kili, project, asset_id, label, steps=steps)
    assert done.error is None and done.sent_back
    assert open_texts(emu, asset_id) == [(COUNT_TEXT, None), ("BBox too large", BIG_MID)]
    assert len(emu.issues(project)) == 2
    assert emu.sent_back == [asset_id]
    ledger = emu.asset(asset_id)["metadata"][LEDGER].split(",")
    assert sorted(ledger) == sorted(i["id"] for i in emu.issues(project))


def test_create_issues_saved_but_answer_lost_is_not_created_twice(
    kili: Any, emu: KiliEmulator, asset: Any
) -> None:
    project, asset_id = asset
    label = submit(emu, asset_id, THREE_BOXES)
    steps = MemorySteps()
    emu.inject_fault("createIssues", "timeout", calls=1, delay=2.0, applied=True)
    failed = check(kili, project, asset_id, label, steps=steps)
    assert failed.failed_step == "issues" and failed.retryable
    assert len(emu.issues(project)) == 2  # Kili saved them
    again = check(kili, project, asset_id, label, steps=steps)
    assert again.error is None and len(again.effects.kept) == 2 and again.effects.created == ()
    assert len(emu.issues(project)) == 2 and emu.sent_back == [asset_id]
    # adopted into the ledger: solved once the label is fixed
    check(kili, project, asset_id, submit(emu, asset_id, fixed()))
    assert open_texts(emu, asset_id) == []


def test_solve_failure_resumes(kili: Any, emu: KiliEmulator, asset: Any) -> None:
    project, asset_id = asset
    check(kili, project, asset_id, submit(emu, asset_id, THREE_BOXES))
    label = submit(emu, asset_id, fixed())
    steps = MemorySteps()
    emu.inject_fault("updatePropertiesInIssue", "error", calls=1)
    assert check(kili, project, asset_id, label, steps=steps).failed_step == "issues"
    assert check(kili, project, asset_id, label, steps=steps).error is None
    assert open_texts(emu, asset_id) == []


def test_failure_is_raised_by_act_after_recording_steps(
    kili: Any, emu: KiliEmulator, asset: Any
) -> None:
    project, asset_id = asset
    label = submit(emu, asset_id, THREE_BOXES)
    verdict = Verdict.decide(RULES.validate(label), ActionPolicy())
    steps = MemorySteps()
    emu.inject_fault("sendAssetsBackToQueue", "error", calls=1)
    with pytest.raises(KiliCallFailed) as info:
        act(
            kili,
            project_id=project,
            asset_id=asset_id,
            label_id=label["id"],
            verdict=verdict,
            steps=steps,
        )
    assert info.value.retryable and info.value.step == "send_back"
    assert set(steps.done()) == {"plan", "issues"}  # the metadata comes after the moves
    effects = act(
        kili,
        project_id=project,
        asset_id=asset_id,
        label_id=label["id"],
        verdict=verdict,
        steps=steps,
    )
    assert effects.resumed == ("plan", "issues")
    assert [c.action for c in effects.changes] == ["send_back", "metadata"]


def test_retryable_classification() -> None:
    import requests
    from kili.exceptions import GraphQLError  # type: ignore[import-untyped]

    refused = requests.HTTPError(response=requests.Response())
    refused.response.status_code = 400
    overloaded = requests.HTTPError(response=requests.Response())
    overloaded.response.status_code = 503
    assert is_retryable(GraphQLError("boom"))
    assert is_retryable(requests.ConnectionError("refused"))
    assert is_retryable(requests.ReadTimeout("slow"))
    assert is_retryable(overloaded)
    assert not is_retryable(refused)
    assert not is_retryable(TypeError("wrong call"))


# ---- dry run, bounce cap, metadata, workflow v2 --------------------------------------------


def test_dry_run_lists_changes_and_writes_nothing(kili: Any, emu: KiliEmulator, asset: Any) -> None:
    project, asset_id = asset
    decision = check(kili, project, asset_id, submit(emu, asset_id, THREE_BOXES), dry_run=True)
    assert [c.describe() for c in decision.effects.changes] == [
        f"create issue of label {decision.label_id}: {COUNT_TEXT}",
        f"create issue on object {BIG_MID} of label {decision.label_id}: BBox too large",
        f"send back: asset {asset_id}",
        # the bounce cap is on by default (max_bounces = 3): the send-back is counted
        f"merge metadata into asset {asset_id}: kili_rules_bounces=1",
    ]
    assert emu.issues(project) == [] and emu.sent_back == []
    assert emu.asset(asset_id)["metadata"] == {"owner": "team-a", "batch": 7}


def run_act(kili: Any, emu: KiliEmulator, project: str, asset_id: str, policy: Any) -> Any:
    label = submit(emu, asset_id, THREE_BOXES)
    verdict = Verdict.decide(RULES.validate(label), policy, objects=3)
    return act(
        kili,
        project_id=project,
        asset_id=asset_id,
        label_id=label["id"],
        verdict=verdict,
        steps=MemorySteps(),
    )


def test_bounce_cap_adds_to_review_instead(kili: Any, emu: KiliEmulator, asset: Any) -> None:
    project, asset_id = asset
    policy = ActionPolicy(max_bounces=2)
    for _ in range(2):
        effects = run_act(kili, emu, project, asset_id, policy)
        assert effects.actions == ("send_back",) and not effects.bounced_to_review
    assert emu.asset(asset_id)["metadata"]["kili_rules_bounces"] == "2"
    third = run_act(kili, emu, project, asset_id, policy)
    assert third.actions == ("review",) and third.bounced_to_review
    assert emu.sent_back == [asset_id, asset_id] and emu.added_to_review == [asset_id]
    assert emu.asset(asset_id)["status"] == "TO_REVIEW"
    assert len(emu.issues(project)) == 2  # the same findings each time: never duplicated


def test_metadata_merge_keeps_other_keys(kili: Any, emu: KiliEmulator, asset: Any) -> None:
    project, asset_id = asset
    policy = ActionPolicy(on_error=("issues", "metadata", "send_back"))
    run_act(kili, emu, project, asset_id, policy)
    metadata = emu.asset(asset_id)["metadata"]
    assert metadata["owner"] == "team-a" and metadata["batch"] == 7
    assert metadata["kili_rules_issues"] == "2" and metadata["kili_rules_errors"] == "2"
    assert metadata["kili_rules_rules"] == "too-many-object-a,bbox-too-large"
    assert float(metadata["kili_rules_accuracy"]) == pytest.approx(1 / 3)


def test_workflow_v2_invalidate_and_next_step(kili: Any, emu: KiliEmulator) -> None:
    project = emu.add_project(json_interface=INTERFACE, steps=("Labeling", "Review"))
    asset_id = emu.add_asset(project)
    policy = ActionPolicy(on_error=("issues", "invalidate"), on_pass=("next_step",))
    effects = run_act(kili, emu, project, asset_id, policy)
    assert effects.actions == ("invalidate",) and emu.asset(asset_id)["step"] == "Labeling"
    assert emu.asset(asset_id)["status"] == "ONGOING"
    label = submit(emu, asset_id, fixed())
    passed = act(
        kili,
        project_id=project,
        asset_id=asset_id,
        label_id=label["id"],
        verdict=Verdict.decide(RULES.validate(label), policy),
        steps=MemorySteps(),
    )
    assert passed.actions == ("next_step",) and len(passed.solved) == 2
    assert emu.asset(asset_id)["step"] == "Review"


class DecidingRules:
    """A RuleSet whose rules file declares ``[actions]``: ``decide`` gives the Verdict."""

    needs_resolution = False

    def __init__(self, policy: ActionPolicy) -> None:
        self.actions = policy

    def validate(self, label: Any, *, resolution: Any = None) -> Any:
        return RULES.validate(label, resolution=resolution)

    def decide(self, label: Any, *, resolution: Any = None) -> Verdict:
        return Verdict.decide(self.validate(label), self.actions, objects=3)


def test_handle_label_uses_the_rules_files_actions(
    kili: Any, emu: KiliEmulator, asset: Any
) -> None:
    project, asset_id = asset
    rules: Any = DecidingRules(ActionPolicy(on_error=("issues", "metadata", "review")))
    label = submit(emu, asset_id, THREE_BOXES)
    decision = handle_label(kili, rules, project, asset_id, label, steps=MemorySteps())
    assert decision.actions == ("review",) and not decision.sent_back
    assert emu.added_to_review == [asset_id] and emu.sent_back == []
    metadata = emu.asset(asset_id)["metadata"]
    assert float(metadata["kili_rules_accuracy"]) == pytest.approx(1 / 3)
    assert metadata["owner"] == "team-a"


@pytest.mark.parametrize(("status", "retryable"), [(400, False), (503, True)])
def test_http_refusal_is_not_retryable_overload_is(
    kili: Any, emu: KiliEmulator, asset: Any, status: int, retryable: bool
) -> None:
    project, asset_id = asset
    emu.fail_requests("sendAssetsBackToQueue", [status])
    failed = check(kili, project, asset_id, submit(emu, asset_id, THREE_BOXES))
    assert failed.failed_step == "send_back" and failed.retryable is retryable
    assert emu.sent_back == []


def test_a_step_log_that_lost_its_hold_stops_before_any_kili_write(
    kili: Any, emu: KiliEmulator, asset: Any
) -> None:
    """The journal's fence: a worker whose lease was taken over never writes to Kili."""
    from kili_rules.journal import LeaseLost

    class Lost(MemorySteps):
        def hold(self) -> None:
            raise LeaseLost("taken over")

    project, asset_id = asset
    label = submit(emu, asset_id, THREE_BOXES)
    with pytest.raises(LeaseLost):
        handle_label(kili, RULES, project, asset_id, label, logger=LOG, steps=Lost())
    assert emu.issues(project) == [] and emu.sent_back == []
    assert LEDGER not in emu.asset(asset_id)["metadata"]


def test_send_back_applied_but_answer_lost_is_not_sent_twice_after_resume(
    kili: Any, emu: KiliEmulator, asset: Any
) -> None:
    """A worker killed after Kili applied the send-back (its step not recorded): the next
    one resumes with the recorded plan but reads the asset's status first, and sees the
    asset is back in the queue already."""
    project, asset_id = asset
    label = submit(emu, asset_id, THREE_BOXES)
    steps = MemorySteps()
    emu.inject_fault("sendAssetsBackToQueue", "timeout", calls=1, delay=2.0, applied=True)
    failed = check(kili, project, asset_id, label, steps=steps)
    assert failed.failed_step == "send_back" and failed.retryable
    assert emu.sent_back == [asset_id]  # Kili did it
    again = check(kili, project, asset_id, label, steps=steps)
    assert again.error is None
    assert emu.sent_back == [asset_id]
    assert steps.done()["send_back"] == "already"


def test_effects_draw_no_progress_bar_even_on_a_tqdm_client(
    emu: KiliEmulator, asset: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    """The SDK's create_issues draws a "Creating issues" bar whatever disable_tqdm says."""
    project, asset_id = asset
    noisy = emu.kili_client(timeout=1.0, disable_tqdm=False)
    effects = run_act(noisy, emu, project, asset_id, ActionPolicy())
    assert len(effects.created) == 2 and effects.actions == ("send_back",)
    err = capfd.readouterr().err
    assert "Creating issues" not in err and "it/s" not in err


def test_metadata_failure_comes_after_the_send_back(
    kili: Any, emu: KiliEmulator, asset: Any
) -> None:
    project, asset_id = asset
    label = submit(emu, asset_id, THREE_BOXES)
    verdict = Verdict.decide(RULES.validate(label), ActionPolicy())
    steps = MemorySteps()
    emu.inject_fault("updatePropertiesInAssets", "error", calls=1)
    with pytest.raises(KiliCallFailed) as info:
        act(
            kili,
            project_id=project,
            asset_id=asset_id,
            label_id=label["id"],
            verdict=verdict,
            steps=steps,
        )
    assert info.value.step == "metadata" and info.value.retryable
    assert [e.actions for e in info.value.effects] == [("send_back",)]
    assert emu.sent_back == [asset_id] and steps.done()["send_back"] == "done"
    again = act(
        kili,
        project_id=project,
        asset_id=asset_id,
        label_id=label["id"],
        verdict=verdict,
        steps=steps,
    )
    assert [c.action for c in again.changes] == ["metadata"] and emu.sent_back == [asset_id]
    assert sorted(emu.asset(asset_id)["metadata"][LEDGER].split(",")) == sorted(
        i["id"] for i in emu.issues(project)
    )


def test_workflow_v3_moves_as_v2(kili: Any, emu: KiliEmulator) -> None:
    import warnings

    project = emu.add_project(
        json_interface=INTERFACE, steps=("Labeling", "Review"), workflow_version="V3"
    )
    assert emu.project(project)["workflowVersion"] == "V3"
    rows = kili.projects(project_id=project, fields=["id", "workflowVersion"])
    assert rows[0]["workflowVersion"] == "V3"
    asset_id = emu.add_asset(project)
    policy = ActionPolicy(on_error=("issues", "invalidate"), on_pass=("next_step",))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        effects = run_act(kili, emu, project, asset_id, policy)
    # read as V1, the asset's legacy "status" would be asked (the SDK warns)
    assert not [w for w in caught if "Field status requested" in str(w.message)]
    assert effects.actions == ("invalidate",) and emu.asset(asset_id)["step"] == "Labeling"
    with pytest.raises(Exception, match="V1 takes no steps"):
        emu.add_project(workflow_version="V3")
