"""Children that die with their parent: Linux's parent-death signal, set in the child before it runs its program.

Guarantees:
1. `die_with_parent(sig)` returns a `preexec_fn` for `subprocess`/`asyncio.create_subprocess_exec`: the child
   asks the kernel (`prctl(PR_SET_PDEATHSIG, sig)`) for `sig` when its parent ends, however the parent ends
   (SIGKILL included). It survives the `exec` of the child's program (not of a set-user-ID one).
2. A parent that is already gone when the child sets it (the race between `fork` and `prctl`) is noticed:
   the child sends itself `sig` at once.
3. `set_parent_death_signal()` raises `OSError` when the kernel refuses; off Linux it raises `OSError` too.

Caller must: fork from the thread that lives as long as the parent should (the kernel sends the signal when
the forking *thread* ends): the main thread or the asyncio loop's thread.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1


def set_parent_death_signal(sig: int) -> None:
    """Ask for `sig` when this process's parent ends."""
    name = ctypes.util.find_library("c")
    if name is None:
        raise OSError("no C library to call prctl from")
    libc = ctypes.CDLL(name, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"prctl(PR_SET_PDEATHSIG): {os.strerror(errno)}")


def die_with_parent(sig: int = signal.SIGKILL, then: Callable[[], None] | None = None) -> Callable[[], None]:
    """A `preexec_fn` that makes the child receive `sig` when the process creating it ends; `then` runs after."""
    parent = os.getpid()
    libc_name = ctypes.util.find_library("c")  # looked up before the fork: the child only calls prctl
    if libc_name is None:
        raise OSError("no C library to call prctl from")
    libc = ctypes.CDLL(libc_name, use_errno=True)

    def preexec() -> None:
        if libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        if os.getppid() != parent:
            os.kill(os.getpid(), sig)
        if then is not None:
            then()

    return preexec
