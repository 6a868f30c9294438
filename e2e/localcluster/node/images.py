"""The node's image table: which local program stands in for a container image (pure, no pulls).

The local node pulls nothing. Each image reference is looked up in one table; what it finds plays the part of
the image's filesystem and its config (ENTRYPOINT and CMD):

| image (any registry, tag or digest)     | runs                                           | ENTRYPOINT / CMD |
|-----------------------------------------|------------------------------------------------|------------------|
| `rayproject/ray*` (ray, ray-ml, ...)    | the project environment's Python with Ray      | - / -            |
| `rayservice-operator` (any owner)       | the project environment's `rayservice` program | rayservice / run |
| `python`                                | the project environment's Python               | - / python3      |
| `busybox`, `radial/busyboxplus`         | the host's shell and tools                     | - / sh           |
| `curlimages/curl`, `curl`               | the host's `curl`                              | curl / -         |
| `redis`                                 | Debian's `redis-server` (`make system-deps`)   | - / redis-server |
| `prom/prometheus`, `prometheus/prometheus` | Debian's `prometheus` (`make system-deps`) | see below     |

Like the images they stand for, the `redis` row has a writable, initially empty /data of the pod's own (the
official image's volume; `dir /data` in a redis.conf works), works in the pod's /tmp (the image's WORKDIR is
/data) and, as the official image does, runs `redis-server` before bare options and with protected mode off.
The `prometheus` row has the official image's ENTRYPOINT (`prometheus`) and CMD (`--config.file=/etc/prometheus/
prometheus.yml --storage.tsdb.path=/prometheus`), its writable /prometheus (the TSDB) and works there (its WORKDIR).

Guarantees:
1. `normalize` reads a reference as a container runtime does: registry host (a first part with `.` or `:`, or
   `localhost`) and `docker.io/library/` dropped, tag and digest split off; `nginx`, `docker.io/nginx:1`
   and `docker.io/library/nginx@sha256:...` all have repository `nginx`.
2. `resolve` finds the table row of a reference, or raises `ImageNotFound` whose message names the image,
   this table and the images it knows (what the container's ErrImagePull / ImagePullBackOff shows). A row whose
   program is missing on this machine (`redis-server` not installed) raises `ImageNotFound` saying how to get it.
3. `container_argv` merges the container's command and args with the image's config as Kubernetes does:
   command replaces ENTRYPOINT and drops CMD; args replace CMD; with neither, ENTRYPOINT + CMD. The result
   must not be empty (`EmptyCommand`).
4. Every program the table names is an absolute path or a name found on the pod's PATH (the project
   environment first, then the host's system directories).
5. `writable_paths` lists the paths the images of a pod's containers keep writable (`ImageConfig.writable`, the
   image's own filesystem, e.g. the redis image's /data), once each, in container order; an image the table
   does not know adds none (its container fails on its own, as `resolve` says).

Not guaranteed: image contents (a `rayproject/ray` pod sees the host's files), image versions (every tag runs
the same local program), imagePullPolicy and pull secrets (ignored).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Which = Callable[[str], str | None]


class ImageNotFound(Exception):
    """The image is not in the table (or its stand-in program is missing here): the kubelet's ErrImagePull."""


class EmptyCommand(Exception):
    """Neither the container nor the image config gives a command line."""


@dataclass(frozen=True)
class ImageRef:
    repository: str  # without registry and `library/`
    tag: str  # "" when absent
    digest: str  # "" when absent


@dataclass(frozen=True)
class ImageConfig:
    """What the table gives for an image: its stand-in (for messages) and its ENTRYPOINT and CMD."""

    runs: str
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    workdir: str = ""  # the image's WORKDIR ("" : /)
    redis: bool = False  # the official image's entrypoint rules (see `_redis_argv`)
    writable: tuple[str, ...] = ()  # absolute paths of the image's filesystem a container writes (per pod)


@dataclass(frozen=True)
class _Row:
    repositories: tuple[str, ...]  # exact names; a trailing `*` matches a prefix, a leading `*/` any owner
    runs: str
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    needs: str = ""  # a host program the row depends on
    install: str = ""
    workdir: str = ""
    redis: bool = False
    writable: tuple[str, ...] = ()

    def matches(self, repository: str) -> bool:
        return any(_matches(r, repository) for r in self.repositories)


_TABLE: tuple[_Row, ...] = (
    _Row(("rayproject/ray*",), "the project environment's Python with Ray"),
    _Row(("rayservice-operator", "*/rayservice-operator"), "the project environment's rayservice",
         ("{bin}/rayservice",), ("run",)),
    _Row(("python",), "the project environment's Python", cmd=("python3",)),
    _Row(("busybox", "radial/busyboxplus"), "the host's shell and tools", cmd=("sh",)),
    _Row(("curlimages/curl", "curl"), "the host's curl", ("curl",), needs="curl",
         install="apt-get install curl"),
    _Row(("redis",), "Debian's redis-server", cmd=("redis-server",), needs="redis-server",
         install="make system-deps, as root", workdir="/tmp", redis=True, writable=("/data",)),
    _Row(("prom/prometheus", "prometheus/prometheus"), "Debian's prometheus", ("prometheus",),
         ("--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"),
         needs="prometheus", install="make system-deps, as root", workdir="/prometheus", writable=("/prometheus",)),
)


def _matches(pattern: str, repository: str) -> bool:
    if pattern.endswith("*"):
        return repository.startswith(pattern[:-1])
    if pattern.startswith("*/"):
        return repository.endswith(pattern[1:])
    return repository == pattern


KNOWN = ", ".join(r for row in _TABLE for r in row.repositories)
TABLE_DOC = "docs/local-cluster.md#images"


def normalize(image: str) -> ImageRef:
    rest, digest = image.strip(), ""
    if "@" in rest:
        rest, digest = rest.split("@", 1)
    first, sep, remainder = rest.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        rest = remainder
    tag = ""
    last = rest.rsplit("/", 1)[-1]
    if ":" in last:
        rest, tag = rest.rsplit(":", 1)
    if rest.startswith("library/"):
        rest = rest[len("library/"):]
    return ImageRef(repository=rest, tag=tag, digest=digest)


def resolve(image: str, *, python_bin: str, which: Which = shutil.which) -> ImageConfig:
    """The table's row for `image`, with `{bin}` replaced by the project environment's bin directory."""
    if not image.strip():
        raise ImageNotFound("the container names no image; the local node maps images to local programs "
                            f"(its image table: {KNOWN}; see {TABLE_DOC})")
    ref = normalize(image)
    row = next((r for r in _TABLE if r.matches(ref.repository)), None)
    if row is None:
        raise ImageNotFound(f'image "{image}" is not in the local node\'s image table, which maps images to '
                            f"local programs and pulls nothing (known: {KNOWN}; see {TABLE_DOC})")
    if row.needs and which(row.needs) is None:
        raise ImageNotFound(f'image "{image}" runs {row.runs}, but {row.needs} is not installed on this node '
                            f"({row.install})")
    return ImageConfig(runs=row.runs, entrypoint=tuple(a.format(bin=python_bin) for a in row.entrypoint),
                       cmd=row.cmd, workdir=row.workdir, redis=row.redis, writable=row.writable)


def writable_paths(containers: Sequence[Mapping[str, Any]], *, python_bin: str,
                   which: Which = shutil.which) -> list[str]:
    paths: list[str] = []
    for c in containers:
        try:
            found = resolve(str(c.get("image") or ""), python_bin=python_bin, which=which)
        except ImageNotFound:
            continue
        paths += [p for p in found.writable if p not in paths]
    return paths


def container_argv(config: ImageConfig, command: Sequence[str], args: Sequence[str]) -> list[str]:
    if command:
        argv = [*command, *args]
    elif args:
        argv = [*config.entrypoint, *args]
    else:
        argv = [*config.entrypoint, *config.cmd]
    if not argv:
        raise EmptyCommand(f"the image's stand-in ({config.runs}) has no default command: set command (or args)")
    return _redis_argv(argv) if config.redis else argv


def _redis_argv(argv: list[str]) -> list[str]:
    """What the official redis image does: its entrypoint puts `redis-server` before options or a .conf file,
    and its redis-server is built with protected mode off (other pods may connect without a password)."""
    if argv[0].startswith("-") or argv[0].endswith(".conf"):
        argv = ["redis-server", *argv]
    if argv[0] == "redis-server" and "--protected-mode" not in argv:
        argv = [argv[0], "--protected-mode", "no", *argv[1:]]
    return argv
