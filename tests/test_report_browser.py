"""The HTML report as a person sees it: opened in a real headless Chromium (the Debian package;
CI installs it), after its script ran. Checks that the page renders, the charts and drawings are
there with a size on screen, the table pages and filters, and that a 200,000-issue page opens
within a generous bound (the measured figure is in docs/benchmarks.md, not asserted here)."""

from __future__ import annotations

import copy
import json
import re
import shutil
import struct
import subprocess
import time
import zipfile
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from kili_rules import RuleSet
from kili_rules.cli import main

EXAMPLES = Path(__file__).parent.parent / "examples"
EXPORT = EXAMPLES / "export" / "example_export.zip"
RULES = EXAMPLES / "rules.toml"

# Written into a copy of the page for the test: what the browser laid out, read back from the DOM.
LAYOUT_PROBE = """<script>
document.body.setAttribute("data-layout", JSON.stringify(
  Array.prototype.map.call(document.querySelectorAll("svg.kr-chart, svg.kr-drawing"), function (e) {
    var r = e.getBoundingClientRect();
    return [e.getAttribute("class"), Math.round(r.width), Math.round(r.height)];
  })));
</script></body>"""


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("headless Chromium is needed: apt-get install -y chromium")
    return path


def browse(page: Path, tmp: Path, *extra: str, hash_: str = "", timeout: float = 120) -> str:
    """The DOM of ``page`` after its scripts ran, as Chromium serializes it."""
    command = [
        chromium(),
        "--headless",
        "--no-sandbox",  # CI runs as root
        "--disable-gpu",
        "--no-first-run",
        f"--user-data-dir={tmp / 'profile'}",
        "--window-size=1300,2000",
        *extra,
        page.resolve().as_uri() + hash_,
    ]
    done = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    return done.stdout.decode("utf-8")


class Elements(HTMLParser):
    """Counts of tags by class, the body's attributes and the table body's rows."""

    def __init__(self) -> None:
        super().__init__()
        self.classes: dict[str, int] = {}
        self.body: dict[str, str | None] = {}
        self.rows = 0
        self.links: list[str] = []
        self._in_issues = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        for name in (found.get("class") or "").split():
            self.classes[name] = self.classes.get(name, 0) + 1
        if tag == "body":
            self.body = found
        if tag == "table" and found.get("id") == "kr-issues":
            self._in_issues = True
        if self._in_issues and tag == "tr":
            self.rows += 1
        if tag == "a" and found.get("href"):
            self.links.append(found["href"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._in_issues = False


def parse(dom: str) -> Elements:
    elements = Elements()
    elements.feed(dom)
    return elements


@pytest.fixture(scope="module")
def example_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "report.html"
    code = main(
        [
            "check",
            str(EXPORT),
            "--rules",
            str(RULES),
            "--project",
            "project-1",
            "--no-progress",
            "-o",
            str(out),
        ]
    )
    assert code == 1  # the example export has violations
    return out


def test_example_report_renders_with_charts_drawings_and_table(
    example_page: Path, tmp_path: Path
) -> None:
    probed = tmp_path / "probed.html"
    probed.write_text(example_page.read_text().replace("</body>", LAYOUT_PROBE))
    dom = browse(probed, tmp_path, "--dump-dom")
    page = parse(dom)
    assert page.body.get("data-kr-ready") == "6"  # the script ran over the 6 issues
    assert page.rows == 1 + 6  # header + one row per issue, drawn by the script
    assert "1–6 of 6 issues (page 1 of 1)" in dom
    # The four charts, each laid out with a size.
    layout = json.loads(page.body["data-layout"] or "[]")
    charts = [item for item in layout if item[0].startswith("kr-chart")]
    assert len(charts) == 4 and all(w > 100 and h > 40 for _, w, h in charts), charts
    for name in ("kr-per-rule", "kr-per-category", "kr-per-labeler", "kr-timeline"):
        assert page.classes.get(name) == 1, name
    # The labeler chart has its one labeler's bar; the date chart a column a day, 3 to 12 March.
    assert "labeler@example.com: 6</title>" in dom
    assert page.classes.get("kr-day") == 10
    # The script's table shows who labeled, the label type and date and the asset status.
    for header in ("labeler", "label type", "label date", "asset status"):
        assert f'<button title="sort">{header}</button>' in dom, header
    # six issue rows, and the labeler's row of the header's per-labeler pass rates
    assert dom.count("<td>labeler@example.com</td>") == 6 + 1
    assert "per labeler" in dom
    assert dom.count("<td>LABELED</td>") == 6
    # One drawing per label with findings (5), at the asset's 16:9 aspect ratio.
    drawings = [item for item in layout if item[0] == "kr-drawing"]
    assert len(drawings) == 5
    assert all(abs(w / h - 1920 / 1080) < 0.02 for _, w, h in drawings), drawings
    # Every object of these labels is pointed at (count rules point at all of their category).
    assert page.classes.get("kr-hit") == 9
    # Each asset links to its labeling page in Kili.
    assert any(
        link == "https://cloud.kili-technology.com/label/projects/project-1/labeling/"
        "clbjzoxx5bsxdkx90zgb3jnni"
        for link in page.links
    )


def test_filter_from_the_address(example_page: Path, tmp_path: Path) -> None:
    dom = browse(example_page, tmp_path, "--dump-dom", hash_="#q=tutorial_three")
    page = parse(dom)
    assert page.rows == 1 + 2  # the two issues of tutorial_three_boxes.jpg
    assert "1–2 of 2 issues (page 1 of 1)" in dom
    # The filter reads the label columns too: the issues of the labels made on 12 March.
    dom = browse(example_page, tmp_path, "--dump-dom", hash_="#q=2024-03-12")
    assert "1–2 of 2 issues (page 1 of 1)" in dom
    # The selects, from the address: a labeler and a rule; an asset status no issue has.
    hash_ = "#labeler=labeler@example.com&rule=bbox-too-large"
    dom = browse(example_page, tmp_path, "--dump-dom", hash_=hash_)
    assert "1–3 of 3 issues (page 1 of 1)" in dom and parse(dom).rows == 1 + 3
    dom = browse(example_page, tmp_path, "--dump-dom", hash_="#status=TO_REVIEW")
    assert "0–0 of 0 issues (page 1 of 1)" in dom and parse(dom).rows == 1
    dom = browse(example_page, tmp_path, "--dump-dom", hash_="#status=LABELED")
    assert "1–6 of 6 issues (page 1 of 1)" in dom


def test_screenshot_is_a_page_sized_png(example_page: Path, tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    browse(example_page, tmp_path, f"--screenshot={shot}")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1300, 2000)
    assert len(data) > 50_000  # a blank page compresses to a few kilobytes


def big_report(issues: int) -> Any:
    """``issues`` issues: labels of three boxes, each breaking the count and the area rule."""
    rules = RuleSet.from_file(RULES)
    with zipfile.ZipFile(EXPORT) as archive:
        record = json.loads(archive.read("labels/tutorial_three_boxes.jpg.json"))
    items = []
    for i in range(issues // 2):
        item = copy.copy(record)
        item["id"], item["externalId"] = f"asset-{i:07d}", f"img_{i:07d}.jpg"
        items.append(item)
    report = rules.validate_many(items, progress=False)
    assert len(report) == issues
    return report


def test_200000_issues_page_opens_within_a_generous_bound(tmp_path: Path) -> None:
    page = tmp_path / "big.html"
    page.write_text(big_report(200_000).to_html(), encoding="utf-8")
    start = time.monotonic()
    dom = browse(page, tmp_path, "--dump-dom", timeout=90)
    elapsed = time.monotonic() - start
    assert elapsed < 60, f"{elapsed:.1f} s"  # a hang guard, not a benchmark (docs/benchmarks.md)
    assert re.search(r'data-kr-ready="200000"', dom)
    assert "1–100 of 200000 issues (page 1 of 2000)" in dom
    assert parse(dom).rows == 1 + 100


# What the browser laid out of the issues table, and a long cell closed then opened.
CELL_PROBE = """<script>
(function () {
  var table = document.getElementById("kr-issues"), heads = table.tHead.rows[0].cells;
  var col = -1;
  Array.prototype.forEach.call(heads, function (th, i) {
    if (th.textContent === "message" || th.textContent === "text") col = i;
  });
  var box = heads[col].getBoundingClientRect(), cell = table.tBodies[0].rows[0].cells[col];
  var cellBox = cell.getBoundingClientRect();
  var out = {width: window.innerWidth, left: box.left, right: box.right,
             cellLeft: cellBox.left, cellRight: cellBox.right};
  var more = cell.querySelector("details.kr-more");
  if (more) {
    out.summary = more.querySelector("summary").textContent;
    out.closed = more.getBoundingClientRect().height;
    more.open = true;
    out.opened = more.getBoundingClientRect().height;
    out.scrolled = more.scrollHeight;
    out.full = more.textContent.slice(out.summary.length);
  }
  document.body.setAttribute("data-cell", JSON.stringify(out));
})();
</script></body>"""


def probe_cell(page: Path, tmp: Path, width: int) -> dict[str, Any]:
    probed = page.with_name("probed-" + page.name)
    probed.write_text(page.read_text(encoding="utf-8").replace("</body>", CELL_PROBE), "utf-8")
    dom = browse(probed, tmp, "--dump-dom", f"--window-size={width},1000")
    found: dict[str, Any] = json.loads(parse(dom).body["data-cell"] or "{}")
    return found


def test_a_long_message_is_cut_with_the_full_text_on_demand(tmp_path: Path) -> None:
    from kili_rules.report import clip

    words = " ".join(f"word{i}" for i in range(700))  # about 6,000 characters
    rules = RuleSet.from_dict(
        {"rule": [{"id": "big", "kind": "count", "job": "JOB_0", "max": 0,
                   "message": "{category}: " + words}]}
    )  # fmt: skip
    with zipfile.ZipFile(EXPORT) as archive:
        record = json.loads(archive.read("labels/tutorial_three_boxes.jpg.json"))
    record["latestLabel"]["jsonResponse"] = {
        "JOB_0": record["latestLabel"]["jsonResponse"]["JOB_0"]
    }
    report = rules.validate_many([record], progress=False)
    message = report[0].text
    assert len(message) > clip.KEEP
    page = tmp_path / "long.html"
    page.write_text(report.to_html(), encoding="utf-8")
    cell = probe_cell(page, tmp_path, 1400)
    # Closed: the start of the message and an ellipsis, on a few lines of the cell.
    assert cell["summary"] == message[: clip.SHOW_MESSAGE] + "…"
    # Opened: the message up to the page's bound, then how much was left out and where it is.
    assert cell["full"] == clip.kept(message)
    assert cell["full"].startswith(message[: clip.KEEP])
    assert "more characters: the whole text is in the JSON" in cell["full"]
    # Opened, it is taller, and scrolls within a bounded box (the page does not grow by it).
    assert cell["opened"] > cell["closed"] > 0 and cell["scrolled"] > 3 * cell["closed"], cell


def test_the_message_column_is_on_screen_at_1400_px(example_page: Path, tmp_path: Path) -> None:
    cell = probe_cell(example_page, tmp_path, 1400)
    assert cell["width"] == 1400
    # Its header and first cell lie inside the viewport (the page is not scrolled).
    assert 0 <= cell["left"] < cell["right"] <= cell["width"], cell
    assert 0 <= cell["cellLeft"] < cell["cellRight"] <= cell["width"], cell
