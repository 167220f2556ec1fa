"""What "quiet" means on a stream (issue 17, point 8): no tqdm bar and each line once."""

from __future__ import annotations

from collections import Counter

# what a tqdm bar leaves on a stream: a carriage return redraw, its bar and its rate
TQDM_MARKS = ("\r", "it/s]", "s/it]", "%|", "Creating issues")


def assert_quiet(stream: str, *, ignore: tuple[str, ...] = ()) -> None:
    """No progress bar on ``stream`` and no line printed twice (lines containing one of
    ``ignore``, such as a server's access log of repeated polls, are not counted)."""
    for mark in TQDM_MARKS:
        assert mark not in stream, f"{mark!r} on the stream:\n{stream}"
    lines = [line for line in stream.splitlines() if line.strip()]
    lines = [line for line in lines if not any(part in line for part in ignore)]
    twice = [line for line, n in Counter(lines).items() if n > 1]
    assert twice == [], f"printed more than once: {twice}\n{stream}"
