"""A pod's life on the node: sandbox, init containers, containers with restarts and probes, termination.

Guarantees:
1. Init containers run one at a time, in order, each until it succeeds (a failure is retried with backoff,
   or fails the pod under restartPolicy Never); then every container starts.
2. A container's image is looked up in the node's image table (images.py): an image it does not know leaves
   the container Waiting with ErrImagePull, then ImagePullBackOff (retried with the restart backoff), the
   message naming the table. A known image runs command/args merged with the row's ENTRYPOINT and CMD, with
   kubelet's environment (`env.py`, service variables included; the local Python environment comes first on
   PATH), output appended to `logs/<container>/<restartCount>.log` (when it grew noted beside it, logtimes.py;
   a container with `tty` or `stdin` gets a terminal of its own, attach.py). When it exits it
   restarts per restartPolicy (Always; OnFailure on a non-zero exit; Never): the first restart at once, later
   ones after a backoff doubling from `backoff_s` to `max_backoff_s` (reset after 10 minutes of running),
   shown as CrashLoopBackOff.
3. A startup probe holds readiness and liveness until it succeeds; readiness sets `ready` (no probe: ready
   once running); a failed liveness or startup probe kills the container (SIGTERM, the pod's grace,
   SIGKILL), which then restarts per restartPolicy.
4. `request_termination(grace_s)`: no more restarts; preStop handlers run within the deadline, then SIGTERM
   goes to the pod's init (forwarded to every pod process), and SIGKILL at the deadline; a shorter grace
   requested later moves the deadline closer. `run()` returns once every process is gone and the sandbox
   is destroyed. A pod whose containers are all done (no restart due) destroys its sandbox at once. A preStop
   handler cut short because its own container ended meanwhile (the handler's doing) is not a failure.
5. Every state change calls `on_change`; `view()` is a consistent snapshot for status.py.
6. ConfigMap, Secret and projected volumes (the service-account token among them, volumes.py) are filled
   before the sandbox starts and mounted read-only (a `subPath` mounts one file or directory of a volume; the
   image's writable paths, e.g. redis's /data, get a directory of the pod's own); until that succeeds the
   containers wait in ContainerCreating with the kubelet's `MountVolume.SetUp failed` message, retried with
   backoff. Tokens are refreshed while the pod runs. An invalid subPath leaves them in
   CreateContainerConfigError.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from . import env as envmod
from . import images, logtimes, probes
from .attach import ContainerTerminal, spawn_container
from .guards import NetworkError
from .sandbox import PodSandbox, SandboxError
from .status import ContainerView, CrashLoopBackoff, PodView, Terminated, should_restart
from .volumes import ProjectedVolumes, RequestToken, VolumeError, pod_mounts

Obj = dict[str, Any]
FetchRefs = Callable[[str, set[tuple[str, str]]], Awaitable[dict[tuple[str, str], Mapping[str, str]]]]
log = logging.getLogger(__name__)


def _is_running(proc: asyncio.subprocess.Process) -> bool:
    return proc.returncode is None


def wall_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def _no_token(namespace: str, account: str, body: Obj) -> Obj:
    raise VolumeError("this node requests no tokens")


@dataclass
class RunnerDeps:
    session: aiohttp.ClientSession
    fetch_refs: FetchRefs
    capacity: Mapping[str, str]
    python_bin: str
    host_ip: str
    backoff_s: float = 10.0
    max_backoff_s: float = 300.0
    request_token: RequestToken = _no_token
    services: Callable[[], Iterable[Obj]] = tuple


@dataclass
class _Container:
    spec: Obj
    view: ContainerView
    init: bool
    proc: asyncio.subprocess.Process | None = None
    env: dict[str, str] = field(default_factory=dict)
    pull_backoff: CrashLoopBackoff | None = None
    workdir: str = "/"
    terminal: ContainerTerminal | None = None  # stdin and tty of the current run (attach.py)


class PodRunner:
    def __init__(self, pod: Obj, sandbox: PodSandbox, deps: RunnerDeps, *, on_change: Callable[[], None],
                 hosts: Callable[[str], str]) -> None:
        self.pod = pod
        self.sandbox = sandbox
        self.deps = deps
        self.on_change = on_change
        self.hosts = hosts
        spec = pod.get("spec") or {}
        self.policy = str(spec.get("restartPolicy") or "Always")
        self.grace_s = float(spec.get("terminationGracePeriodSeconds", 30))
        self.inits = [_Container(c, ContainerView(c["name"], c.get("image", "")), True)
                      for c in spec.get("initContainers") or []]
        self.containers = [_Container(c, ContainerView(c["name"], c.get("image", ""), reason="ContainerCreating"
                                                       if not self.inits else "PodInitializing"), False)
                           for c in spec.get("containers") or []]
        self.start_time, self.sandbox_ready = "", False
        self.terminating = asyncio.Event()
        self.delete_when_done = False  # set by the agent when the API asked for the pod's deletion
        self._deadline = float("inf")
        self._hurry = asyncio.Event()
        self.volumes = ProjectedVolumes(pod, sandbox.dirs.volume, request=deps.request_token,
                                        fetch_refs=deps.fetch_refs, retry_s=deps.backoff_s)

    def view(self) -> PodView:
        return PodView(pod_ip=self.sandbox.ip, host_ip=self.deps.host_ip, start_time=self.start_time,
                       sandbox_ready=self.sandbox_ready, init_containers=tuple(c.view for c in self.inits),
                       containers=tuple(c.view for c in self.containers))

    def container(self, name: str | None) -> _Container | None:
        if name is None:
            return self.containers[0] if len(self.containers) == 1 else None
        return next((c for c in self.containers + self.inits if c.view.name == name), None)

    def log_path(self, c: _Container, restart_count: int) -> Path:
        return self.sandbox.dirs.logs / c.view.name / f"{restart_count}.log"

    def request_termination(self, grace_s: float) -> None:
        deadline = time.monotonic() + max(0.0, grace_s)
        if deadline < self._deadline:
            self._deadline = deadline
            self._hurry.set()
        self.terminating.set()

    def _set(self, c: _Container, **changes: Any) -> None:
        c.view = dataclasses.replace(c.view, **changes)
        self.on_change()

    # ---- the whole pod -----------------------------------------------------------------------------

    async def run(self) -> None:
        try:
            life = asyncio.create_task(self._lifecycle(), name=f"pod-{self.sandbox.names.netns}")
            try:
                await self.terminating.wait()
                await self._shut_down(life)
            finally:
                life.cancel()
                await asyncio.wait({life})
            if not life.cancelled() and life.exception() is not None:
                log.error("pod_lifecycle_failed pod=%s", self.sandbox.names.netns, exc_info=life.exception())
        finally:
            await self.sandbox.destroy()

    async def _shut_down(self, life: asyncio.Task[None]) -> None:
        if self.sandbox.running:
            running = [c for c in self.containers if c.proc is not None and c.proc.returncode is None]
            hooks = [asyncio.create_task(self._pre_stop(c)) for c in running]
            if hooks:
                _done, late = await asyncio.wait(hooks, timeout=self._left())
                for task in late:
                    task.cancel()
                await asyncio.wait(hooks)
            self.sandbox.terminate()
        while not life.done() and self._left() > 0:
            self._hurry.clear()
            hurry = asyncio.create_task(self._hurry.wait())
            await asyncio.wait({life, hurry}, timeout=self._left(), return_when=asyncio.FIRST_COMPLETED)
            hurry.cancel()
            await asyncio.wait({hurry})
        await self.sandbox.kill()
        await asyncio.wait({life}, timeout=5.0)

    def _left(self) -> float:
        return max(0.0, self._deadline - time.monotonic())

    async def _pre_stop(self, c: _Container) -> None:
        handler = (c.spec.get("lifecycle") or {}).get("preStop")
        ok, why = await probes.run_handler(handler, c.spec, self.sandbox.ip, self._exec_fn(c), self.deps.session,
                                           self._left())
        if not ok and c.proc is not None and c.proc.returncode is not None:
            # the container ended while its handler ran (a Ray worker's `ray stop` ends its raylet and so the
            # container; the pod's processes, the handler's too, are then killed): the handler did its work
            log.debug("prestop_ended_with_container pod=%s container=%s: %s", self.sandbox.names.netns,
                      c.view.name, why)
        elif not ok:
            log.warning("prestop_failed pod=%s container=%s: %s", self.sandbox.names.netns, c.view.name, why)

    async def _lifecycle(self) -> None:
        if not await self._set_up_volumes():
            return
        refresher = asyncio.create_task(self.volumes.keep_fresh(), name=f"tokens-{self.sandbox.names.netns}")
        try:
            await self._run_sandbox()
        finally:
            refresher.cancel()
            await asyncio.wait({refresher})

    async def _set_up_volumes(self) -> bool:
        """Fill the projected volumes before the sandbox exists, as the kubelet mounts before it starts the pod;
        a failure keeps the containers in ContainerCreating and is retried with the volume manager's backoff
        (0.5 s doubling up to about 2 minutes)."""
        delays = CrashLoopBackoff(min(0.5, self.deps.backoff_s), min(122.0, self.deps.max_backoff_s))
        while not self.terminating.is_set():
            try:
                await self.volumes.setup()
                return True
            except VolumeError as exc:
                for c in self.containers:
                    self._set(c, reason="ContainerCreating", message=str(exc)[:300])
                log.warning("volume_setup_failed pod=%s: %s", self.sandbox.names.netns, exc)
                await self._pause(delays.next(0.0) or delays.base_s)
        return False

    async def _run_sandbox(self) -> None:
        spec = self.pod.get("spec") or {}
        layer = images.writable_paths([*(spec.get("initContainers") or []), *(spec.get("containers") or [])],
                                      python_bin=self.deps.python_bin)
        try:
            mounts = pod_mounts(spec, self.sandbox.dirs.volume, [(p, self.sandbox.dirs.layer(p)) for p in layer])
        except VolumeError as exc:
            for c in self.containers:
                self._set(c, reason="CreateContainerConfigError", message=str(exc)[:300])
            log.warning("bad_volume_mount pod=%s: %s", self.sandbox.names.netns, exc)
            return
        try:
            await self.sandbox.start(self.hosts, mounts)
        except (SandboxError, NetworkError) as exc:
            for c in self.containers:
                self._set(c, reason="ContainerCreating", message=str(exc)[:300])
            log.warning("sandbox_failed pod=%s: %s", self.sandbox.names.netns, exc)
            return
        self.start_time, self.sandbox_ready = wall_now(), True
        self.on_change()
        for c in self.inits:
            if not await self._supervise(c):
                return
        for c in self.containers:
            self._set(c, reason="ContainerCreating")
        async with asyncio.TaskGroup() as tg:
            for c in self.containers:
                tg.create_task(self._supervise(c))
        if not self.terminating.is_set():
            await self.sandbox.destroy()  # all done: give the address back, keep the logs

    # ---- one container -----------------------------------------------------------------------------

    async def _supervise(self, c: _Container) -> bool:
        """Run `c` until no restart is due; True when it ended successfully."""
        delays = CrashLoopBackoff(self.deps.backoff_s, self.deps.max_backoff_s)
        first = True
        while not self.terminating.is_set():
            image = await self._pull(c)
            if image is None:
                continue
            try:
                argv, c.workdir = await self._prepare(c, image)
            except envmod.ConfigError as exc:
                self._set(c, state="waiting", reason="CreateContainerConfigError", message=str(exc))
                await self._pause(delays.next(0.0) or self.deps.backoff_s)
                continue
            if not first:
                self._set(c, restart_count=c.view.restart_count + 1)
            first = False
            started, t0 = wall_now(), time.monotonic()
            try:
                c.proc, c.terminal = await spawn_container(self.sandbox, argv, c.env, c.workdir,
                                                           self.log_path(c, c.view.restart_count), c.spec)
            except (SandboxError, OSError) as exc:
                self._set(c, state="waiting", reason="RunContainerError", message=str(exc))
                return False
            cid = f"localcluster://{self.sandbox.uid[:8]}-{c.view.name}-{c.view.restart_count}"
            self._set(c, state="running", started_at=started, reason="", message="", container_id=cid,
                      started=not c.init and "startupProbe" not in c.spec,
                      ready=not c.init and not ({"startupProbe", "readinessProbe"} & set(c.spec)))
            times = asyncio.create_task(logtimes.record(self.log_path(c, c.view.restart_count),
                                                        functools.partial(_is_running, c.proc)))
            try:
                code = await self._wait_with_probes(c, c.proc)
            finally:
                if c.terminal is not None:
                    await c.terminal.close()
                if c.proc.returncode is None:
                    times.cancel()
                await asyncio.wait({times})
            done = Terminated(code, "Completed" if code == 0 else "Error", started, wall_now())
            restart = should_restart(self.policy, code, c.init)
            if self.terminating.is_set() or not restart:
                self._set(c, state="terminated", terminated=done, ready=False, started=False)
                return code == 0
            delay = delays.next(time.monotonic() - t0)
            self._set(c, state="waiting", reason="CrashLoopBackOff" if delay else "ContainerCreating",
                      message=f"back-off {delay:g}s restarting failed container={c.view.name}" if delay else "",
                      last=done, ready=False, started=False)
            await self._pause(delay)
        return False

    async def _pull(self, c: _Container) -> images.ImageConfig | None:
        """The image's table row; when there is none, ErrImagePull then ImagePullBackOff (None: try again)."""
        name = str(c.spec.get("image") or "")
        try:
            found = images.resolve(name, python_bin=self.deps.python_bin)
        except images.ImageNotFound as exc:
            if c.pull_backoff is None:
                c.pull_backoff = CrashLoopBackoff(self.deps.backoff_s, self.deps.max_backoff_s)
            delay = c.pull_backoff.next(0.0) or self.deps.backoff_s
            self._set(c, state="waiting", reason="ErrImagePull", message=str(exc))
            await self._pause(min(delay, self.deps.backoff_s))
            if not self.terminating.is_set():
                self._set(c, state="waiting", reason="ImagePullBackOff",
                          message=f'Back-off pulling image "{name}": {exc}')
                await self._pause(delay)
            return None
        c.pull_backoff = None
        return found

    async def _pause(self, delay_s: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay_s):
                await self.terminating.wait()

    async def _prepare(self, c: _Container, image: images.ImageConfig) -> tuple[list[str], str]:
        refs = await self.deps.fetch_refs(self.sandbox.namespace, envmod.referenced_objects(c.spec))
        status = {**(self.pod.get("status") or {}), "podIP": self.sandbox.ip, "podIPs": [{"ip": self.sandbox.ip}],
                  "hostIP": self.deps.host_ip, "hostIPs": [{"ip": self.deps.host_ip}]}
        links = (self.pod.get("spec") or {}).get("enableServiceLinks") is not False
        services = envmod.service_env(self.deps.services(), self.sandbox.namespace, links=links)
        own = envmod.container_env({**self.pod, "status": status}, c.spec,
                                   refs=lambda kind, name: refs.get((kind, name)), capacity=self.deps.capacity,
                                   services=services)
        c.env = {**envmod.base_env(self.deps.python_bin, self.sandbox.hostname), **services, **own}
        return envmod.container_argv(c.spec, own, image), self._workdir(c, image)

    def _workdir(self, c: _Container, image: images.ImageConfig) -> str:
        workdir = str(c.spec.get("workingDir") or image.workdir or "/")
        host = self.sandbox.dirs.host_path(workdir)
        if host is not None:
            host.mkdir(parents=True, exist_ok=True)
        elif not Path(workdir).is_dir():
            raise envmod.ConfigError(f"workingDir {workdir} does not exist on this node")
        return workdir

    def _exec_fn(self, c: _Container) -> probes.ExecFn:
        return lambda argv, timeout_s: self.sandbox.exec(argv, c.env, timeout_s)

    async def _wait_with_probes(self, c: _Container, proc: asyncio.subprocess.Process) -> int:
        watcher = asyncio.create_task(self._probe(c, proc))
        try:
            await proc.wait()
        finally:
            watcher.cancel()
            await asyncio.wait({watcher})
            self.sandbox.signal_container(proc.pid, signal.SIGKILL)  # what the container left behind
        if not watcher.cancelled() and watcher.exception() is not None:
            log.error("probe_crashed container=%s", c.view.name, exc_info=watcher.exception())
        rc = proc.returncode if proc.returncode is not None else 1
        return rc if rc >= 0 else 128 - rc

    async def _probe(self, c: _Container, proc: asyncio.subprocess.Process) -> None:
        if c.init:
            return

        def attempt(probe: probes.Probe) -> probes.Attempt:
            return lambda: probes.check(probe, self.sandbox.ip, self._exec_fn(c), self.deps.session)

        def started() -> None:
            self._set(c, started=True, ready="readinessProbe" not in c.spec)

        verdict = await probes.watch_container(c.spec, attempt, on_started=started,
                                               on_ready=lambda ok: self._set(c, ready=ok))
        log.info("probe_failed pod=%s container=%s: %s", self.sandbox.names.netns, c.view.name, verdict)
        self.sandbox.signal_container(proc.pid, signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.grace_s):
                await proc.wait()
        self.sandbox.signal_container(proc.pid, signal.SIGKILL)
