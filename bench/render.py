"""Markdown for docs/benchmarks.md."""

from __future__ import annotations

from results import Result, Row


def fmt_time(s: float) -> str:
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.1f} ms"
    if s >= 1e-6:
        return f"{s * 1e6:.2f} µs"
    return f"{s * 1e9:.0f} ns"


def throughput(row: Row) -> str:
    med = row.timing.median
    if row.unit == "vertices":
        return f"{med / row.per * 1e9:.1f} ns/vertex"
    if row.unit == "calls":
        return f"{1 / med:,.0f} calls/s"
    return f"{row.per / med:,.0f} {row.unit}/s"


def table(rows: list[Row]) -> str:
    out = [
        "| Implementation | Median | Runs (min - max) | Throughput | vs baseline |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        t = row.timing
        spread = f"{len(t.runs)} ({fmt_time(min(t.runs))} - {fmt_time(max(t.runs))})"
        ratio = f"**{row.ratio:.2f}x**" if row.ratio is not None else "baseline"
        out.append(
            f"| {row.impl} | {fmt_time(t.median)} | {spread} | {throughput(row)} | {ratio} |"
        )
    return "\n".join(out)


def verdicts(results: list[Result]) -> str:
    out = ["| Workload | Target | Measured | Verdict |", "|---|---|---|---|"]
    for res in results:
        for t in res.targets:
            verdict = "met" if t.met else "**missed**"
            out.append(f"| {res.key} | {t.text} | {t.measured} | {verdict} |")
    return "\n".join(out)


def workload(res: Result) -> str:
    parts = [
        f"## {res.key}: {res.title}",
        res.setup,
        res.check,
        table(res.rows),
        *res.extra,
        "Targets: "
        + "; ".join(f"{t.text}: {t.measured}, {'met' if t.met else 'missed'}" for t in res.targets)
        + ".",
    ]
    return "\n\n".join(parts)


def document(head: str, results: list[Result], tail: str) -> str:
    body = [head, "## Verdicts", verdicts(results), *(workload(r) for r in results)]
    if tail:
        body.append(tail)
    return "\n\n".join(body).rstrip() + "\n"
