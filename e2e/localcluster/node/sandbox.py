"""One pod's sandbox: its network namespace, a PID namespace with a reaping init, a private /tmp.

Guarantees:
1. `start()` creates the pod's network (address, hosts file), then runs `ip netns exec NS unshare --pid --fork
   --mount-proc --mount --uts` with an init that is PID 1 of a new PID namespace: it takes the pod's hostname,
   bind-mounts the per-pod directory over /tmp, each volume (volumes.py `pod_mounts`) at its mount path
   (read-only when asked; a missing mount point is created as an empty directory, or an empty file for a file
   subPath, which the host then keeps: e.g. /var/run/secrets/kubernetes.io/serviceaccount, the redis image's
   /data) and a copy of /etc/profile that keeps the local Python
   environment first on a login shell's PATH (in the pod's own mount namespace only), reaps orphans, and on
   SIGTERM forwards SIGTERM to every process of the pod.
   `start()` returns once the init is ready, or raises `SandboxError` within its deadline.
2. `spawn()` starts a container process with `nsenter` into the init's network, PID, mount and UTS
   namespaces, in its own session, its stdout and stderr appended to a log file (or given descriptors: a pty,
   which becomes its controlling terminal, for attach.py); `exec()` runs a command the
   same way and returns (exit code, output), killed at its deadline.
3. `signal_container()` signals what a container started: every pod process but the init when the pod has one
   container, else the container's session (for a terminal container, the session its first process leads).
   `terminate()` sends SIGTERM to the init; `kill()` sends it SIGKILL, which ends every process of the PID
   namespace, and waits (bounded) for the sandbox to exit.
   The pod dies with the node agent: its `unshare` gets SIGKILL when the agent's process ends, however it
   ends (parent-death signal), and its init, PID 1 of the pod, gets SIGKILL when `unshare` ends
   (`--kill-child`), which ends every process of the pod.
4. `destroy()` (idempotent) kills what is left, removes the namespace, veth and /etc/netns entry and
   releases the address; `remove_dirs()` removes the per-pod directory (logs included).

Not guaranteed: volumes other than emptyDir, configMap, secret and projected (ignored), per-container mounts
(every mount is pod-wide), securityContext (processes run as the agent's user), hostNetwork/hostPID (every pod
gets its own namespaces), resource limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .exec import on_terminal
from .lifeline import die_with_parent
from .netns import NodeNetwork, PodNames

_INIT = r"""
import ctypes, json, os, signal, socket, sys
hostname, mounts = sys.argv[1], json.loads(sys.argv[2])
libc = ctypes.CDLL(None, use_errno=True)
for source, target, read_only in mounts:
    if not os.path.lexists(target):
        if os.path.isdir(source):
            os.makedirs(target)
        else:  # a file (a subPath): its mount point is an empty file
            os.makedirs(os.path.dirname(target), exist_ok=True)
            open(target, "ab").close()
    if libc.mount(source.encode(), target.encode(), None, 4096 | 16384, None) != 0:  # MS_BIND | MS_REC
        raise OSError(ctypes.get_errno(), f"bind {source} over {target}")
    if read_only and libc.mount(b"none", target.encode(), None, 4096 | 32 | 1, None) != 0:  # BIND|REMOUNT|RDONLY
        raise OSError(ctypes.get_errno(), f"remount {target} read-only")
socket.sethostname(hostname)
wanted = {signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP}
for sig in wanted:
    signal.signal(sig, lambda *_: None)
signal.pthread_sigmask(signal.SIG_BLOCK, wanted)
os.write(1, b"ready\n")
os.close(1)
while True:
    if signal.sigwait(wanted) != signal.SIGCHLD:
        try:
            os.kill(-1, signal.SIGTERM)
        except ProcessLookupError:
            pass
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
"""


class SandboxError(Exception):
    pass


@dataclass(frozen=True)
class PodDirs:
    root: Path

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def volume(self, name: str) -> Path:
        return self.root / "volumes" / name

    def layer(self, pod_path: str) -> Path:
        """Where a path the image keeps writable (images.py `writable`) lives for this pod."""
        return self.root / "layer" / pod_path.strip("/")

    def host_path(self, pod_path: str) -> Path | None:
        """Where a path under the pod's /tmp lives on the host (None for other paths)."""
        if pod_path == "/tmp" or pod_path.startswith("/tmp/"):
            return self.tmp / pod_path[len("/tmp"):].lstrip("/")
        return None


def kept_under_tmp(paths: Sequence[str]) -> list[str]:
    """The top-level directories under /tmp (`/tmp/<name>`) that hold any of `paths`, in first-seen order."""
    tops: list[str] = []
    for path in paths:
        parts = Path(path).parts
        if len(parts) > 2 and parts[:2] == ("/", "tmp"):
            top = f"/tmp/{parts[2]}"
            if top not in tops:
                tops.append(top)
    return tops


def rebound_under_volumes(kept: Sequence[tuple[str, str]],
                          mounts: Sequence[tuple[str, str, bool]]) -> list[tuple[str, str, bool]]:
    """Binds that put the kept runtime paths back where a volume mounted over them (an emptyDir at /tmp) hid them.

    `kept` pairs each top-level `/tmp/<name>` the pod runs from with its copy under the pod's own /tmp; a volume
    whose mount path is that top or one of its parents covers it, so the copy is bound again on top.
    """
    out: list[tuple[str, str, bool]] = []
    for top, copy in kept:
        if any(top == target.rstrip("/") or top.startswith(target.rstrip("/") + "/") for _, target, _ in mounts):
            out.append((copy, top, False))
    return out


def _runtime_paths(python: str) -> list[str]:
    project = Path(__file__).resolve().parents[3]
    return [python, os.path.realpath(python), sys.prefix, sys.base_prefix, os.path.realpath(sys.executable),
            str(project)]


class PodSandbox:
    def __init__(self, *, network: NodeNetwork, names: PodNames, uid: str, namespace: str, hostname: str,
                 dirs: PodDirs, python: str, containers: int) -> None:
        self.network = network
        self.names = names
        self.uid = uid
        self.namespace = namespace
        self.hostname = hostname
        self.dirs = dirs
        self.python = python
        self.containers = containers
        self.ip = ""
        self.init_pid = 0
        self._unshare: asyncio.subprocess.Process | None = None
        self._destroyed = False

    async def start(self, hosts: Callable[[str], str], mounts: Sequence[tuple[str, str, bool]],
                    timeout_s: float = 15.0) -> None:
        # The pod's private /tmp hides the host's; what the pod runs from (the Python environment, the
        # project) may live there, so it is bound back into the pod's /tmp first (recursive binds carry it).
        tops = kept_under_tmp(_runtime_paths(self.python))
        kept = [(top, str(self.dirs.tmp / top[len("/tmp/"):])) for top in tops]
        for d in (self.dirs.tmp, self.dirs.logs, *(Path(m[0]) for m in mounts), *(Path(i) for _, i in kept)):
            if not d.exists():  # a mount source may be a file (a subPath); a missing one becomes a directory
                d.mkdir(parents=True)
        self.dirs.tmp.chmod(0o1777)
        self.ip = self.network.allocate_ip(self.uid)
        await self.network.add_pod(self.names, self.ip, hosts(self.ip), self.namespace)
        binds = [*((src, dst, False) for src, dst in [*kept, (str(self.dirs.tmp), "/tmp")]), *mounts,
                 *rebound_under_volumes(kept, mounts),
                 *((src, dst, False) for src, dst in self._login_profile())]
        with (self.dirs.root / "sandbox.log").open("ab") as log:
            self._unshare = await asyncio.create_subprocess_exec(
                "ip", "netns", "exec", self.names.netns, "unshare", "--pid", "--fork", "--kill-child",
                "--mount-proc", "--mount", "--uts", "--propagation", "private", "--", self.python, "-I", "-S", "-c",
                _INIT, self.hostname, json.dumps(binds), stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=log, preexec_fn=die_with_parent(signal.SIGKILL))
        assert self._unshare.stdout is not None
        try:
            async with asyncio.timeout(timeout_s):
                line = await self._unshare.stdout.readline()
        except TimeoutError:
            line = b""
        children = _children(self._unshare.pid)
        if line != b"ready\n" or len(children) != 1:
            detail = (self.dirs.root / "sandbox.log").read_text(errors="replace").strip()[-300:]
            raise SandboxError(f"the pod sandbox did not start: {detail or 'no answer from its init'}")
        self.init_pid = children[0]

    def _login_profile(self) -> list[tuple[str, str]]:
        # Ray's pod commands run through `bash -l`, whose /etc/profile resets PATH; the pod's own copy puts the
        # local Python environment (the stand-in for the image) back in front.
        host = Path("/etc/profile")
        if not host.is_file():
            return []
        own = self.dirs.root / "profile"
        python_bin = str(Path(self.python).parent)
        own.write_text(f"{host.read_text(errors='replace')}\nPATH=\"{python_bin}:$PATH\"\nexport PATH\n")
        return [(str(own), str(host))]

    @property
    def running(self) -> bool:
        return self._unshare is not None and self._unshare.returncode is None and self.init_pid > 0

    def _nsenter(self, workdir: str) -> list[str]:
        enter = ["nsenter", f"--target={self.init_pid}", "--net", "--pid", "--mount", "--uts"]
        if self.dirs.host_path(workdir) is not None:
            # nsenter opens --wd before it enters the mount namespace, where the pod's own /tmp is not mounted
            return [*enter, "--wd=/", "--", "env", f"--chdir={workdir}", "--"]
        return [*enter, f"--wd={workdir}", "--"]

    def nsenter(self, workdir: str) -> list[str]:
        """The command prefix that enters the pod's namespaces in `workdir` (what `spawn` and exec run under)."""
        return self._nsenter(workdir)

    async def spawn(self, argv: Sequence[str], env: Mapping[str, str], workdir: str, log_path: Path, *,
                    stdin: int | None = None, output: int | None = None,
                    tty: bool = False) -> asyncio.subprocess.Process:
        """`stdin`/`output`: descriptors for the container's stdin and its stdout+stderr (default: empty stdin,
        the log file); with `tty`, `stdin` is a pty that becomes the container's controlling terminal."""
        if not self.running:
            raise SandboxError("the pod sandbox is not running")
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log:
            return await asyncio.create_subprocess_exec(
                *self._nsenter(workdir), *(on_terminal(argv) if tty else argv), env=dict(env),
                stdin=asyncio.subprocess.DEVNULL if stdin is None else stdin,
                stdout=log if output is None else output, stderr=asyncio.subprocess.STDOUT, start_new_session=True)

    async def exec(self, argv: Sequence[str], env: Mapping[str, str], timeout_s: float) -> tuple[int, bytes]:
        if not self.running:
            return 126, b"the pod sandbox is not running"
        proc = await asyncio.create_subprocess_exec(
            *self._nsenter("/"), *argv, env=dict(env), stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, start_new_session=True)
        try:
            async with asyncio.timeout(timeout_s):
                out, _ = await proc.communicate()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
            return 124, b"timed out"
        return proc.returncode if proc.returncode is not None else 1, out

    def signal_container(self, session: int, sig: int) -> None:
        """Signal a container's processes; `session` is the pid `spawn()` returned."""
        if not self.running:
            return
        for pid in self._pod_pids(session=None if self.containers == 1 else session):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def _pod_pids(self, session: int | None) -> list[int]:
        try:
            ns = os.readlink(f"/proc/{self.init_pid}/ns/pid")
        except OSError:
            return []
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == self.init_pid:
                continue
            try:
                if os.readlink(f"/proc/{entry}/ns/pid") != ns:
                    continue
                if session is not None and not _in_session(int(entry), session):
                    continue
            except OSError:
                continue
            found.append(int(entry))
        return found

    def terminate(self) -> None:
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.init_pid, signal.SIGTERM)

    async def kill(self, timeout_s: float = 5.0) -> None:
        if self._unshare is None:
            return
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.init_pid, signal.SIGKILL)
        try:
            async with asyncio.timeout(timeout_s):
                await self._unshare.wait()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self._unshare.kill()
            await self._unshare.wait()

    async def destroy(self) -> None:
        if self._destroyed:
            return
        self._destroyed = True
        await self.kill()
        await self.network.remove_pod(self.names)
        self.network.release_ip(self.uid)

    def remove_dirs(self) -> None:
        shutil.rmtree(self.dirs.root, ignore_errors=True)


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _in_session(pid: int, session: int) -> bool:
    """Whether `pid` belongs to the container whose nsenter is `session`: in its session, or in the session a
    terminal container's first process leads inside the pod (setsid, a child of that nsenter)."""
    sid = _session_of(pid)
    return sid == session or _parent_of(sid) == session


def _parent_of(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    return int(stat[stat.rindex(")") + 2:].split()[1])


def _session_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2:].split()[3])
