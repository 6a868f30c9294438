"""The node's exec sessions run as local processes (no pod namespaces: `enter` is empty), as pods/exec drives them."""

from __future__ import annotations

import asyncio
import os

from e2e.localcluster.node.exec import ExecSession


async def collect(session: ExecSession) -> list[tuple[int, bytes]]:
    out = []
    async with asyncio.timeout(10):
        while (item := await session.output()) is not None:
            out.append(item)
    return out


async def test_stdout_and_stderr_come_apart_and_the_exit_code_after_them() -> None:
    session = await ExecSession.start([], ["sh", "-c", "echo out; echo err >&2; exit 3"], dict(os.environ),
                                      stdin=False, tty=False)
    try:
        items = await collect(session)
        assert sorted(items) == [(1, b"out\n"), (2, b"err\n")]
        assert await session.wait() == 3
    finally:
        await session.cancel()


async def test_a_terminal_session_sizes_its_pty_and_reads_stdin_as_typed() -> None:
    session = await ExecSession.start([], ["sh", "-c", "read line; stty size; tty; echo got $line; exit 2"],
                                      dict(os.environ), stdin=True, tty=True)
    try:
        session.resize(100, 30)
        await session.stdin(b"typed\r")
        text = b"".join(data for _, data in await collect(session))
        assert b"30 100\r\n" in text and b"/dev/pts/" in text and b"got typed\r\n" in text
        assert await session.wait() == 2
    finally:
        await session.cancel()


async def test_output_larger_than_the_queue_arrives_whole_and_in_order() -> None:
    script = "for i in $(seq 1 200000); do echo line $i; done"  # about 2.5 MiB, far more than 16 chunks
    session = await ExecSession.start([], ["sh", "-c", script], dict(os.environ), stdin=False, tty=False)
    try:
        text = b"".join(data for _, data in await collect(session))
        assert text == b"".join(b"line %d\n" % i for i in range(1, 200001))
        assert await session.wait() == 0
    finally:
        await session.cancel()


async def test_cancel_kills_a_command_that_still_runs() -> None:
    session = await ExecSession.start([], ["sleep", "60"], dict(os.environ), stdin=True, tty=False)
    await session.cancel()
    assert await session.wait() == 128 + 9
    assert await session.output() is None
    await session.cancel()  # idempotent
