"""Type stubs for the native core (Rust, PyO3). Checked with ``python -m mypy.stubtest``."""

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final, final

__version__: str
#: The kind of the row for a label the reader could not read.
INVALID_KIND: Final[str]
#: The kind of the row for a label record without a jsonResponse (nothing was checked).
UNCHECKED_KIND: Final[str]
__all__ = [
    "INVALID_KIND",
    "UNCHECKED_KIND",
    "AnswerView",
    "BatchResult",
    "Engine",
    "Issue",
    "LabelError",
    "LabelView",
    "ObjectView",
    "ParentView",
    "RelationView",
    "Row",
    "RulesError",
    "SpanView",
    "__version__",
    "_read_model",
]

class LabelError(ValueError):
    """A label (jsonResponse) is malformed; the message names the JSON path and the reason.

    ``path``: the keys and indexes down to the bad value (``("jsonResponse", "JOB_0",
    "annotations", 2, "mid")``; empty for the whole document); ``reason``: why, without the path.
    """

    path: tuple[str | int, ...]
    reason: str

class RulesError(ValueError):
    """A rules file or rule object is invalid; the message names the rule and the field.

    ``rule``: the rule's id, else its index in the file (None for the file as a whole);
    ``field``: the field at fault (None for the whole rule); ``reason``: why.
    """

    rule: str | int | None
    field: str | None
    reason: str

@final
class Issue:
    """One rule violation found in one label."""

    @property
    def rule(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def mid(self) -> str | None: ...
    @property
    def job(self) -> str | None: ...
    @property
    def category(self) -> str | None: ...
    @property
    def frame(self) -> int | None: ...
    @property
    def value(self) -> float | None: ...
    @property
    def limit(self) -> float | None: ...
    def to_dict(self) -> dict[str, Any]: ...
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...
    @staticmethod
    def _finding(
        rule: str,
        severity: str,
        text: str,
        mid: str | None = None,
        job: str | None = None,
        category: str | None = None,
        frame: int | None = None,
        value: float | None = None,
        limit: float | None = None,
        error: bool = False,
    ) -> Issue: ...

@final
class Row:
    """One row of a batch report: an Issue plus the asset and label it belongs to."""

    @property
    def asset_id(self) -> str | None: ...
    @property
    def external_id(self) -> str | None: ...
    @property
    def label_id(self) -> str | None: ...
    @property
    def source(self) -> str | None: ...
    @property
    def author(self) -> str | None: ...
    @property
    def created_at(self) -> str | None: ...
    @property
    def label_type(self) -> str | None: ...
    @property
    def asset_status(self) -> str | None: ...
    @property
    def rule(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def mid(self) -> str | None: ...
    @property
    def job(self) -> str | None: ...
    @property
    def category(self) -> str | None: ...
    @property
    def frame(self) -> int | None: ...
    @property
    def value(self) -> float | None: ...
    @property
    def limit(self) -> float | None: ...
    def to_dict(self) -> dict[str, Any]: ...
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class BatchResult:
    """What a batch run returns to ``report.py``: the rows and the counts."""

    @property
    def rows(self) -> list[Row]: ...
    @property
    def labels(self) -> int: ...
    @property
    def assets(self) -> int: ...
    @property
    def invalid(self) -> int: ...
    @property
    def unchecked(self) -> int: ...
    @property
    def bytes_read(self) -> int: ...
    @property
    def jobs(self) -> list[str]: ...

@final
class Engine:
    """A compiled rule set. Build it with one of the static constructors."""

    @staticmethod
    def from_dict(config: dict[str, Any]) -> Engine: ...
    @staticmethod
    def from_toml(text: str) -> Engine: ...
    @staticmethod
    def from_json(text: str | bytes) -> Engine: ...
    @staticmethod
    def json_schema() -> str: ...
    def config_json(self) -> str: ...
    def actions(self) -> dict[str, Any] | None: ...
    @property
    def needs_resolution(self) -> bool: ...
    def rules(self) -> list[dict[str, Any]]: ...
    def with_label_views(self) -> Engine: ...
    def validate_views(
        self,
        label: object,
        resolution: tuple[float, float] | None = None,
        page_resolutions: dict[int, tuple[float, float]] | None = None,
    ) -> tuple[list[tuple[list[Issue], LabelView]], int]: ...
    def validate(
        self,
        label: object,
        resolution: tuple[float, float] | None = None,
        page_resolutions: dict[int, tuple[float, float]] | None = None,
    ) -> list[Issue]: ...
    def validate_counted(
        self,
        label: object,
        resolution: tuple[float, float] | None = None,
        page_resolutions: dict[int, tuple[float, float]] | None = None,
    ) -> tuple[list[Issue], int]: ...
    def validate_many(
        self,
        items: Iterable[object],
        threads: int | None = None,
        progress: Callable[[int, int | None], object] | None = None,
        python_rules: Callable[[LabelView], list[Issue]] | None = None,
    ) -> BatchResult: ...
    def validate_json_many(
        self,
        docs: Sequence[bytes],
        threads: int | None = None,
        python_rules: Callable[[LabelView], list[Issue]] | None = None,
    ) -> BatchResult: ...
    def validate_export(
        self,
        path: str,
        threads: int | None = None,
        progress: Callable[[int, int], object] | None = None,
        python_rules: Callable[[LabelView], list[Issue]] | None = None,
    ) -> BatchResult: ...
    def lint(self, json_interface: object) -> list[str]: ...

@final
class ParentView:
    """Where nested content sits: the enclosing object, or the classification answer it is
    nested under (``mid`` None)."""

    @property
    def job(self) -> str: ...
    @property
    def category(self) -> str | None: ...
    @property
    def mid(self) -> str | None: ...

@final
class SpanView:
    """A named-entity span: character offsets (``end`` exclusive) and the stored text."""

    @property
    def begin(self) -> int: ...
    @property
    def end(self) -> int: ...
    @property
    def content(self) -> str | None: ...

@final
class RelationView:
    """A relation: the mids of its start and end entities (or objects)."""

    @property
    def start(self) -> tuple[str, ...]: ...
    @property
    def end(self) -> tuple[str, ...]: ...

@final
class ObjectView:
    """One object of a label, read-only (what a Python rule sees)."""

    @property
    def job(self) -> str: ...
    @property
    def category(self) -> str | None: ...
    @property
    def mid(self) -> str | None: ...
    @property
    def frame(self) -> int | None: ...
    @property
    def children(self) -> tuple[str, ...]: ...
    @property
    def shape(self) -> str: ...
    @property
    def parts(self) -> tuple[tuple[tuple[tuple[float, float], ...], ...], ...]: ...
    @property
    def rings(self) -> tuple[tuple[tuple[float, float], ...], ...]: ...
    @property
    def pages(self) -> tuple[int | None, ...]: ...
    @property
    def texts(self) -> dict[str, str]: ...
    @property
    def parent(self) -> ParentView | None: ...
    @property
    def span(self) -> SpanView | None: ...
    @property
    def relation(self) -> RelationView | None: ...

@final
class AnswerView:
    """One answer of a label, read-only."""

    @property
    def job(self) -> str: ...
    @property
    def category(self) -> str | None: ...
    @property
    def frame(self) -> int | None: ...
    @property
    def children(self) -> tuple[str, ...]: ...
    @property
    def text(self) -> str | None: ...
    @property
    def parent(self) -> ParentView | None: ...

@final
class LabelView:
    """A parsed label, read-only: what a Python rule receives."""

    @property
    def objects(self) -> tuple[ObjectView, ...]: ...
    @property
    def answers(self) -> tuple[AnswerView, ...]: ...
    @property
    def frames(self) -> tuple[int, ...]: ...
    @property
    def asset_id(self) -> str | None: ...
    @property
    def external_id(self) -> str | None: ...
    @property
    def label_id(self) -> str | None: ...
    @property
    def source(self) -> str | None: ...
    @property
    def metadata(self) -> dict[str, str]: ...

def _read_model(label: object, via_json: bool) -> str: ...
