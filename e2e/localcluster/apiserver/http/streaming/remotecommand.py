"""pods/exec and pods/attach: checked by the API server, upgraded to WebSocket, proxied to the node's provider.

kube-apiserver checks the pod and the container, then proxies the upgrade to the kubelet, which runs the
command (or joins the container) and speaks the channel protocol (channels.py). Here the node agent is the
kubelet: `up` sets the server's `exec_provider`, whose sessions this module pumps to and from the WebSocket.

Guarantees:
1. Before any upgrade, in kube's wording (the request's authorization step has already asked `create` on the
   subresource of a WebSocket upgrade, besides the `get` of its method: auth/authorize.py): a missing pod is
   kube's 404 Status (the caller reads the pod); an unknown container is a 400 (`container x is
   not valid for pod p`), none named in a pod of several a 400 naming the choices; a pod without a node a 400
   (`pod p does not have a host assigned`); no command for exec, or none of stdin, stdout and stderr asked
   for, a 400; no node provider a 400; a container that is not running (by its status, then by the node's
   `check_container`) a 500 with the kubelet's text `container not found ("x")`, which kubectl prints as
   `unable to upgrade connection: container not found ("x")`.
2. A WebSocket request offering `v5.channel.k8s.io` or `v4.channel.k8s.io` is upgraded (the client's first
   choice wins); the first message is an empty one on the lowest channel the client reads (stdout, stderr,
   else error), as the kubelet sends it, so the client knows the stream is up.
3. Client messages are binary or text (the Python client sends text), read alike as bytes.
   Output reaches the client on stdout (1) and stderr (2) in the order the command wrote each; stdin (0) goes
   to the command; resize (4) sizes the terminal; under v5 `[255, 0]` ends the command's stdin. When the
   output ends the error channel (3) carries the exit `Status` (Success, or NonZeroExitCode with the code;
   attach: Success), then the WebSocket closes normally.
4. The client going away ends an exec'd command (and detaches an attach, leaving the container running).
5. Any other request (a plain GET, kubectl's SPDY `POST`) answers with the same checks, then a 400: this
   server speaks only WebSocket for exec and attach, which kubectl 1.37 uses first; it falls back to SPDY
   only when the WebSocket upgrade fails, and then its SPDY request gets the same answer as the WebSocket
   one, which kubectl prints (`unable to upgrade connection: ...`, or the Status).

Not guaranteed: SPDY/3.1 (`X-Stream-Protocol-Version`), the base64 channel protocols, v1-v3.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import WSMsgType, web
from multidict import MultiMapping

from e2e.localcluster.apiserver.errors import ApiError

from . import channels, websocket

log = logging.getLogger(__name__)
_TRUE = ("true", "1", "True")


class StreamSession(Protocol):
    """One exec'd command, or one attachment to a container, as the node serves it."""

    async def output(self) -> tuple[int, bytes] | None:
        """The next output: (1, stdout bytes) or (2, stderr bytes); None once the output has ended."""

    async def stdin(self, data: bytes | None) -> None:
        """Bytes for the command's stdin; None ends it."""

    def resize(self, width: int, height: int) -> None: ...

    async def wait(self) -> int | None:
        """After the output ended: the command's exit code (None for an attach)."""

    async def cancel(self) -> None:
        """The client went away: end the command (exec) or detach (attach). Idempotent."""


class ExecProvider(Protocol):
    """The node side (`up` wires the node agent). Each method raises LookupError, with the kubelet's text, when
    the container does not run there."""

    def check_container(self, namespace: str, name: str, container: str) -> None:
        """Whether the container runs there, before any upgrade (nothing is started)."""

    async def open_exec(self, namespace: str, name: str, *, container: str, command: list[str], stdin: bool,
                        tty: bool) -> StreamSession: ...

    async def open_attach(self, namespace: str, name: str, *, container: str, stdin: bool,
                          tty: bool) -> StreamSession: ...


@dataclass(frozen=True)
class StreamOptions:
    subresource: str  # "exec" or "attach"
    container: str
    command: tuple[str, ...] = ()
    stdin: bool = False
    stdout: bool = False
    stderr: bool = False
    tty: bool = False


# ---- pure checks ---------------------------------------------------------------------------------------


def parse_options(subresource: str, query: MultiMapping[str]) -> StreamOptions:
    """The options of an exec or attach request (`container` still as asked; see `resolve_container`)."""
    def flag(name: str) -> bool:
        return query.get(name, "") in _TRUE

    opts = StreamOptions(subresource=subresource, container=query.get("container", ""),
                         command=tuple(query.getall("command", [])) if subresource == "exec" else (),
                         stdin=flag("stdin"), stdout=flag("stdout"), stderr=flag("stderr"), tty=flag("tty"))
    if subresource == "exec" and not opts.command:
        raise ApiError(400, "BadRequest", "you must specify at least one command for the container")
    if not (opts.stdin or opts.stdout or opts.stderr):
        raise ApiError(400, "BadRequest", "you must specify at least 1 of stdin, stdout, stderr")
    if opts.tty and opts.stderr:
        opts = dataclasses.replace(opts, stderr=False)  # a terminal has one output; the kubelet drops stderr
    return opts


def resolve_container(pod: Mapping[str, Any], wanted: str) -> str:
    """The container a request means, as kube-apiserver's pod stream location chooses it (guarantee 1)."""
    name = pod["metadata"]["name"]
    spec = pod.get("spec") or {}
    containers = [c["name"] for c in spec.get("containers") or []]
    inits = [c["name"] for c in spec.get("initContainers") or []]
    ephemeral = [c["name"] for c in spec.get("ephemeralContainers") or []]
    if not wanted:
        if not containers:
            raise ApiError(400, "BadRequest", f"a container name must be specified for pod {name}")
        if len(containers) > 1:
            message = f"a container name must be specified for pod {name}, choose one of: [{' '.join(containers)}]"
            if inits:
                message += f" or one of the init containers: [{' '.join(inits)}]"
            raise ApiError(400, "BadRequest", message)
        wanted = containers[0]
    elif wanted not in containers + inits + ephemeral:
        raise ApiError(400, "BadRequest", f"container {wanted} is not valid for pod {name}")
    if not spec.get("nodeName"):
        raise ApiError(400, "BadRequest", f"pod {name} does not have a host assigned")
    return str(wanted)


def container_running(pod: Mapping[str, Any], container: str) -> bool:
    status = pod.get("status") or {}
    for key in ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"):
        for cs in status.get(key) or []:
            if cs.get("name") == container:
                return "running" in (cs.get("state") or {})
    return False


# ---- the async shell -----------------------------------------------------------------------------------


async def serve(request: web.Request, pod: Mapping[str, Any], subresource: str,
                provider: ExecProvider | None) -> web.StreamResponse:
    """Answer one pods/exec or pods/attach request (the pod read, the request authenticated and authorized)."""
    upgrading = websocket.is_websocket_request(request)
    opts = parse_options(subresource, request.query)
    container = resolve_container(pod, opts.container)
    opts = dataclasses.replace(opts, container=container)
    if not container_running(pod, container):
        return web.Response(status=500, text=f'container not found ("{container}")')
    if provider is None:
        raise ApiError(400, "BadRequest", f'pod "{pod["metadata"]["name"]}" cannot be reached: no node agent '
                       "serves this cluster")
    meta = pod["metadata"]
    try:
        provider.check_container(meta["namespace"], meta["name"], container)
    except LookupError as exc:
        return web.Response(status=500, text=str(exc.args[0] if exc.args else exc))
    if not upgrading:
        raise ApiError(400, "BadRequest", f"Upgrade request required: pods/{subresource} is served over "
                       f"WebSocket ({' or '.join(channels.PROTOCOLS)}); SPDY is not served by this API server")
    protocol = websocket.negotiate(request, channels.PROTOCOLS)
    try:
        if subresource == "exec":
            session = await provider.open_exec(meta["namespace"], meta["name"], container=container,
                                               command=list(opts.command), stdin=opts.stdin, tty=opts.tty)
        else:
            session = await provider.open_attach(meta["namespace"], meta["name"], container=container,
                                                 stdin=opts.stdin, tty=opts.tty)
    except LookupError as exc:
        return web.Response(status=500, text=str(exc.args[0] if exc.args else exc))
    try:
        ws = await websocket.upgrade(request, protocol)
        await _pump(ws, protocol, session, opts)
    finally:
        await session.cancel()
    return ws


async def _pump(ws: web.WebSocketResponse, protocol: str, session: StreamSession, opts: StreamOptions) -> None:
    first = channels.STDOUT if opts.stdout else channels.STDERR if opts.stderr else channels.ERROR
    await ws.send_bytes(channels.encode(first))
    reader = asyncio.create_task(_from_client(ws, protocol, session, opts), name="exec-stdin")
    try:
        while (item := await session.output()) is not None:
            channel, data = item
            if not (opts.stderr if channel == channels.STDERR else opts.stdout):
                continue  # a stream the client did not ask for is dropped, as the runtime gets none for it
            await ws.send_bytes(channels.encode(channel, data))
        code = await session.wait()
        if not ws.closed:
            status = channels.exit_status(code, opts.command) if code is not None else channels.exit_status(0)
            await ws.send_bytes(channels.encode_status(status))
            await ws.close()
    except (ConnectionResetError, RuntimeError):  # the client went away mid-send (as the watch handler sees it)
        log.debug("exec_client_gone")
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader


async def _from_client(ws: web.WebSocketResponse, protocol: str, session: StreamSession,
                       opts: StreamOptions) -> None:
    """Client messages to the session; when the client goes away, the session is cancelled (guarantee 4)."""
    try:
        async for msg in ws:
            if msg.type not in (WSMsgType.BINARY, WSMsgType.TEXT):
                continue
            # the Python client sends str data as text messages; the kubelet reads both kinds as bytes
            data = msg.data if msg.type == WSMsgType.BINARY else str(msg.data).encode()
            try:
                frame = channels.decode(data, protocol)
            except channels.ProtocolError as exc:
                log.info("exec_bad_message: %s", exc)
                continue
            if isinstance(frame, channels.Close):
                if frame.channel == channels.STDIN and opts.stdin:
                    await session.stdin(None)
            elif frame.channel == channels.STDIN and opts.stdin:
                await session.stdin(frame.data)
            elif frame.channel == channels.RESIZE and opts.tty:
                try:
                    sizes = channels.decode_resize(frame.data)
                except channels.ProtocolError as exc:
                    log.info("exec_bad_resize: %s", exc)
                    continue
                for size in sizes:
                    session.resize(size.width, size.height)
    finally:
        if ws.closed or ws.close_code is not None:
            await session.cancel()


