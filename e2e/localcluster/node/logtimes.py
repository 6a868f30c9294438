"""When each part of a container's log was written: the times `kubectl logs --since` and `--timestamps` read.

Containers append to their log file directly; `record()` notes, beside it (`<run>.times`, one
`<offset> <end> <unix time>` line per growth seen), where new bytes began and ended and when they were seen.

Guarantees:
1. `record()` adds a mark for the run's start (offset 0, or the file's size if it exists), then one for every
   growth of the file it sees, at most `poll_s` after the bytes were written, until `still_running()` turns
   false, and one last look after. Marks are in increasing offset and time.
2. `line_times(data, marks)` gives each line of `data` (a log from offset 0) the time of the last mark at or
   before the line's first byte (the first mark's time for bytes before it); pure. `read_marks(path, size,
   now)` gives bytes past the last growth `record()` saw the time `now`: they were written since.
3. `since_offset(data, marks, since)` is the offset of the first line whose time is `since` or later
   (`len(data)` when there is none); `stamp(lines)` prefixes each line with its time as kubectl shows it
   (RFC 3339 with nanoseconds, UTC: `2026-12-07T01:02:03.123456789Z `); pure.

Not guaranteed: times finer than `poll_s` (a line's time is when the node saw it, as a runtime's is when it
read it); marks of a run whose file was removed.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

Mark = tuple[int, float]  # (offset, unix time)


def times_path(log_path: Path) -> Path:
    return log_path.with_suffix(".times")


def read_marks(log_path: Path, size: int, now: float) -> list[Mark]:
    """The marks of a log that is `size` bytes long now (guarantee 2)."""
    marks: list[Mark] = []
    end = 0
    with contextlib.suppress(OSError):
        for line in times_path(log_path).read_text().splitlines():
            with contextlib.suppress(ValueError):
                offset, seen_end, at = line.split()
                marks.append((int(offset), float(at)))
                end = int(seen_end)
    if size > end:
        marks.append((end, now))
    return marks


async def record(log_path: Path, still_running: Callable[[], bool], *, poll_s: float = 0.5,
                 now: Callable[[], float] = time.time) -> None:
    """Note when the log grows (guarantee 1); returns once the run ended."""
    seen = _size(log_path)
    with times_path(log_path).open("a") as out:
        out.write(f"{seen} {seen} {now():.6f}\n")
        out.flush()
        running = True
        while running:
            running = still_running()
            if running:
                await asyncio.sleep(poll_s)
            if (size := _size(log_path)) > seen:
                out.write(f"{seen} {size} {now():.6f}\n")
                out.flush()
                seen = size


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def line_times(data: bytes, marks: Sequence[Mark]) -> list[tuple[bytes, float]]:
    offsets = [m[0] for m in marks]
    out, offset = [], 0
    for line in data.splitlines(keepends=True):
        i = bisect.bisect_right(offsets, offset) - 1
        out.append((line, marks[max(i, 0)][1] if marks else 0.0))
        offset += len(line)
    return out


def since_offset(data: bytes, marks: Sequence[Mark], since: float) -> int:
    offset = 0
    for line, at in line_times(data, marks):
        if at >= since:
            return offset
        offset += len(line)
    return len(data)


def format_time(at: float) -> str:
    whole = int(at)
    nanos = round((at - whole) * 1e9)
    if nanos >= 1_000_000_000:
        whole, nanos = whole + 1, nanos - 1_000_000_000
    return datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos:09d}Z"


def stamp(lines: Sequence[tuple[bytes, float]]) -> bytes:
    return b"".join(format_time(at).encode() + b" " + line for line, at in lines)
