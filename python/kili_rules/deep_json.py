"""JSON at any nesting depth, without recursion: what ``json.loads``/``json.dumps`` do, for
values they refuse with a ``RecursionError`` (about 1,000 levels, fewer deep in a call stack).

A label's depth is the core's to judge (its reader stops at 128 levels of what a rule reads
and skips deeper values that no rule reads), so the Python code around it must carry a label
of any depth to the core intact, and never crash on one. Each function tries the C codec first
(fast, and the only path for ordinary labels) and falls back to an explicit stack.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from json.decoder import JSONDecodeError
from json.encoder import encode_basestring, encode_basestring_ascii
from typing import Any

__all__ = ["TooDeep", "dumps", "loads", "nesting_depth"]

_WS = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"(-?(?:0|[1-9]\d*))(\.\d+)?([eE][-+]?\d+)?")
_LITERALS: tuple[tuple[str, object], ...] = (
    ("null", None),
    ("true", True),
    ("false", False),
    ("NaN", float("nan")),
    ("Infinity", float("inf")),
    ("-Infinity", float("-inf")),
)
_END = object()
# the C string scanner json.loads uses (the same escapes, the same errors)
scanstring: Callable[[str, int, bool], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]


class TooDeep(ValueError):
    """The text nests more containers than the caller's bound (a resource guard)."""

    def __init__(self, max_depth: int) -> None:
        super().__init__(f"nested more than {max_depth} levels deep")
        self.max_depth = max_depth


def loads(text: str | bytes, *, max_depth: int | None = None) -> Any:
    """``json.loads(text)``, also for text nested deeper than it can recurse.

    ``max_depth`` bounds the nesting (``TooDeep``); errors are ``json.JSONDecodeError`` (or
    ``UnicodeDecodeError``), as from ``json.loads``.
    """
    try:
        value = json.loads(text)
    except RecursionError:
        return _loads_iteratively(text, max_depth)
    if max_depth is not None and nesting_depth(value) > max_depth:
        raise TooDeep(max_depth)
    return value


def _loads_iteratively(text: str | bytes, max_depth: int | None) -> Any:
    s = (
        text.decode(json.detect_encoding(text), "surrogatepass")
        if isinstance(text, bytes)
        else text
    )
    limit = max_depth if max_depth is not None else len(s) + 1
    # each frame: the open container and, for an object, the key its next value goes under
    stack: list[tuple[dict[str, Any] | list[Any], str]] = []
    i = _WS.match(s, 0).end()  # type: ignore[union-attr]
    while True:
        value: Any
        ch = s[i : i + 1]
        if ch in ("{", "["):
            if len(stack) >= limit:
                raise TooDeep(limit)
            i = _WS.match(s, i + 1).end()  # type: ignore[union-attr]
            close = "}" if ch == "{" else "]"
            if s[i : i + 1] == close:
                value = {} if ch == "{" else []
                i += 1
            elif ch == "{":
                key, i = _key(s, i)
                stack.append(({}, key))
                continue
            else:
                stack.append(([], ""))
                continue
        elif ch == '"':
            value, i = scanstring(s, i + 1, True)
        else:
            value, i = _scalar(s, i)
        # hand the value to its container; close every container that ends here
        while True:
            if not stack:
                i = _WS.match(s, i).end()  # type: ignore[union-attr]
                if i != len(s):
                    raise JSONDecodeError("Extra data", s, i)
                return value
            container, key = stack[-1]
            if isinstance(container, dict):
                container[key] = value
            else:
                container.append(value)
            i = _WS.match(s, i).end()  # type: ignore[union-attr]
            c = s[i : i + 1]
            if c == ",":
                i = _WS.match(s, i + 1).end()  # type: ignore[union-attr]
                if isinstance(container, dict):
                    key, i = _key(s, i)
                    stack[-1] = (container, key)
                break
            if c == ("}" if isinstance(container, dict) else "]"):
                i += 1
                value = container
                stack.pop()
                continue
            raise JSONDecodeError("Expecting ',' delimiter", s, i)


def _key(s: str, i: int) -> tuple[str, int]:
    """An object's key and the index of its value (after the colon and any whitespace)."""
    if s[i : i + 1] != '"':
        raise JSONDecodeError("Expecting property name enclosed in double quotes", s, i)
    key, i = scanstring(s, i + 1, True)
    i = _WS.match(s, i).end()  # type: ignore[union-attr]
    if s[i : i + 1] != ":":
        raise JSONDecodeError("Expecting ':' delimiter", s, i)
    return key, _WS.match(s, i + 1).end()  # type: ignore[union-attr]


def _scalar(s: str, i: int) -> tuple[Any, int]:
    number = _NUMBER.match(s, i)
    if number is not None:
        integer, frac, exp = number.groups()
        if frac or exp:
            return float(integer + (frac or "") + (exp or "")), number.end()
        return int(integer), number.end()
    for word, value in _LITERALS:
        if s.startswith(word, i):
            return value, i + len(word)
    raise JSONDecodeError("Expecting value", s, i)


def dumps(
    value: object,
    *,
    sort_keys: bool = False,
    ensure_ascii: bool = True,
    separators: tuple[str, str] | None = None,
    default: Callable[[Any], Any] | None = None,
    indent: int | None = None,
) -> str:
    """``json.dumps`` with these options, also for values nested deeper than it can recurse
    (there, ``indent`` is not applied: the text is written on one line).

    Non-JSON values raise ``TypeError`` (or go through ``default``), a circular reference
    ``ValueError``, as from ``json.dumps``.
    """
    try:
        return json.dumps(
            value,
            sort_keys=sort_keys,
            ensure_ascii=ensure_ascii,
            separators=separators,
            default=default,
            indent=indent,
        )
    except RecursionError:
        pass
    item_sep, key_sep = separators or ((",", ": ") if indent is not None else (", ", ": "))
    quote = encode_basestring_ascii if ensure_ascii else encode_basestring
    out: list[str] = []
    # each frame: the iterator over a container's items, whether it is an object, its id
    # (a circular reference is an id already open) and whether an item was written yet
    stack: list[list[Any]] = []
    open_ids: set[int] = set()
    pending: Any = value
    while True:
        if isinstance(pending, (dict, list, tuple)):
            if id(pending) in open_ids:
                raise ValueError("Circular reference detected")
            is_dict = isinstance(pending, dict)
            items: Any = pending.items() if isinstance(pending, dict) else pending
            if is_dict and sort_keys:
                items = sorted(items, key=lambda kv: kv[0])
            out.append("{" if is_dict else "[")
            open_ids.add(id(pending))
            stack.append([iter(items), is_dict, id(pending), True])
        else:
            scalar = _scalar_text(pending, quote)
            if scalar is None:
                if default is None:
                    raise TypeError(
                        f"Object of type {type(pending).__name__} is not JSON serializable"
                    )
                pending = default(pending)
                continue
            out.append(scalar)
        while stack:
            frame = stack[-1]
            item: Any = next(frame[0], _END)
            if item is _END:
                out.append("}" if frame[1] else "]")
                open_ids.discard(frame[2])
                stack.pop()
                continue
            if not frame[3]:
                out.append(item_sep)
            frame[3] = False
            if frame[1]:
                key, pending = item
                out.append(quote(_key_text(key)))
                out.append(key_sep)
            else:
                pending = item
            break
        else:
            return "".join(out)


def _scalar_text(value: object, quote: Callable[[str], str]) -> str | None:
    if isinstance(value, str):
        return quote(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        if value != value:
            return "NaN"
        if value in (float("inf"), float("-inf")):
            return "Infinity" if value > 0 else "-Infinity"
        return float.__repr__(value)
    return None


def _key_text(key: object) -> str:
    if isinstance(key, str):
        return key
    text = _scalar_text(key, str)
    if text is None or isinstance(key, str):
        raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")
    return text


def nesting_depth(value: object) -> int:
    """How many arrays/objects deep ``value`` goes, counted without recursion."""
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children)
    return deepest
