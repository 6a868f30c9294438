"""`kubectl exec` on the node: a command run in a pod's namespaces, with the container's environment.

Guarantees:
1. `ExecSession.start(enter, command, env, stdin=, tty=)` runs `enter + command` (`enter` is the sandbox's
   nsenter prefix: the pod's network, PID, mount and UTS namespaces and the container's working directory) in
   a session of its own, with `env` (plus `TERM=xterm` on a terminal when `env` names none, as container
   runtimes set it).
2. Without a terminal, stdout and stderr are read apart and handed out by `output()` as (1, bytes) and
   (2, bytes), each in the order written; with `tty=True` the command gets a new pty as stdin, stdout and
   stderr and as the controlling terminal of a session it leads inside the pod (`on_terminal`), whose output
   is (1, bytes). `output()` returns None once every output stream ended and all was handed out; at most 16
   chunks wait for it, then the command's writes block, as on a full pipe.
3. `stdin(data)` writes to the command's stdin (with flow control); `stdin(None)` closes it (a terminal gets
   Ctrl-D, its end-of-file). Without `stdin=True` the command reads an empty stdin.
4. `resize(w, h)` sets the terminal's size (TIOCSWINSZ; the foreground process gets SIGWINCH); without a
   terminal it does nothing.
5. `wait()` returns the exit code (128+N for a death by signal N). `cancel()` (idempotent) SIGKILLs the
   command's process group if it still runs and hangs up its terminal (SIGHUP to the session on it), then
   releases every descriptor; no task outlives it.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
import struct
import termios
from collections.abc import Mapping, Sequence

_CHUNK = 64 * 1024
_QUEUED_CHUNKS = 16
_EOT = b"\x04"


def on_terminal(command: Sequence[str]) -> list[str]:
    """`command` as the leader of a session of its own whose controlling terminal is its stdin (a pty), made
    inside the pod's PID namespace, as a container runtime starts a tty process: a shell's job control then
    finds its terminal's process group among the pod's processes (`sh` ends with `Cannot set tty process
    group` otherwise)."""
    return ["setsid", "--ctty", "--wait", "--", *command]


def set_window_size(fd: int, width: int, height: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))


class PtyStreams:
    """A reader and a writer over a pty's master side; each owns a descriptor of its own (`master` is kept)."""

    def __init__(self, reader: asyncio.StreamReader, read_transport: asyncio.ReadTransport,
                 writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer, self._read_transport = reader, writer, read_transport

    @classmethod
    async def open(cls, master: int) -> PtyStreams:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=_CHUNK)
        read_fd, write_fd = os.dup(master), os.dup(master)
        read_transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader),
                                                         os.fdopen(read_fd, "rb", 0))
        transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin,
                                                            os.fdopen(write_fd, "wb", 0))
        return cls(reader, read_transport, asyncio.StreamWriter(transport, protocol, None, loop))

    def close(self) -> None:
        self._read_transport.close()
        if not self.writer.is_closing():
            self.writer.close()


async def read_chunk(reader: asyncio.StreamReader) -> bytes:
    """The next bytes; b"" at the end. A pty's master reads EIO once the last slave holder closed: its end."""
    try:
        return await reader.read(_CHUNK)
    except OSError:
        return b""


class ExecSession:
    def __init__(self, proc: asyncio.subprocess.Process, *, master: int | None, pty: PtyStreams | None,
                 writer: asyncio.StreamWriter | None, readers: Sequence[tuple[int, asyncio.StreamReader]]) -> None:
        self._proc = proc
        self._master = master
        self._pty = pty
        self._writer = writer
        # bounded: a client that reads slowly holds the command back, as a full pipe would
        self._queue: asyncio.Queue[tuple[int, bytes]] = asyncio.Queue(maxsize=_QUEUED_CHUNKS)
        self._open = len(readers)
        self._ended = asyncio.Event()
        self._pumps = [asyncio.create_task(self._pump(channel, r), name=f"exec-out-{channel}")
                       for channel, r in readers]
        self._cancelled = False
        if not readers:
            self._ended.set()

    @classmethod
    async def start(cls, enter: Sequence[str], command: Sequence[str], env: Mapping[str, str], *, stdin: bool,
                    tty: bool) -> ExecSession:
        env = dict(env)
        if not tty:
            proc = await asyncio.create_subprocess_exec(
                *enter, *command, env=env, stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True)
            assert proc.stdout is not None and proc.stderr is not None
            return cls(proc, master=None, pty=None, writer=proc.stdin,
                       readers=[(1, proc.stdout), (2, proc.stderr)])
        env.setdefault("TERM", "xterm")
        master, slave = os.openpty()
        try:
            proc = await asyncio.create_subprocess_exec(
                *enter, *on_terminal(command), env=env, stdin=slave, stdout=slave, stderr=slave,
                start_new_session=True)
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        pty = await PtyStreams.open(master)
        return cls(proc, master=master, pty=pty, writer=pty.writer if stdin else None, readers=[(1, pty.reader)])

    async def _pump(self, channel: int, reader: asyncio.StreamReader) -> None:
        try:
            while chunk := await read_chunk(reader):
                await self._queue.put((channel, chunk))
        finally:
            self._open -= 1
            if self._open == 0:
                self._ended.set()

    async def output(self) -> tuple[int, bytes] | None:
        while self._queue.empty():
            if self._ended.is_set():
                return None
            more = asyncio.ensure_future(self._queue.get())
            ended = asyncio.ensure_future(self._ended.wait())
            await asyncio.wait({more, ended}, return_when=asyncio.FIRST_COMPLETED)
            ended.cancel()
            if more.done():
                return more.result()
            more.cancel()
            await asyncio.wait({more})
            if more.done() and not more.cancelled():
                return more.result()
        return self._queue.get_nowait()

    async def stdin(self, data: bytes | None) -> None:
        writer = self._writer
        if writer is None or writer.is_closing():
            return
        try:
            if data is None:
                if self._master is not None:
                    writer.write(_EOT)
                    await writer.drain()
                else:
                    writer.close()
                return
            writer.write(data)
            await writer.drain()
        except (ConnectionError, OSError):
            self._writer = None  # the command closed its stdin; what follows is dropped, as a pipe would

    def resize(self, width: int, height: int) -> None:
        if self._master is not None:
            with contextlib.suppress(OSError):
                set_window_size(self._master, width, height)

    async def wait(self) -> int:
        rc = await self._proc.wait()
        return rc if rc >= 0 else 128 - rc

    async def cancel(self) -> None:
        if self._cancelled:
            return
        self._cancelled = True
        if self._proc.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._proc.pid, signal.SIGKILL)
        # descriptors first, without awaiting, so a cancelled caller still releases them
        if self._writer is not None and not self._writer.is_closing():
            self._writer.close()
        if self._pty is not None:
            self._pty.close()
        if self._master is not None:
            os.close(self._master)  # the last master descriptor: the terminal hangs up
            self._master = None
        for task in self._pumps:
            task.cancel()
        self._ended.set()  # a pump cancelled before it ran never reaches its own end
        await asyncio.gather(*self._pumps, return_exceptions=True)
        await self._proc.wait()
