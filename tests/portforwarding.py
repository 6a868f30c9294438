"""`kubectl port-forward` as a user runs it, for tests: started, waited for until it listens, stopped with Ctrl-C."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

_LISTENING = re.compile(r"Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)")


@dataclass
class PortForward:
    """A running `kubectl port-forward`; `local_port` is where it listens, `exit_code` is set once it ended."""

    proc: asyncio.subprocess.Process
    local_port: int
    remote_port: int
    stdout: list[str] = field(default_factory=list)
    exit_code: int | None = None
    stderr: str = ""

    async def wait(self, timeout_s: float = 30.0) -> int:
        """Wait for kubectl to exit on its own; its remaining output is collected."""
        out, err = await asyncio.wait_for(self.proc.communicate(), timeout_s)
        self.stdout += out.decode().splitlines()
        self.stderr += err.decode()
        self.exit_code = self.proc.returncode
        return self.exit_code or 0

    async def interrupt(self, timeout_s: float = 30.0) -> int:
        """Ctrl-C, as a user stops it (kubectl handles SIGINT only; SIGTERM would just kill it)."""
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGINT)
        return await self.wait(timeout_s)


async def run_port_forward(kubectl: str, kubeconfig: Path, *args: str, timeout_s: float = 60.0) -> PortForward:
    """Start `kubectl port-forward ARGS` and return once it prints that it listens (or fail with its stderr)."""
    proc = await asyncio.create_subprocess_exec(
        kubectl, "--kubeconfig", str(kubeconfig), "port-forward", "--address", "127.0.0.1", *args,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "KUBECACHEDIR": str(kubeconfig.parent / "kubectl-cache")})
    assert proc.stdout is not None and proc.stderr is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(timeout_s):
            while raw := await proc.stdout.readline():
                lines.append(raw.decode().rstrip("\n"))
                if _LISTENING.search(lines[-1]):
                    break
    except TimeoutError:
        proc.kill()
    found = _LISTENING.search(lines[-1]) if lines else None
    if found is None:
        _, err = await asyncio.wait_for(proc.communicate(), 30)
        raise AssertionError(f"kubectl port-forward {' '.join(args)} did not listen (exit {proc.returncode}): "
                             f"{err.decode()}{chr(10).join(lines)}")
    return PortForward(proc, int(found.group(1)), int(found.group(2)), lines)


@asynccontextmanager
async def port_forward(kubectl: str, kubeconfig: Path, *args: str) -> AsyncIterator[PortForward]:
    """`kubectl port-forward ARGS` for the block's duration; stopped with Ctrl-C after it unless it ended."""
    pf = await run_port_forward(kubectl, kubeconfig, *args)
    try:
        yield pf
    finally:
        if pf.exit_code is None:
            if pf.proc.returncode is None:
                await pf.interrupt()
            else:
                await pf.wait()


async def http_get(port: int, path: str = "/", timeout_s: float = 20.0) -> tuple[int, bytes]:
    """One HTTP/1.0 GET to 127.0.0.1:port; the status code and the body."""
    async with asyncio.timeout(timeout_s):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(f"GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n".encode())
            await writer.drain()
            raw = await reader.read()
        finally:
            writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/"), f"not an HTTP answer: {raw[:200]!r}"
    return int(head.split()[1]), body


async def echo_round_trip(port: int, size: int, timeout_s: float = 60.0) -> tuple[str, str]:
    """Send `size` bytes to an echo server behind `port` and read as many back: both SHA-256 digests."""
    payload = os.urandom(size)
    async with asyncio.timeout(timeout_s):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            async def send() -> None:
                for i in range(0, size, 64 * 1024):
                    writer.write(payload[i:i + 64 * 1024])
                    await writer.drain()

            sender = asyncio.create_task(send())
            back = await reader.readexactly(size)
            await sender
        finally:
            writer.close()
    return hashlib.sha256(payload).hexdigest(), hashlib.sha256(back).hexdigest()
