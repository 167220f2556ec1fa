"""An issue's identity is its rule and object, not its wording (kili.effects reconciliation).

A new version of kili-rules that rewords a rule's default message, or a team that edits a
rule's ``message``, must not create again the issue an older text already stands for, nor
solve it; a reviewer-cancelled issue with the old text still waives. Issues made before
kili-rules kept marks are recognised by their text, as before. With the real kili client
against the emulator."""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from kili_rules import RuleSet
from kili_rules.testing import KiliEmulator

pytest.importorskip("kili")

from kili_rules.kili.plugin import RulesPlugin

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "tests" / "data" / "seed"
ONE_BOX: dict[str, Any] = json.loads((SEED / "json_response_one_box.json").read_text())
INTERFACE: dict[str, Any] = json.loads((SEED / "json_interface.json").read_text())
BIG_MID = "20221124161451411-13314"
MARKS = "kili_rules_issue_marks"
LOG = logging.getLogger("kili_rules.tests.identity")


def rules(message: str) -> RuleSet:
    """The tutorial's box rule (same id) worded ``message``."""
    return RuleSet.from_toml(
        f"""
[[rule]]
id = "bbox-too-large"
kind = "box"
job = "JOB_0"
max_area = 0.33
message = "{message}"
"""
    )


OLD, NEW = rules("BBox too large"), rules("This box is too large: make it smaller")


def issues(emu: KiliEmulator, asset_id: str, status: str) -> list[tuple[str, str | None]]:
    return [(i["id"], i["text"]) for i in emu.issues(asset_id=asset_id, status=status)]


@pytest.fixture
def emu() -> Any:
    with KiliEmulator() as emulator:
        yield emulator


def submit(emu: KiliEmulator, kili: Any, project: str, asset_id: str, ruleset: RuleSet) -> Any:
    """A label (the tutorial's too-large box, always the same) submitted and judged."""
    label_id = emu.add_label(asset_id, copy.deepcopy(ONE_BOX))
    return RulesPlugin(kili, project, LOG, rules=ruleset).on_submit(
        {"id": label_id, "jsonResponse": copy.deepcopy(ONE_BOX)}, asset_id
    )


def test_an_open_issue_worded_by_an_older_version_is_kept_not_created_again(
    emu: KiliEmulator,
) -> None:
    kili = emu.kili_client(timeout=1.0)
    project = emu.add_project(json_interface=INTERFACE)
    asset_id = emu.add_asset(project)
    first = submit(emu, kili, project, asset_id, OLD)
    assert len(first.effects.created) == 1
    ((issue_id, text),) = issues(emu, asset_id, "OPEN")
    assert text == "BBox too large"
    # resubmitted unchanged, judged by a version whose message reads otherwise
    second = submit(emu, kili, project, asset_id, NEW)
    assert second.effects.created == () and second.effects.solved == ()
    assert issues(emu, asset_id, "OPEN") == [(issue_id, "BBox too large")]
    assert issues(emu, asset_id, "SOLVED") == []


def test_a_cancelled_issue_with_the_old_text_still_waives(emu: KiliEmulator) -> None:
    kili = emu.kili_client(timeout=1.0)
    project = emu.add_project(json_interface=INTERFACE)
    asset_id = emu.add_asset(project)
    submit(emu, kili, project, asset_id, OLD)
    ((issue_id, _text),) = issues(emu, asset_id, "OPEN")
    kili.update_issue_status(issue_id=issue_id, status="CANCELLED")
    again = submit(emu, kili, project, asset_id, NEW)
    assert again.effects.created == ()
    assert again.effects.waived == (("bbox-too-large", BIG_MID),)
    assert issues(emu, asset_id, "OPEN") == []


def test_an_unmarked_issue_is_recognised_by_its_text_and_a_stale_one_solved(
    emu: KiliEmulator,
) -> None:
    kili = emu.kili_client(timeout=1.0)
    project = emu.add_project(json_interface=INTERFACE)
    asset_id = emu.add_asset(project)
    submit(emu, kili, project, asset_id, OLD)
    ((issue_id, _text),) = issues(emu, asset_id, "OPEN")
    # an issue from before marks were kept: in the ledger, no mark
    metadata = dict(emu.asset(asset_id)["metadata"] or {})
    assert issue_id in json.dumps(metadata.get(MARKS))
    metadata.pop(MARKS)
    kili.update_properties_in_assets(asset_ids=[asset_id], json_metadatas=[metadata])
    same_text = submit(emu, kili, project, asset_id, OLD)
    assert same_text.effects.created == () and issues(emu, asset_id, "OPEN") == [
        (issue_id, "BBox too large")
    ]
    # without a mark only its text can say what it stands for: another text is another
    # finding, so the old one is solved and the new one created
    metadata = dict(emu.asset(asset_id)["metadata"] or {})
    metadata.pop(MARKS, None)
    kili.update_properties_in_assets(asset_ids=[asset_id], json_metadatas=[metadata])
    reworded = submit(emu, kili, project, asset_id, NEW)
    assert len(reworded.effects.created) == 1 and reworded.effects.solved == (issue_id,)
    assert [t for _i, t in issues(emu, asset_id, "OPEN")] == [
        "This box is too large: make it smaller"
    ]
