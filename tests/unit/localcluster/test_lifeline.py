"""Children that die with their parent (node/lifeline.py), with real processes: a parent SIGKILLed takes its child."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PARENT = textwrap.dedent("""
    import signal, subprocess, sys
    from e2e.localcluster.node.lifeline import die_with_parent
    sig = getattr(signal, sys.argv[1])
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], preexec_fn=die_with_parent(sig))
    print(child.pid, flush=True)
    signal.pause()
""")


def _child_of_a_killed_parent(sig: str) -> int:
    with subprocess.Popen([sys.executable, "-c", PARENT, sig], cwd=ROOT, stdout=subprocess.PIPE, text=True) as parent:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        pidfd = os.pidfd_open(child)
        try:
            parent.kill()  # no cleanup of its own
            parent.wait(timeout=10)
            ready, _, _ = select.select([pidfd], [], [], 10)
            assert ready == [pidfd], "the child outlived its parent"
        finally:
            os.close(pidfd)
    return child


def test_a_child_gets_sigkill_when_its_parent_is_sigkilled() -> None:
    _child_of_a_killed_parent("SIGKILL")


def test_a_child_gets_sigterm_when_its_parent_is_sigkilled() -> None:
    _child_of_a_killed_parent("SIGTERM")


def test_a_child_whose_parent_is_already_gone_signals_itself(tmp_path: Path) -> None:
    # the parent forks and exits before the grandchild's preexec runs: the grandchild's new parent is not the
    # one it was started by, so it ends itself at once instead of living on
    script = textwrap.dedent(f"""
        import os, signal, subprocess, sys, time
        from e2e.localcluster.node.lifeline import die_with_parent
        hook = die_with_parent(signal.SIGKILL)
        pid = os.fork()
        if pid == 0:  # the forked copy plays a child whose parent already went
            time.sleep(0.5)
            hook()
            open({str(tmp_path / 'survived')!r}, 'w').close()
            os._exit(0)
        print(pid, flush=True)
        os._exit(0)
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=30,
                         check=True).stdout
    orphan = int(out)
    try:
        pidfd = os.pidfd_open(orphan)
    except ProcessLookupError:
        pidfd = -1
    if pidfd >= 0:
        try:
            assert select.select([pidfd], [], [], 10)[0] == [pidfd]
        finally:
            os.close(pidfd)
    assert not (tmp_path / "survived").exists()
