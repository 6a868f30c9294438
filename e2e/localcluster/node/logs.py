"""Container logs for `kubectl logs`: the node's per-run log files, served as the pods/log subresource.

Guarantees:
1. The container is the `container` parameter or the pod's only container; otherwise the answer is a 400
   Status naming the choices, as kube-apiserver words it.
2. `previous=true` serves the run before the current one (400 when there is none); `sinceSeconds` or
   `sinceTime` (RFC 3339) keep the lines written since then (by the times logtimes.py noted), then `tailLines`
   keeps the last N lines and `limitBytes` the first N bytes; `timestamps=true` starts each line with its time
   (RFC 3339, nanoseconds, UTC), as the kubelet does. Bad values are kube's 422 (`PodLogOptions "p" is
   invalid: ...`) or 400 (not a number, not a time, both `sinceTime` and `sinceSeconds`).
3. `follow=true` streams what is appended until that run of the container ends or the client goes away
   (the file is re-read every 0.2 s; with `timestamps`, a line is stamped when it is complete, or at the end).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from . import logtimes

if TYPE_CHECKING:
    from .pods import PodRunner

_FOLLOW_POLL_S = 0.2
_TRUE = ("true", "1")


class LogOptionsError(ValueError):
    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message


def _status(code: int, reason: str, message: str) -> web.Response:
    return web.json_response({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                              "message": message, "reason": reason, "code": code}, status=code)


def tail(data: bytes, lines: int) -> bytes:
    if lines < 0:
        return data
    if lines == 0:
        return b""
    parts = data.splitlines(keepends=True)
    return b"".join(parts[-lines:])


def _int(query: Mapping[str, str], key: str) -> int | None:
    if key not in query:
        return None
    try:
        return int(query[key])
    except ValueError:
        raise LogOptionsError(400, "BadRequest", f'invalid value for {key}: strconv.ParseInt: parsing '
                              f'"{query[key]}": invalid syntax') from None


def since_time(name: str, query: Mapping[str, str], now: float) -> float | None:
    """The unix time `sinceSeconds` or `sinceTime` asks for, None without either (pure)."""
    seconds, stamp = _int(query, "sinceSeconds"), query.get("sinceTime")
    if seconds is not None and stamp is not None:
        raise LogOptionsError(400, "BadRequest", "at most one of `sinceTime` or `sinceSeconds` may be specified")
    if seconds is not None:
        if seconds < 1:
            raise LogOptionsError(422, "Invalid", f'PodLogOptions "{name}" is invalid: sinceSeconds: Invalid '
                                  f"value: {seconds}: must be greater than 0")
        return now - seconds
    if stamp is not None:
        try:
            return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
        except ValueError:
            raise LogOptionsError(400, "BadRequest", f'parsing time "{stamp}" as "2006-01-02T15:04:05Z07:00": '
                                  "cannot parse") from None
    return None


def select(data: bytes, marks: list[logtimes.Mark], query: Mapping[str, str], name: str, now: float) -> bytes:
    """What a non-following request gets of a run's log `data` (guarantee 2; pure)."""
    tail_lines, limit = _int(query, "tailLines"), _int(query, "limitBytes")
    if tail_lines is not None and tail_lines < 0:
        raise LogOptionsError(422, "Invalid", f'PodLogOptions "{name}" is invalid: tailLines: Invalid value: '
                              f"{tail_lines}: must be greater than or equal to 0")
    if limit is not None and limit < 1:
        raise LogOptionsError(422, "Invalid", f'PodLogOptions "{name}" is invalid: limitBytes: Invalid value: '
                              f"{limit}: must be greater than 0")
    lines = logtimes.line_times(data, marks)
    since = since_time(name, query, now)
    if since is not None:
        lines = [(line, at) for line, at in lines if at >= since]
    if tail_lines is not None:
        lines = lines[-tail_lines:] if tail_lines else []
    out = logtimes.stamp(lines) if query.get("timestamps") in _TRUE else b"".join(line for line, _ in lines)
    return out[:limit] if limit is not None else out


def serve_logs(runner: PodRunner | None, name: str, query: Mapping[str, str]) -> web.Response:
    if runner is None:
        return _status(400, "BadRequest", f'pod "{name}" has no containers running on this node yet')
    names = [c.view.name for c in runner.containers]
    wanted = query.get("container") or None
    c = runner.container(wanted)
    if c is None:
        if wanted is None:
            return _status(400, "BadRequest", f"a container name must be specified for pod {name}, choose one "
                           f"of: [{' '.join(names)}]")
        return _status(400, "BadRequest", f"container {wanted} is not valid for pod {name}")
    run = c.view.restart_count - (1 if query.get("previous") in _TRUE else 0)
    path = runner.log_path(c, run)
    if run < 0:
        return _status(400, "BadRequest", f'previous terminated container "{c.view.name}" in pod "{name}" not found')
    if not path.exists():
        return _status(400, "BadRequest", f'container "{c.view.name}" in pod "{name}" is waiting to start: '
                       f"{c.view.reason or 'ContainerCreating'}")
    raw = path.read_bytes()
    now = time.time()
    try:
        data = select(raw, logtimes.read_marks(path, len(raw), now), query, name, now)
    except LogOptionsError as exc:
        return _status(exc.code, exc.reason, exc.message)
    follow = query.get("follow") in _TRUE and run == c.view.restart_count
    if not follow:
        return web.Response(body=data, content_type="text/plain")
    proc = c.proc

    def still_running() -> bool:
        return proc is not None and proc.returncode is None and c.view.restart_count == run

    stamped = query.get("timestamps") in _TRUE
    return web.Response(body=_follow(data, path, len(raw), still_running, stamped), content_type="text/plain")


async def _follow(first: bytes, path: Path, offset: int, still_running: Callable[[], bool],
                  stamped: bool) -> AsyncIterator[bytes]:
    if first:
        yield first
    partial = b""
    while True:
        with path.open("rb") as f:
            f.seek(offset)
            chunk = f.read()
        ended = not chunk and not still_running()
        if chunk:
            offset += len(chunk)
            if not stamped:
                yield chunk
                continue
            partial += chunk
            complete, _, partial = partial.rpartition(b"\n")
            if complete:
                yield logtimes.stamp(logtimes.line_times(complete + b"\n", [(0, time.time())]))
            continue
        if ended:
            if partial:
                yield logtimes.stamp([(partial, time.time())])
            return
        await asyncio.sleep(_FOLLOW_POLL_S)
