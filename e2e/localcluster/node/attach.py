"""`kubectl attach` and `kubectl run -i --tty` on the node: a container's stdin and terminal, kept for attaching.

Guarantees:
1. `spawn_container` starts a container as `PodSandbox.spawn` does; a container with `tty: true` gets a pty of
   its own as controlling terminal (stdin, stdout, stderr), a container with `stdin: true` (no tty) a stdin
   pipe the node keeps open: both live as long as that run of the container (a `ContainerTerminal`), so an
   attach made at any time finds them. Other containers get no terminal (stdin empty), as before.
2. A terminal's output is appended to the run's log file (so `kubectl logs` shows it) and handed to every
   attached client from the moment it attached; nothing is buffered for clients that are not attached, and a
   slow client never holds the container back (its queue grows instead).
3. `AttachSession` (one client): stdin reaches the container's stdin (pty or pipe; dropped for a container
   without stdin), resize sizes its pty; output is the terminal's (tty) or, without a tty, what the container
   appends to its log from the moment of attaching (re-read every 0.2 s); it ends when that run of the
   container ends. The end of a client's stdin detaches it (its output ends), except for a container with
   `stdinOnce` and no tty, whose stdin is closed then, as containerd's attach does; `cancel()` detaches. Either
   way the container goes on running.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .exec import PtyStreams, read_chunk, set_window_size
from .sandbox import PodSandbox

_FOLLOW_POLL_S = 0.2


class ContainerTerminal:
    """The stdin (and pty, with `tty`) of one run of a container."""

    def __init__(self, *, tty: bool, stdin_once: bool, log_path: Path) -> None:
        self.tty = tty
        self.stdin_once = stdin_once
        self.log_path = log_path
        self._master: int | None = None
        self._child: int | None = None  # the container's end (slave, or the pipe's read end) until spawned
        self._writer_fd: int | None = None
        self._pty: PtyStreams | None = None
        self._pipe: asyncio.StreamWriter | None = None
        self._clients: set[asyncio.Queue[bytes | None]] = set()
        self._pump: asyncio.Task[None] | None = None
        self.ended = asyncio.Event()

    @classmethod
    def open(cls, spec: Mapping[str, Any], log_path: Path) -> ContainerTerminal:
        t = cls(tty=bool(spec.get("tty")), stdin_once=bool(spec.get("stdinOnce")), log_path=log_path)
        if t.tty:
            t._master, t._child = os.openpty()
        else:
            t._child, t._writer_fd = os.pipe()
        return t

    def child_stdio(self) -> tuple[int, int | None]:
        """The container's stdin and, for a tty, its stdout and stderr (None: the log file)."""
        assert self._child is not None
        return self._child, self._child if self.tty else None

    async def started(self) -> None:
        """After the spawn: drop the container's end here and start serving ours."""
        if self._child is not None:
            os.close(self._child)
            self._child = None
        if self._master is not None:
            self._pty = await PtyStreams.open(self._master)
            self._pump = asyncio.create_task(self._read(self._pty.reader), name=f"tty-{self.log_path}")
        elif self._writer_fd is not None:
            loop = asyncio.get_running_loop()
            fd, self._writer_fd = self._writer_fd, None
            transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin,
                                                                os.fdopen(fd, "wb", 0))
            self._pipe = asyncio.StreamWriter(transport, protocol, None, loop)

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            with self.log_path.open("ab") as log:
                while chunk := await read_chunk(reader):
                    log.write(chunk)
                    log.flush()
                    for q in self._clients:
                        q.put_nowait(chunk)
        finally:
            self._end()

    def _end(self) -> None:
        self.ended.set()
        for q in self._clients:
            q.put_nowait(None)

    def subscribe(self) -> asyncio.Queue[bytes | None]:
        q: asyncio.Queue[bytes | None] = asyncio.Queue()
        if self.ended.is_set():
            q.put_nowait(None)
        self._clients.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue[bytes | None]) -> None:
        self._clients.discard(q)

    @property
    def _stdin(self) -> asyncio.StreamWriter | None:
        return self._pty.writer if self._pty is not None else self._pipe

    async def write(self, data: bytes) -> None:
        writer = self._stdin
        if writer is None or writer.is_closing():
            return
        try:
            writer.write(data)
            await writer.drain()
        except (ConnectionError, OSError):
            pass  # the container closed its stdin; the bytes are dropped, as a pipe's would be

    def close_stdin(self) -> None:
        if self._pty is not None and not self._pty.writer.is_closing():
            self._pty.writer.write(b"\x04")
        elif self._pipe is not None and not self._pipe.is_closing():
            self._pipe.close()

    def resize(self, width: int, height: int) -> None:
        if self._master is not None:
            with contextlib.suppress(OSError):
                set_window_size(self._master, width, height)

    async def close(self, drain_s: float = 2.0) -> None:
        """The run ended: read what is left (bounded), then release every descriptor."""
        if self._pump is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(drain_s):
                    await asyncio.shield(self._pump)
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        for fd in (self._child, self._writer_fd, self._master):
            if fd is not None:
                os.close(fd)
        self._child = self._writer_fd = self._master = None
        if self._pty is not None:
            self._pty.close()
        if self._pipe is not None and not self._pipe.is_closing():
            self._pipe.close()
        self._end()


def wants_terminal(spec: Mapping[str, Any]) -> bool:
    return bool(spec.get("tty") or spec.get("stdin"))


async def spawn_container(sandbox: PodSandbox, argv: Sequence[str], env: Mapping[str, str], workdir: str,
                          log_path: Path, spec: Mapping[str, Any]
                          ) -> tuple[asyncio.subprocess.Process, ContainerTerminal | None]:
    """Start one run of a container (guarantee 1)."""
    if not wants_terminal(spec):
        return await sandbox.spawn(argv, env, workdir, log_path), None
    terminal = ContainerTerminal.open(spec, log_path)
    try:
        stdin, output = terminal.child_stdio()
        if terminal.tty:
            env = {"TERM": "xterm", **env}
        proc = await sandbox.spawn(argv, env, workdir, log_path, stdin=stdin, output=output, tty=terminal.tty)
        await terminal.started()
    except BaseException:
        await terminal.close(0)
        raise
    return proc, terminal


class AttachSession:
    """One client attached to a running container (guarantee 3)."""

    def __init__(self, terminal: ContainerTerminal | None, log_path: Path, still_running: Callable[[], bool],
                 *, stdin: bool) -> None:
        self._terminal = terminal
        self._stdin = stdin and terminal is not None
        self._queue = terminal.subscribe() if terminal is not None and terminal.tty else None
        self._log_path = log_path
        self._offset = log_path.stat().st_size if log_path.exists() else 0
        self._still_running = still_running
        self._done = False
        self._detached = asyncio.Event()

    async def output(self) -> tuple[int, bytes] | None:
        if self._done:
            return None
        source = asyncio.ensure_future(self._queue.get() if self._queue is not None else self._follow())
        detached = asyncio.ensure_future(self._detached.wait())
        await asyncio.wait({source, detached}, return_when=asyncio.FIRST_COMPLETED)
        detached.cancel()
        if not source.done():
            source.cancel()
            await asyncio.wait({source})
            chunk = None
        else:
            chunk = source.result()
        if chunk is None:
            self._done = True
            return None
        return 1, chunk

    def _detach(self) -> None:
        self._detached.set()

    async def _follow(self) -> bytes | None:
        while True:
            with contextlib.suppress(OSError), self._log_path.open("rb") as f:
                f.seek(self._offset)
                chunk = f.read()
                if chunk:
                    self._offset += len(chunk)
                    return chunk
            if not self._still_running():
                return None
            await asyncio.sleep(_FOLLOW_POLL_S)

    async def stdin(self, data: bytes | None) -> None:
        if not self._stdin or self._terminal is None:
            return
        if data is None:
            if self._terminal.stdin_once and not self._terminal.tty:
                self._terminal.close_stdin()
            else:
                self._detach()  # the container's stdin outlives this client
        else:
            await self._terminal.write(data)

    def resize(self, width: int, height: int) -> None:
        if self._terminal is not None:
            self._terminal.resize(width, height)

    async def wait(self) -> int | None:
        return None

    async def cancel(self) -> None:
        self._detach()
        if self._terminal is not None and self._queue is not None:
            self._terminal.unsubscribe(self._queue)
            self._queue = None
