"""The example notebook runs top to bottom in a real Jupyter kernel and shows the report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NOTEBOOK = EXAMPLES / "validate_export.ipynb"


def _outputs(notebook: Any, kind: str) -> list[str]:
    texts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                data = {"text/plain": output.get("text", "")}
            else:
                data = output.get("data", {})
            if kind in data:
                texts.append(data[kind])
    return texts


def test_validate_export_notebook_runs() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=120,  # per cell
        kernel_name="python3",
        resources={"metadata": {"path": str(EXAMPLES)}},  # cwd: relative paths as in a user's run
    )
    client.execute()

    errors = [
        output
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert errors == []

    html = "".join(_outputs(notebook, "text/html"))
    assert 'class="kili-rules-report"' in html  # the Report's _repr_html_
    assert "FAILED: 6 issues (6 errors, 0 warnings) in 5 assets" in html
    assert "too-many-object-a" in html and "tutorial_three_boxes.jpg" in html
    assert 'class="dataframe"' in html  # the DataFrame, rendered by pandas

    text = "".join(_outputs(notebook, "text/plain"))
    assert "12 labels checked, 6 issues, ok=False" in text
    assert "bbox-too-large" in text  # the printed summary table
