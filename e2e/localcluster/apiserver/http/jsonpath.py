"""The JSONPath subset that CRD additionalPrinterColumns use, evaluated like kube's jsonpath with missing keys allowed.

Guarantees:
1. Supported: `.field` (with `\\.` escapes), `['field']`, `[N]` and `[-N]`, `[start:end]`, `[*]`, `.*`, and filters
   `[?(@.a.b OP literal)]` with OP in == != < > <= >= (or `[?(@.a)]` for existence); surrounding `{...}` and a
   leading `$` are accepted.
2. `find_results` returns every match in document order; a missing key, an index out of range or a type
   mismatch yields no result for that branch, never an exception.
3. `parse` raises `ValueError` for syntax it does not support, so a bad column is caught when the CRD is read.

Not guaranteed: recursive descent (`..`), unions (`[a,b]`), functions, `range`/`end` templates.

Pure and synchronous: any task may call any function.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_MISSING = object()


@dataclass(frozen=True)
class _Field:
    name: str  # "*" for every value of a map


@dataclass(frozen=True)
class _Index:
    start: int | None
    end: int | None
    single: bool  # [N] rather than [a:b] or [*]


@dataclass(frozen=True)
class _Filter:
    path: tuple[_Field | _Index, ...]
    op: str  # "" for existence
    literal: Any


_Step = _Field | _Index | _Filter
CompiledPath = tuple[_Step, ...]
_FILTER = re.compile(r"^\?\(\s*@((?:\.[^\s=!<>]+)*)\s*(?:(==|!=|<=|>=|<|>)\s*(.+?))?\s*\)$")


def parse(expr: str) -> CompiledPath:
    text = expr.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    if text.startswith("$"):
        text = text[1:]
    steps: list[_Step] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == ".":
            if text[i + 1:i + 2] == ".":
                raise ValueError(f"recursive descent is not supported: {expr}")
            i += 1
            name, i = _read_name(text, i)
            if not name:
                raise ValueError(f"empty field name in {expr}")
            steps.append(_Field(name))
        elif c == "[":
            close = _matching_bracket(text, i)
            steps.append(_bracket(text[i + 1:close].strip(), expr))
            i = close + 1
        else:
            raise ValueError(f"unexpected {c!r} in JSONPath {expr}")
    return tuple(steps)


def _read_name(text: str, i: int) -> tuple[str, int]:
    out = []
    while i < len(text) and text[i] not in ".[":
        if text[i] == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
            continue
        out.append(text[i])
        i += 1
    return "".join(out), i


def _matching_bracket(text: str, start: int) -> int:
    depth = 0
    quote = ""
    for j in range(start, len(text)):
        c = text[j]
        if quote:
            if c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif c == "[":
            depth += 1
        elif c == "]":
            depth -= 1
            if depth == 0:
                return j
    raise ValueError(f"unclosed '[' in JSONPath {text}")


def _bracket(inner: str, expr: str) -> _Step:
    if inner == "*":
        return _Index(None, None, single=False)
    if len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"":
        return _Field(inner[1:-1])
    if inner.startswith("?"):
        m = _FILTER.match(inner)
        if not m:
            raise ValueError(f"unsupported filter in JSONPath {expr}")
        sub = parse(m.group(1)) if m.group(1) else ()
        if any(isinstance(s, _Filter) for s in sub):
            raise ValueError(f"nested filters are not supported: {expr}")
        literal = _literal(m.group(3)) if m.group(2) else None
        return _Filter(tuple(s for s in sub if not isinstance(s, _Filter)), m.group(2) or "", literal)
    if ":" in inner:
        start, _, end = inner.partition(":")
        end = end.split(":")[0]
        return _Index(int(start) if start.strip() else None, int(end) if end.strip() else None, single=False)
    try:
        return _Index(int(inner), None, single=True)
    except ValueError:
        raise ValueError(f"unsupported subscript [{inner}] in JSONPath {expr}") from None


def _literal(text: str) -> Any:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    try:
        return json.loads(text)
    except ValueError:
        return text


def find_results(expr: str | CompiledPath, obj: Any) -> list[Any]:
    """Every value the path selects in `obj` (guarantee 2)."""
    steps = parse(expr) if isinstance(expr, str) else expr
    current = [obj]
    for step in steps:
        current = [out for value in current for out in _apply(step, value)]
    return current


def _apply(step: _Step, value: Any) -> list[Any]:
    if isinstance(step, _Field):
        if not isinstance(value, Mapping):
            return []
        if step.name == "*":
            return list(value.values())
        return [value[step.name]] if step.name in value else []
    if isinstance(step, _Index):
        if not isinstance(value, list):
            return []
        if step.single:
            assert step.start is not None
            idx = step.start + len(value) if step.start < 0 else step.start
            return [value[idx]] if 0 <= idx < len(value) else []
        return value[step.start:step.end]
    if not isinstance(value, list):
        return []
    return [item for item in value if _matches(step, item)]


def _matches(flt: _Filter, item: Any) -> bool:
    found = find_results(flt.path, item) if flt.path else [item]
    if not flt.op:
        return bool(found)
    if not found:
        return False
    left = found[0]
    right = flt.literal
    if flt.op in ("==", "!="):
        equal = _comparable(left) == _comparable(right)
        return equal if flt.op == "==" else not equal
    try:
        if flt.op == "<":
            return bool(left < right)
        if flt.op == ">":
            return bool(left > right)
        if flt.op == "<=":
            return bool(left <= right)
        return bool(left >= right)
    except TypeError:
        return False


def _comparable(value: Any) -> Any:
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        return ("number", float(value))
    return ("other", json.dumps(value, sort_keys=True))
