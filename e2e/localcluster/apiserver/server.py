"""The embedded API server as one object: storage, REST semantics, HTTP app, controllers, kubeconfig.

Guarantees:
1. `start()` listens on loopback (port 0 picks a free one), creates the standard namespaces and starts the
   cluster controllers (garbage collector, namespaces, CRD cleanup, EndpointSlices, Gateway API); `stop()` ends
   watches, controllers and the listener, and leaves no task running. With `advertise_address`
   (kube-apiserver's --advertise-address; in `up` mode the node bridge's address, where pods reach the
   server) it also listens there on the same port, even before that address exists, and keeps the
   `kubernetes` Service of `default` pointing at it (controllers/kubernetes_service.py).
2. CRDs written through the API are served (or withdrawn) before the write's response is sent.
3. `write_kubeconfig` produces a file that kubectl and the `kubernetes` client accept: with `tls=True` it names
   the https URL, carries the CA (`certificate-authority-data`) and the admin's client certificate
   (CN=kubernetes-admin, O=system:masters, as kind writes it); in plain-HTTP mode it carries no credential.
4. With `tls=True`, `start()` loads or makes the PKI under `state_dir` (see `auth.certs`) before listening, and
   every request is authenticated (`auth.authn`): no or a bad credential is a 401. In plain-HTTP mode (the
   default, for unit tests) a request without a credential is the admin; bearer tokens are still checked.
5. `authorizer` decides every authenticated request: RBAC (`auth.setup.enable_rbac`: the authorizer, escalation
   checks and bootstrap roles) when `rbac` is true, which is the default with `tls=True`; else `AllowAll`.
6. `start()` installs the Gateway API v1.4.1 standard-channel CRDs (GatewayClass, Gateway, HTTPRoute; vendored
   in `e2e/localcluster/gatewayapi`) when they are missing, as a platform offering the Gateway API does; a
   restart keeps the ones it finds unchanged (a user's newer version stays); one deleted meanwhile comes back.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import yaml
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from e2e.localcluster.gateway import vendored_crds

from . import errors
from .advertise import advertise_socket
from .auth.attributes import AllowAll, Authorizer
from .auth.authn import Authenticator
from .auth.certs import Pki, ensure_pki, server_ssl_context, serving_sans
from .auth.setup import enable_rbac
from .auth.tokens import TokenIssuer
from .controllers.kubernetes_service import check_endpoint_address
from .controllers.runner import Controllers
from .errors import ApiError
from .faults import Faults
from .http.app import build_app
from .http.portforward import PortForwardProvider
from .http.portforward import serve as serve_port_forward
from .http.streaming import ExecProvider
from .http.streaming import serve as serve_stream
from .schema import crds
from .schema.builtins import bind_pod, builtin_hooks
from .schema.resources import Registry, ResourceType
from .storage.objects import meta
from .storage.rest import Api
from .storage.store import Store

CRD_GR = ("apiextensions.k8s.io", "customresourcedefinitions")
STANDARD_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
LogProvider = Callable[[str, str, dict[str, str]], Awaitable[web.StreamResponse]]


class NodeSimulator(Protocol):
    """The simulated node as the server and its tests drive it (`e2e.localcluster.node.simnode`)."""

    async def run(self) -> None: ...

    def set_pod_ready(self, namespace: str, name: str, ready: bool) -> None: ...

    def fail_pod(self, namespace: str, name: str) -> None: ...


def _simulated_node(api: Api) -> NodeSimulator:
    # Imported here, not at the top: the simulated node is built on this package's storage layer, so a
    # module-level import would make `node.simnode` and this package import each other.
    from e2e.localcluster.node.simnode import SimulatedNode

    return SimulatedNode(api)


class LocalApiServer:
    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, service_cidr: str = "10.96.0.0/16",
                 bookmark_interval_s: float = 10.0, history_size: int = 20000,
                 simulate_node: bool = False, tls: bool = False, state_dir: str | Path | None = None,
                 extra_sans: Sequence[str] = (), advertise_address: str | None = None,
                 rbac: bool | None = None) -> None:
        if tls and state_dir is None:
            raise ValueError("a TLS API server needs a state_dir to keep its CA and certificates in")
        self.host = host
        self.port = port
        self.tls = tls
        self.state_dir = Path(state_dir) if state_dir is not None else None
        listen = [a for a in (host, advertise_address) if a and a != "0.0.0.0"]
        self.sans = serving_sans(service_cidr, [*extra_sans, *listen])  # every address it listens on
        self.pki: Pki | None = None
        self._issuer: TokenIssuer | None = None
        self.authorizer: Authorizer = AllowAll()
        self.store = Store(history_size=history_size)
        self.registry = Registry()
        hooks = builtin_hooks(service_cidr)
        hooks.prepare_create[CRD_GR] = _prepare_crd
        self.api = Api(self.store, self.registry, hooks)
        self.faults = Faults()
        self.authenticator = Authenticator(self.token_issuer, self.store, now=time.time, insecure=not tls)
        if tls if rbac is None else rbac:
            enable_rbac(self)
        self.bookmark_interval_s = bookmark_interval_s
        self.stopping = asyncio.Event()
        self.advertise_address = advertise_address and check_endpoint_address(advertise_address)
        self.controllers = Controllers(self.api, service_cidr=service_cidr)
        self.log_provider: LogProvider | None = None
        self.exec_provider: ExecProvider | None = None  # pods/exec and pods/attach (the node agent, set by up)
        self.portforward_provider: PortForwardProvider | None = None  # pods/portforward (the node, set by up)
        self.sim_node = _simulated_node(self.api) if simulate_node else None
        self._sim_task: asyncio.Task[None] | None = None
        self._runner: web.AppRunner | None = None
        self._crd_task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    def token_issuer(self) -> TokenIssuer:
        """The ServiceAccount token signer: the state folder's key with TLS, else one made on first use."""
        if self._issuer is None:
            if self.pki is not None:
                key = self.pki.sa_key
            else:
                key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            self._issuer = TokenIssuer(key)
        return self._issuer

    async def start(self) -> None:
        ssl_context = None
        if self.tls:
            assert self.state_dir is not None
            self.pki = ensure_pki(self.state_dir, self.sans)
            self._issuer = None
            ssl_context = server_ssl_context(self.pki)
            self.controllers.namespaces.root_ca_pem = self.pki.ca_cert_pem.decode()
        for ns in STANDARD_NAMESPACES:
            if self.store.get(("", "namespaces"), "", ns) is None:
                self.api.create(self.registry.lookup("", "v1", "namespaces"),  # type: ignore[arg-type]
                                "", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        self._install_builtin_crds()
        await self.controllers.start()
        self._crd_task = asyncio.create_task(self._follow_crds(), name="localcluster-crds")
        if self.sim_node is not None:
            self._sim_task = asyncio.create_task(self.sim_node.run(), name="localcluster-simnode")
        self._runner = web.AppRunner(build_app(self), access_log=None, handle_signals=False,
                                     shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True, ssl_context=ssl_context)
        await site.start()
        if self.port == 0:
            server = site._server
            assert server is not None
            sockets = getattr(server, "sockets", None) or []
            self.port = sockets[0].getsockname()[1]
        if self.advertise_address:
            await web.SockSite(self._runner, advertise_socket(self.advertise_address, self.port),
                               ssl_context=ssl_context).start()
            self.controllers.kubernetes_service.serve_at(self.advertise_address, self.port)

    async def stop(self) -> None:
        self.stopping.set()
        self.store.drop_watches()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        for task in (self._crd_task, self._sim_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._crd_task = self._sim_task = None
        await self.controllers.stop()

    async def __aenter__(self) -> LocalApiServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def write_kubeconfig(self, path: str | Path, namespace: str = "default") -> Path:
        cluster: dict[str, Any] = {"server": self.url}
        user: dict[str, Any] = {}
        if self.pki is not None:
            cluster["certificate-authority-data"] = base64.b64encode(self.pki.ca_cert_pem).decode()
            user = {"client-certificate-data": base64.b64encode(self.pki.admin_cert_pem).decode(),
                    "client-key-data": base64.b64encode(self.pki.admin_key_pem).decode()}
        cfg = {
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "localcluster", "cluster": cluster}],
            "users": [{"name": "localcluster", "user": user}],
            "contexts": [{"name": "localcluster", "context": {"cluster": "localcluster", "user": "localcluster",
                                                               "namespace": namespace}}],
            "current-context": "localcluster",
        }
        p = Path(path)
        tmp = p.with_suffix(p.suffix + ".tmp")
        tmp.write_text(yaml.safe_dump(cfg))
        tmp.chmod(0o600)  # it may hold the admin's private key
        tmp.replace(p)
        return p

    # ---- hooks used by the HTTP layer -------------------------------------------------------------

    def set_gc_paused(self, paused: bool) -> None:
        self.controllers.set_gc_paused(paused)

    def bind_pod(self, namespace: str, name: str, binding: dict[str, Any]) -> dict[str, Any]:
        return bind_pod(self.api, namespace, name, binding)

    async def pod_log(self, namespace: str, name: str, query: dict[str, str]) -> web.StreamResponse:
        rt = self.registry.lookup("", "v1", "pods")
        assert rt is not None
        self.api.get(rt, namespace, name)
        if self.log_provider is None:
            raise ApiError(400, "BadRequest", f'container logs for pod "{name}" are not available: no node '
                           "agent serves this cluster")
        return await self.log_provider(namespace, name, query)

    async def pod_stream(self, request: web.Request, namespace: str, name: str,
                         subresource: str) -> web.StreamResponse:
        rt = self.registry.lookup("", "v1", "pods")
        assert rt is not None
        return await serve_stream(request, self.api.get(rt, namespace, name), subresource, self.exec_provider)

    async def pod_port_forward(self, request: web.Request, namespace: str, name: str) -> web.StreamResponse:
        rt = self.registry.lookup("", "v1", "pods")  # authorized before (create, for the WebSocket GET too)
        assert rt is not None
        return await serve_port_forward(request, self.api.get(rt, namespace, name), self.portforward_provider)

    def deprecation_warnings(self, rt: ResourceType) -> list[str]:
        if rt.group_resource == ("", "endpoints"):
            return ["v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"]
        if rt.crd is not None:
            for v in rt.crd["spec"]["versions"]:
                if v["name"] == rt.version and v.get("deprecated"):
                    storage = rt.storage_version
                    default = f"{rt.api_version} {rt.kind} is deprecated; use {rt.group}/{storage} {rt.kind}"
                    return [v.get("deprecationWarning") or default]
        return []

    def after_write(self, rt: ResourceType) -> None:
        if rt.group_resource == CRD_GR:
            self.sync_crds()

    # ---- CRDs ------------------------------------------------------------------------------------

    def _install_builtin_crds(self) -> None:
        """The CRDs a platform ships (the Gateway API's): created when missing, an existing one is kept."""
        rt = self.registry.lookup(CRD_GR[0], "v1", CRD_GR[1])
        assert rt is not None
        for crd in vendored_crds():
            if self.store.get(CRD_GR, "", crd["metadata"]["name"]) is None:
                self.api.create(rt, "", crd)
        self.sync_crds()

    def sync_crds(self) -> None:
        """Serve exactly the established CRDs in the store; establish new ones."""
        wanted: dict[tuple[str, str], list[ResourceType]] = {}
        for crd in self.store.list(CRD_GR):
            types = crds.resource_types_for(crd)
            if not types:
                continue
            wanted[types[0].group_resource] = types
            if not _established(crd) and not meta(crd).get("deletionTimestamp"):
                status = crds.crd_status_accepted(crd, self.api.now())
                self.store.put(CRD_GR, {**crd, "status": status})
        served = {rt.group_resource for rt in self.registry if rt.is_custom}
        for gr in served - set(wanted):
            self.registry.remove_group_resource(*gr)
            self.api.forget_schemas(*gr)
        for gr, types in wanted.items():
            current = [rt for rt in self.registry if rt.group_resource == gr]
            if [rt.crd for rt in current] != [rt.crd for rt in types] or len(current) != len(types):
                self.registry.remove_group_resource(*gr)
                self.api.forget_schemas(*gr)
                for rt in types:
                    self.registry.add(rt)

    async def _follow_crds(self) -> None:
        sub = self.store.subscribe(CRD_GR)
        try:
            while True:
                ev = await sub.queue.get()
                if ev is None:
                    return
                self.sync_crds()
        finally:
            self.store.unsubscribe(sub)


def _prepare_crd(api: Api, rt: ResourceType, crd: dict[str, Any]) -> dict[str, Any]:
    causes = crds.validate_crd(crd)
    if causes:
        raise errors.invalid(rt.group, rt.kind, meta(crd).get("name", ""), causes)
    return crds.crd_defaults(crd)


def _established(crd: dict[str, Any]) -> bool:
    for cond in (crd.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Established" and cond.get("status") == "True":
            return True
    return False
