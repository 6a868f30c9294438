"""Container logs for `kubectl logs`: the node's per-run log files, served as the pods/log subresource.

Guarantees:
1. The container is the `container` parameter or the pod's only container; otherwise the answer is a 400
   Status naming the choices, as kube-apiserver words it.
2. `previous=true` serves the run before the current one (400 when there is none); `tailLines` keeps the
   last N lines and `limitBytes` the first N bytes.
3. `follow=true` streams what is appended until that run of the container ends or the client goes away
   (the file is re-read every 0.2 s).

Not guaranteed: `timestamps`, `sinceSeconds`, `sinceTime` (accepted and ignored).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from .pods import PodRunner

_FOLLOW_POLL_S = 0.2


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
    run = c.view.restart_count - (1 if query.get("previous") in ("true", "1") else 0)
    path = runner.log_path(c, run)
    if run < 0:
        return _status(400, "BadRequest", f'previous terminated container "{c.view.name}" in pod "{name}" not found')
    if not path.exists():
        return _status(400, "BadRequest", f'container "{c.view.name}" in pod "{name}" is waiting to start: '
                       f"{c.view.reason or 'ContainerCreating'}")
    data = path.read_bytes()
    if "tailLines" in query:
        data = tail(data, int(query["tailLines"]))
    if "limitBytes" in query:
        data = data[:int(query["limitBytes"])]
    follow = query.get("follow") in ("true", "1") and run == c.view.restart_count
    if not follow:
        return web.Response(body=data, content_type="text/plain")
    proc = c.proc

    def still_running() -> bool:
        return proc is not None and proc.returncode is None and c.view.restart_count == run

    return web.Response(body=_follow(data, path, path.stat().st_size, still_running), content_type="text/plain")


async def _follow(first: bytes, path: Path, offset: int, still_running: Callable[[], bool]) -> AsyncIterator[bytes]:
    if first:
        yield first
    while True:
        with path.open("rb") as f:
            f.seek(offset)
            chunk = f.read()
        if chunk:
            offset += len(chunk)
            yield chunk
        elif not still_running():
            return
        else:
            await asyncio.sleep(_FOLLOW_POLL_S)
