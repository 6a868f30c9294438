"""The operator's only door to the Kubernetes API: raw-dict operations on any resource type.

Built on ``kubernetes.aio``'s ``ApiClient`` (configuration, authentication, aiohttp transport) but never
its typed models: requests go through ``param_serialize`` + ``call_api`` and the JSON is read here, so
a newer server's extra fields can never break decoding.

Guarantees:
1. Every request takes one token from the client-side ``TokenBucket`` (default 50 qps, burst 100)
   before it is sent; watches count once, when they are opened.
2. Every request has a timeout: ``timeout_s`` (default 30 s) for ordinary calls; a watch has a connect
   timeout and ends on the server's ``timeoutSeconds`` (the client gives up 30 s after that).
3. Every failure leaves as one of the ``rayservice.kube.errors`` classes, raised ``from`` the library's
   exception by ``translate_errors``; an HTTP error answer becomes the typed error of its ``Status``.
4. ``on_request(verb, resource, code)`` is called once per request, with the HTTP status or 0 when no
   answer arrived, whether the call succeeded or not.
5. Patches always send an explicit content type: merge patch unless asked otherwise; a JSON patch
   (RFC 6902) must be a list of operations.
6. ``list`` fills in each item's ``apiVersion`` and ``kind`` (the server omits them for built-ins), so
   listed and watched objects look alike; with ``limit`` it follows continue tokens to the end.
7. ``watch`` yields raw events (ADDED, MODIFIED, DELETED, BOOKMARK) as the server sends them; an ERROR
   event raises its typed error (410 -> ``Gone``) and ends the stream. Closing the iterator (or
   cancelling its consumer) closes the connection.
8. The environment's proxy settings (``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY``) for the API server are read
   once, when the client is built (``from_kubeconfig``/``in_cluster``), unless the kubeconfig names a proxy;
   no request reads the environment or ``~/.netrc`` again (the library's session would, in a thread, on
   every request: most of the client's CPU under load).
9. Only ``kubernetes.aio`` is loaded, not the synchronous client that the ``kubernetes`` package's
   ``__init__`` imports eagerly (``rayservice.kube._lean``, imported first by the package).
10. With a ``write_gate``, every write (create, update, patch, delete; status subresource included) calls it
   last before the request goes to the HTTP library (after the rate limiter's wait and the auth refresh, no
   await between); when it returns False the write raises ``NotLeader`` and nothing is sent (nor passed to
   ``on_request``). Reads and watches are never gated.

Caller must:
- ``await close()`` (or use ``async with``) once done, from the event loop that made the requests.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import AsyncGenerator, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final

import aiohttp
from aiohttp.helpers import get_env_proxy_for_url
from kubernetes.aio import client as k8s
from kubernetes.aio import config as k8s_config
from kubernetes.aio.client.exceptions import ApiException, OpenApiException
from yarl import URL

from rayservice.clock import SYSTEM_CLOCK, Clock
from rayservice.kube.errors import KubeConfigError, KubeError, KubeTransportError, NotLeader, error_from_response
from rayservice.kube.options import (
    JsonObject,
    ObjectList,
    Patch,
    PatchType,
    Preconditions,
    PropagationPolicy,
    Request,
    delete_options,
    list_query,
    patch_body,
    watch_query,
    with_type,
)
from rayservice.kube.ratelimit import TokenBucket
from rayservice.kube.resources import Resource
from rayservice.kube.watchstream import iter_events

OnRequest = Callable[[str, str, int], None]
WriteGate = Callable[[], bool]

JSON: Final = "application/json"
USER_AGENT: Final = "rayservice-operator/0.1"
_WATCH_READ_GRACE_S: Final = 30.0


@contextlib.contextmanager
def translate_errors() -> Iterator[None]:
    """Turn the HTTP and Kubernetes library's exceptions into ``rayservice.kube`` errors."""
    try:
        yield
    except ApiException as exc:
        retry_after = (exc.headers or {}).get("Retry-After")
        code = exc.status if isinstance(exc.status, int) else 0
        reason = str(exc.reason or "")
        raise error_from_response(code, exc.body or "", reason=reason, retry_after=retry_after) from exc
    except k8s_config.ConfigException as exc:
        raise KubeConfigError(str(exc)) from exc
    except OpenApiException as exc:
        raise KubeError(str(exc)) from exc
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise KubeTransportError(f"{type(exc).__name__}: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise KubeTransportError(f"response is not JSON: {exc}") from exc


class KubeClient:
    """Raw-dict CRUD, list and watch for any ``Resource``; build with ``from_kubeconfig``/``in_cluster``."""

    def __init__(
        self,
        api_client: Any,
        *,
        qps: float = 50.0,
        burst: int = 100,
        timeout_s: float = 30.0,
        clock: Clock = SYSTEM_CLOCK,
        on_request: OnRequest | None = None,
        field_manager: str = "rayservice-operator",
        write_gate: WriteGate | None = None,
    ) -> None:
        """Wrap a ``kubernetes.aio`` ``ApiClient``; prefer the ``from_kubeconfig``/``in_cluster`` builders."""
        self._api = api_client
        self._api.user_agent = USER_AGENT
        self._limiter = TokenBucket(qps=qps, burst=burst, clock=clock)
        self._timeout_s = timeout_s
        self._on_request = on_request or _ignore_request
        self._field_manager = field_manager
        self._write_gate = write_gate

    @classmethod
    async def from_kubeconfig(cls, path: str | Path, *, context: str | None = None, **options: Any) -> KubeClient:
        """A client for the cluster and user of a kubeconfig file (its current context by default)."""
        configuration = k8s.Configuration()
        with translate_errors():
            await k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=str(path),
                context=context,
                client_configuration=configuration,
                persist_config=False,
            )
        return cls(k8s.ApiClient(_environment_read_once(configuration)), **options)

    @classmethod
    def in_cluster(cls, **options: Any) -> KubeClient:
        """A client that authenticates with the pod's service account."""
        configuration = k8s.Configuration()
        with translate_errors():
            k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        return cls(k8s.ApiClient(_environment_read_once(configuration)), **options)

    async def close(self) -> None:
        await self._api.close()

    async def __aenter__(self) -> KubeClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # ---- reads ------------------------------------------------------------------------------------

    async def get(self, resource: Resource, name: str, *, namespace: str | None = None) -> JsonObject:
        path = resource.path(namespace=_ns(resource, namespace), name=name)
        return await self._call(Request("get", str(resource), "GET", path))

    async def list(
        self,
        resource: Resource,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
    ) -> ObjectList:
        """All matching objects (all namespaces when ``namespace`` is None), in pages of ``limit``."""
        path = resource.path(namespace=namespace)
        items: list[JsonObject] = []
        token = ""
        while True:
            query = list_query(label_selector, field_selector, limit, token)
            page = await self._call(Request("list", str(resource), "GET", path, query))
            items.extend(with_type(item, page) for item in page.get("items") or [])
            metadata = page.get("metadata") or {}
            token = metadata.get("continue") or ""
            if not limit or not token:
                return ObjectList(items, str(metadata.get("resourceVersion") or ""))

    async def watch(
        self,
        resource: Resource,
        *,
        namespace: str | None = None,
        resource_version: str | None = None,
        allow_watch_bookmarks: bool = True,
        timeout_seconds: int | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> AsyncGenerator[JsonObject, None]:
        """Events after ``resource_version`` (or synthetic ADDED for every object when it is None)."""
        query = watch_query(resource_version, allow_watch_bookmarks, timeout_seconds, label_selector, field_selector)
        read_s = None if timeout_seconds is None else timeout_seconds + _WATCH_READ_GRACE_S
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self._timeout_s, sock_read=read_s)
        request = Request("watch", str(resource), "GET", resource.path(namespace=namespace), query)
        resp = await self._open(request, timeout)
        try:
            async with contextlib.aclosing(iter_events(functools.partial(_read_chunk, resp))) as events:
                async for event in events:
                    yield event
        finally:
            resp.close()

    # ---- writes -----------------------------------------------------------------------------------

    async def create(self, resource: Resource, body: Mapping[str, Any], *, namespace: str | None = None) -> JsonObject:
        ns = _ns(resource, namespace or (body.get("metadata") or {}).get("namespace"))
        return await self._call(self._write("create", resource, "POST", resource.path(namespace=ns), body))

    async def replace(
        self, resource: Resource, name: str, body: Mapping[str, Any], *, namespace: str | None = None
    ) -> JsonObject:
        """PUT the whole object; include ``metadata.resourceVersion`` to make it conditional."""
        path = resource.path(namespace=_ns(resource, namespace), name=name)
        return await self._call(self._write("update", resource, "PUT", path, body))

    async def replace_status(
        self, resource: Resource, name: str, body: Mapping[str, Any], *, namespace: str | None = None
    ) -> JsonObject:
        path = resource.path(namespace=_ns(resource, namespace), name=name, subresource="status")
        return await self._call(self._write("update", resource, "PUT", path, body, status=True))

    async def patch(
        self,
        resource: Resource,
        name: str,
        patch: Patch,
        *,
        namespace: str | None = None,
        patch_type: PatchType = PatchType.MERGE,
    ) -> JsonObject:
        path = resource.path(namespace=_ns(resource, namespace), name=name)
        body = patch_body(patch, patch_type)
        return await self._call(self._write("patch", resource, "PATCH", path, body, patch_type))

    async def patch_status(
        self,
        resource: Resource,
        name: str,
        patch: Patch,
        *,
        namespace: str | None = None,
        patch_type: PatchType = PatchType.MERGE,
    ) -> JsonObject:
        path = resource.path(namespace=_ns(resource, namespace), name=name, subresource="status")
        body = patch_body(patch, patch_type)
        return await self._call(self._write("patch", resource, "PATCH", path, body, patch_type, status=True))

    async def delete(
        self,
        resource: Resource,
        name: str,
        *,
        namespace: str | None = None,
        propagation_policy: PropagationPolicy | None = None,
        preconditions: Preconditions | None = None,
        grace_period_s: int | None = None,
    ) -> JsonObject:
        """Delete; returns what the server answered (the object, or a success ``Status``)."""
        options = delete_options(propagation_policy, preconditions, grace_period_s)
        path = resource.path(namespace=_ns(resource, namespace), name=name)
        return await self._call(Request("delete", str(resource), "DELETE", path, body=options, write=True))

    # ---- plumbing ---------------------------------------------------------------------------------

    def _write(
        self,
        verb: str,
        resource: Resource,
        method: str,
        path: str,
        body: Any,
        ctype: str = JSON,
        *,
        status: bool = False,
    ) -> Request:
        query = (("fieldManager", self._field_manager),) if self._field_manager else ()
        label = f"{resource}/status" if status else str(resource)
        return Request(verb, label, method, path, query, body, ctype, write=True)

    async def _call(self, request: Request) -> JsonObject:
        resp = await self._open(request, aiohttp.ClientTimeout(total=self._timeout_s))
        try:
            with translate_errors():
                data = await resp.read()
                decoded = json.loads(data) if data else {}
        finally:
            resp.release()
        if not isinstance(decoded, dict):
            raise KubeTransportError(f"{request.method} {request.path}: answer is not a JSON object")
        return decoded

    async def _open(self, request: Request, client_timeout: aiohttp.ClientTimeout) -> aiohttp.ClientResponse:
        """Send one request; return the response when it is 2xx, raise its typed error otherwise."""
        await self._limiter.wait()
        code, refused = 0, False
        try:
            with translate_errors():
                # The body goes to the transport as it is (plain JSON values, encoded once there): the
                # library's per-key walk for its model classes was 3 % of the operator's CPU under load.
                method, url, headers, _, _ = await self._api.param_serialize(
                    method=request.method,
                    resource_path=request.path,
                    query_params=list(request.query),
                    header_params={"Accept": JSON, "Content-Type": request.content_type},
                    body=None,
                    auth_settings=["BearerToken"],
                )
                if request.write and self._write_gate is not None and not self._write_gate():
                    # Last check, with no await between it and the HTTP library taking the request (guarantee 10).
                    refused = True
                    raise NotLeader(f"{request.verb} {request.resource}: not sent, this replica is not the leader")
                rest = await self._api.call_api(
                    method, url, header_params=headers, body=request.body, _request_timeout=client_timeout
                )
                resp: aiohttp.ClientResponse = rest.response
                code = resp.status
                if code >= 400:
                    try:
                        text = (await resp.read()).decode("utf-8", "replace")
                    finally:
                        resp.release()
                    error = ApiException(status=code, reason=resp.reason, body=text)
                    error.headers = resp.headers
                    raise error
                return resp
        finally:
            if not refused:
                self._on_request(request.verb, request.resource, code)


def _environment_read_once(configuration: Any) -> Any:
    """Guarantee 8: the env proxy for the API server settled now, and a session that never reads env or netrc."""
    if not configuration.proxy:
        with contextlib.suppress(LookupError, ValueError):
            proxy, auth = get_env_proxy_for_url(URL(configuration.host))
            configuration.proxy = str(proxy)
            if auth is not None:
                configuration.proxy_headers = {"Proxy-Authorization": auth.encode()}
    configuration.client_session_kwargs = {**(configuration.client_session_kwargs or {}), "trust_env": False}
    return configuration


def _ns(resource: Resource, namespace: str | None) -> str | None:
    if resource.namespaced and not namespace:
        raise ValueError(f"{resource} is namespaced: a namespace is required")
    return namespace if resource.namespaced else None


async def _read_chunk(resp: aiohttp.ClientResponse) -> bytes:
    with translate_errors():
        return await resp.content.readany()


def _ignore_request(verb: str, resource: str, code: int) -> None:
    del verb, resource, code
