"""Workflows V1 (legacy statuses), V2 (steps) and V3 (step groups): every asset move of
kili_rules.kili.effects and every "already moved" check, with the real kili client against
the emulator, on each version."""

from __future__ import annotations

import copy
import json
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kili_rules import RuleSet
from kili_rules.testing import KiliEmulator
from kili_rules.verdict import ActionPolicy, Verdict

pytest.importorskip("kili")

from kili_rules.kili.effects import KiliCallFailed, MemorySteps, act

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "tests" / "data" / "seed"
RULES = RuleSet.from_file(ROOT / "examples" / "rules.toml")
THREE_BOXES: dict[str, Any] = json.loads((SEED / "json_response_three_boxes.json").read_text())
ONE_BOX: dict[str, Any] = json.loads((SEED / "json_response_one_box.json").read_text())
INTERFACE: dict[str, Any] = json.loads((SEED / "json_interface.json").read_text())
VERSIONS = ("V1", "V2", "V3")
# V3: two groups, each a labeling step then a review step (step names repeat across groups)
GROUPS = [("Annotation", ("Labeling", "Review")), ("QA", ("Labeling", "Review"))]
# the asset action -> the outcome it is declared for in the tests' policy
POLICIES = {
    "send_back": ActionPolicy(on_error=("issues", "send_back")),
    "invalidate": ActionPolicy(on_error=("issues", "invalidate")),
    "review": ActionPolicy(on_error=("issues", "review")),
    "next_step": ActionPolicy(on_error=("issues", "next_step")),
}
BACK = ("send_back", "invalidate")


@pytest.fixture
def emu() -> Iterator[KiliEmulator]:
    with KiliEmulator() as emulator:
        yield emulator


@pytest.fixture
def kili(emu: KiliEmulator) -> Any:
    return emu.kili_client(timeout=1.0)


def make_project(emu: KiliEmulator, version: str) -> str:
    if version == "V1":
        return emu.add_project(json_interface=INTERFACE)
    if version == "V2":
        return emu.add_project(json_interface=INTERFACE, steps=("Labeling", "Review"))
    return emu.add_project(json_interface=INTERFACE, step_groups=GROUPS)


def where(emu: KiliEmulator, asset_id: str) -> tuple[Any, ...]:
    """V1: the asset status; V2: (step, step status); V3: (group, step, step status)."""
    asset = emu.asset(asset_id)
    if asset["step"] is None:
        return (asset["status"],)
    if asset["stepGroup"] is None:
        return (asset["step"], asset["stepStatus"])
    return (asset["stepGroup"], asset["step"], asset["stepStatus"])


def judge(
    kili: Any,
    emu: KiliEmulator,
    project: str,
    asset_id: str,
    action: str,
    *,
    label_type: str = "DEFAULT",
    steps: Any = None,
) -> Any:
    """Submit a failing label and carry out the verdict whose only move is ``action``."""
    label = emu.add_label(asset_id, THREE_BOXES, label_type=label_type)
    verdict = Verdict.decide(RULES.validate({"jsonResponse": THREE_BOXES}), POLICIES[action])
    with warnings.catch_warnings():
        # the SDK warns when a field of another workflow version is asked (legacy "status"
        # of a V2/V3 project): kili-rules asks each version's own fields
        warnings.simplefilter("error")
        return act(
            kili,
            project_id=project,
            asset_id=asset_id,
            label_id=label,
            verdict=verdict,
            steps=steps if steps is not None else MemorySteps(),
        )


def test_emulator_models_v3_step_groups(kili: Any, emu: KiliEmulator) -> None:
    project = make_project(emu, "V3")
    shown = emu.project(project)
    assert shown["workflowVersion"] == "V3" and shown["stepGroups"] == ["Annotation", "QA"]
    row = kili.projects(
        project_id=project,
        fields=[
            "workflowVersion",
            "steps.name",
            "steps.type",
            "steps.stepGroupId",
            "stepGroups.id",
            "stepGroups.name",
        ],
    )[0]
    groups = {g["id"]: g["name"] for g in row["stepGroups"]}
    assert [(groups[s["stepGroupId"]], s["name"], s["type"]) for s in row["steps"]] == [
        ("Annotation", "Labeling", "DEFAULT"),
        ("Annotation", "Review", "REVIEW"),
        ("QA", "Labeling", "DEFAULT"),
        ("QA", "Review", "REVIEW"),
    ]
    asset_id = emu.add_asset(project)
    emu.add_label(asset_id, ONE_BOX)
    fields = ["id", "currentStep.stepGroupName", "currentStep.name", "currentStep.status"]
    step = kili.assets(project_id=project, asset_id=asset_id, fields=fields)[0]["currentStep"]
    assert step == {"stepGroupName": "Annotation", "name": "Labeling", "status": "DONE"}
    # moving on from a group's last step enters the next group's labeling step
    kili.add_to_review(asset_ids=[asset_id])
    emu.add_label(asset_id, ONE_BOX, label_type="REVIEW")
    kili.add_to_review(asset_ids=[asset_id])
    assert where(emu, asset_id) == ("QA", "Labeling", "TO_DO")
    emu.add_label(asset_id, ONE_BOX)
    kili.add_to_review(asset_ids=[asset_id])
    assert where(emu, asset_id) == ("QA", "Review", "TO_DO")
    kili.send_back_to_queue(asset_ids=[asset_id])
    assert where(emu, asset_id) == ("QA", "Labeling", "REWORK")  # its own group's labeling
    with pytest.raises(Exception, match="step_groups"):
        emu.add_project(step_groups=[("A", ("Labeling",)), ("A", ("Review",))])


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("action", list(POLICIES))
def test_each_move_on_each_version(kili: Any, emu: KiliEmulator, version: str, action: str) -> None:
    project = make_project(emu, version)
    asset_id = emu.add_asset(project)
    effects = judge(kili, emu, project, asset_id, action)
    assert effects.actions == (action,) and effects.declined == ()
    if action in BACK:
        assert emu.sent_back == [asset_id] and emu.added_to_review == []
        expected = {"V1": ("ONGOING",), "V2": ("Labeling", "REWORK")}
        expected["V3"] = ("Annotation", "Labeling", "REWORK")
    else:
        assert emu.added_to_review == [asset_id] and emu.sent_back == []
        expected = {"V1": ("TO_REVIEW",), "V2": ("Review", "TO_DO")}
        expected["V3"] = ("Annotation", "Review", "TO_DO")
    assert where(emu, asset_id) == expected[version]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("action", list(POLICIES))
def test_a_move_made_already_is_not_made_again(
    kili: Any, emu: KiliEmulator, version: str, action: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Someone (a reviewer, another run) moved the asset before kili-rules acted: the asset
    read shows it where the move would take it, and no call is made (in V3 a second next
    step would push the asset out of review into the next group)."""
    project = make_project(emu, version)
    asset_id = emu.add_asset(project)
    emu.add_label(asset_id, ONE_BOX)
    if action in BACK:
        kili.send_back_to_queue(asset_ids=[asset_id])
    else:
        kili.add_to_review(asset_ids=[asset_id])
    before = where(emu, asset_id)
    moved = (list(emu.sent_back), list(emu.added_to_review))
    label = emu.add_label(asset_id, THREE_BOXES, label_type="AUTOSAVE")  # no status change
    verdict = Verdict.decide(RULES.validate({"jsonResponse": THREE_BOXES}), POLICIES[action])
    with caplog.at_level(logging.INFO, logger="kili_rules.kili"):
        effects = act(
            kili,
            project_id=project,
            asset_id=asset_id,
            label_id=label,
            verdict=verdict,
            steps=MemorySteps(),
        )
    assert effects.actions == () and len(effects.created) == 2
    assert (emu.sent_back, emu.added_to_review) == moved
    assert where(emu, asset_id) == before
    assert f"no {action}" in caplog.text


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("action", list(POLICIES))
def test_a_move_kili_applied_but_whose_answer_was_lost_is_not_made_twice(
    kili: Any, emu: KiliEmulator, version: str, action: str
) -> None:
    """The move's answer is lost (Kili applied it): the retry with the same StepLog reads
    the asset and records the move as made, without sending it again."""
    project = make_project(emu, version)
    asset_id = emu.add_asset(project)
    mutation = "sendAssetsBackToQueue" if action in BACK else "addAssetsToReview"
    emu.inject_fault(mutation, "timeout", calls=1, delay=2.0, applied=True)
    steps = MemorySteps()
    with pytest.raises(KiliCallFailed) as failed:
        judge(kili, emu, project, asset_id, action, steps=steps)
    assert failed.value.step == action and failed.value.retryable
    after = where(emu, asset_id)
    moved = (list(emu.sent_back), list(emu.added_to_review))
    assert len(moved[0] + moved[1]) == 1  # Kili did it once
    label = steps.done()["plan"]  # the same event again: its plan is resumed
    assert label["moves"] == [action]
    verdict = Verdict.decide(RULES.validate({"jsonResponse": THREE_BOXES}), POLICIES[action])
    again = act(
        kili,
        project_id=project,
        asset_id=asset_id,
        label_id=emu.asset(asset_id)["labelIds"][-1],
        verdict=verdict,
        steps=steps,
    )
    assert again.actions == (action,) and steps.done()[action] == "already"
    assert (emu.sent_back, emu.added_to_review) == moved and where(emu, asset_id) == after


@pytest.mark.parametrize("version", ["V2", "V3"])
def test_next_step_from_a_review_step_resumed_after_a_lost_answer(
    kili: Any, emu: KiliEmulator, version: str
) -> None:
    """A review label's next step: V2 is at its last step (Kili declines); in V3 the asset
    leaves its group for the next group's labeling step, and a resume after a lost answer
    sees it left the planned step: it is not pushed on to the review of that group."""
    project = make_project(emu, version)
    asset_id = emu.add_asset(project)
    emu.add_label(asset_id, ONE_BOX)
    kili.add_to_review(asset_ids=[asset_id])
    if version == "V2":
        effects = judge(kili, emu, project, asset_id, "next_step", label_type="REVIEW")
        assert effects.declined == ("next_step",) and where(emu, asset_id) == ("Review", "DONE")
        return
    emu.inject_fault("addAssetsToReview", "timeout", calls=1, delay=2.0, applied=True)
    steps = MemorySteps()
    with pytest.raises(KiliCallFailed):
        judge(kili, emu, project, asset_id, "next_step", label_type="REVIEW", steps=steps)
    assert where(emu, asset_id) == ("QA", "Labeling", "TO_DO")
    assert steps.done()["plan"]["at"] == ["Annotation", "Review", "DONE"]
    verdict = Verdict.decide(RULES.validate({"jsonResponse": THREE_BOXES}), POLICIES["next_step"])
    again = act(
        kili,
        project_id=project,
        asset_id=asset_id,
        label_id=emu.asset(asset_id)["labelIds"][-1],
        verdict=verdict,
        steps=steps,
    )
    assert again.actions == ("next_step",) and steps.done()["next_step"] == "already"
    assert where(emu, asset_id) == ("QA", "Labeling", "TO_DO")
    assert emu.added_to_review == [asset_id, asset_id]  # the reviewer's and kili-rules' one


def test_fixed_label_next_step_passes_on_v3(kili: Any, emu: KiliEmulator) -> None:
    """A passing label with ``on_pass = ["next_step"]`` goes to its group's review."""
    project = make_project(emu, "V3")
    asset_id = emu.add_asset(project)
    fixed = copy.deepcopy(ONE_BOX)
    fixed["JOB_0"]["annotations"][0]["boundingPoly"][0]["normalizedVertices"] = [
        {"x": 0.1, "y": 0.2},
        {"x": 0.1, "y": 0.1},
        {"x": 0.2, "y": 0.1},
        {"x": 0.2, "y": 0.2},
    ]
    label = emu.add_label(asset_id, fixed)
    verdict = Verdict.decide(
        RULES.validate({"jsonResponse": fixed}), ActionPolicy(on_pass=("next_step",))
    )
    assert verdict.outcome == "pass"
    effects = act(
        kili,
        project_id=project,
        asset_id=asset_id,
        label_id=label,
        verdict=verdict,
        steps=MemorySteps(),
    )
    assert effects.actions == ("next_step",)
    assert where(emu, asset_id) == ("Annotation", "Review", "TO_DO")
