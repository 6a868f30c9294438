"""The HTTP face of the embedded API server: routing, content negotiation, errors, watches, test hooks.

Guarantees:
1. Every answer is either the resource, a Table/YAML rendering of it, a watch stream, or a `Status`
   with kube's code and reason; an unexpected exception is a 500 `Status`, never a dropped connection,
   and the server keeps serving.
2. Unknown API groups and unknown resources of custom groups answer `404 page not found` as text, like
   kube-apiserver's mux; an unknown core resource answers a JSON NotFound `Status`.
3. Every request is recorded (verb, resource, code) and passes the fault rules first.
4. Every request is authenticated first (`Backend.authenticator`; 401 Status on failure), then impersonation
   headers are applied and the request is authorized (`Backend.authorizer`; 403 Status as kube words it, see
   `auth.authorize`); the acting user is kept on the request under `USER` for the review endpoints; the test
   hooks (`/_localcluster/...`) need a `system:masters` user.
5. TokenRequest (`serviceaccounts/NAME/token`), TokenReview and SelfSubjectReview are answered by
   `auth.authenticationapi`; nothing of them is stored.
6. The access reviews of authorization.k8s.io (`auth.reviews`, what `kubectl auth can-i` sends) are answered
   with the server's authorizer; nothing of them is stored.

Caller must: pass a `Backend` (the `LocalApiServer` is one); this module does not import the server.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import Any, Protocol

from aiohttp import web

from e2e.localcluster.apiserver import errors
from e2e.localcluster.apiserver.auth import authenticationapi, reviews
from e2e.localcluster.apiserver.auth.attributes import Authorizer
from e2e.localcluster.apiserver.auth.authn import Authenticator
from e2e.localcluster.apiserver.auth.authorize import authorize_request
from e2e.localcluster.apiserver.auth.escalation import REQUEST_USER
from e2e.localcluster.apiserver.auth.tokens import TokenIssuer
from e2e.localcluster.apiserver.auth.user import MASTERS, UserInfo
from e2e.localcluster.apiserver.errors import ApiError
from e2e.localcluster.apiserver.faults import FaultRule, Faults, RequestInfo
from e2e.localcluster.apiserver.schema import validation
from e2e.localcluster.apiserver.schema.resources import Registry, ResourceType
from e2e.localcluster.apiserver.storage import scale
from e2e.localcluster.apiserver.storage.rest import Api
from e2e.localcluster.apiserver.storage.store import Store

from . import bodies, discovery, eventsview, openapi, protobuf, tables
from .routing import ResourcePath, parse_resource_path, verb_of
from .watch import Watcher, WatchOptions, encode

log = logging.getLogger(__name__)
JSON = "application/json"
TRUE = ("true", "1", "True")
USER = web.RequestKey("localcluster.user", UserInfo)  # the authenticated user of a request


class Backend(Protocol):
    """What the HTTP layer serves: the REST layer and its parts, the fault rules, and the server's hooks."""

    @property
    def api(self) -> Api: ...
    @property
    def store(self) -> Store: ...
    @property
    def registry(self) -> Registry: ...
    @property
    def faults(self) -> Faults: ...
    @property
    def host(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def stopping(self) -> asyncio.Event: ...
    @property
    def bookmark_interval_s(self) -> float: ...
    @property
    def authenticator(self) -> Authenticator: ...
    @property
    def authorizer(self) -> Authorizer: ...

    def token_issuer(self) -> TokenIssuer: ...

    def after_write(self, rt: ResourceType) -> None: ...

    def bind_pod(self, namespace: str, name: str, binding: dict[str, Any]) -> dict[str, Any]: ...

    async def pod_log(self, namespace: str, name: str, query: dict[str, str]) -> web.StreamResponse: ...

    async def pod_stream(self, request: web.Request, namespace: str, name: str,
                         subresource: str) -> web.StreamResponse: ...

    async def pod_port_forward(self, request: web.Request, namespace: str, name: str) -> web.StreamResponse: ...

    def deprecation_warnings(self, rt: ResourceType) -> list[str]: ...

    def set_gc_paused(self, paused: bool) -> None: ...


def build_app(server: Backend) -> web.Application:
    app = web.Application(client_max_size=64 * 1024 * 1024)
    handler = _Handler(server)
    app.router.add_route("*", "/{tail:.*}", handler.handle)
    return app


def _json_response(body: Any, status: int = 200, content_type: str = JSON,
                   warnings: list[str] | None = None) -> web.Response:
    resp = web.Response(body=bodies.encode_json(body), status=status)
    resp.headers["Content-Type"] = content_type
    for w in warnings or []:
        resp.headers.add("Warning", bodies.warning_header(w))
    return resp


def _error_response(err: ApiError) -> web.Response:
    resp = _json_response(err.to_status(), err.code)
    for k, v in err.headers.items():
        resp.headers[k] = v
    return resp


def _text_404() -> web.Response:
    return web.Response(text="404 page not found\n", status=404, content_type="text/plain")


class _Handler:
    def __init__(self, server: Backend) -> None:
        self.s = server

    async def handle(self, request: web.Request) -> web.StreamResponse:
        info = RequestInfo(method=request.method, path=request.path, query=dict(request.query),
                           user_agent=request.headers.get("User-Agent", ""))
        rp = parse_resource_path(request.path)
        if rp is not None:
            info.group, info.version, info.resource = rp.group, rp.version, rp.resource
            info.namespace, info.name, info.subresource = rp.namespace, rp.name, rp.subresource
            info.verb = verb_of(request.method, rp, request.query.get("watch") in TRUE)
        resp: web.StreamResponse
        REQUEST_USER.set(None)
        try:
            user = self.s.authenticator.authenticate(path=request.path,
                                                     authorization=request.headers.get("Authorization"),
                                                     peercert=_peercert(request))
            # then impersonation and authorization (403); the REST layer's RBAC escalation checks read the
            # acting user from REQUEST_USER (a ContextVar: this request's task only)
            user, _ = authorize_request(self.s.authorizer, user, request.method, request.path, request.query,
                                        list(request.headers.items()))
            request[USER] = user
            REQUEST_USER.set(user)
            rule = None if request.path.startswith("/_localcluster") else self.s.faults.match(info)
            if rule is not None:
                if rule.delay_s:
                    await asyncio.sleep(rule.delay_s)
                if rule.code:
                    raise rule.error()
            if rp is None:
                resp = await self._non_resource(request)
            else:
                resp = await self._resource(request, rp, info)
        except ApiError as err:
            resp = _error_response(err)
        except asyncio.CancelledError:
            raise
        except ConnectionResetError:
            info.code = 499
            self.s.faults.record(info)
            raise
        except Exception as exc:  # a bug must become a 500, never a dead server
            log.exception("internal error serving %s %s", request.method, request.path)
            resp = _error_response(errors.internal(repr(exc)))
        info.code = resp.status
        self.s.faults.record(info)
        return resp

    # ---- discovery, openapi, health, test hooks ------------------------------------------------------

    async def _non_resource(self, request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"
        reg = self.s.registry
        aggregated = tables.parse_accept(request.headers.get("Accept", ""), allow_discovery=True).kind == "discovery"
        agg_type = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
        if path in ("/healthz", "/readyz", "/livez"):
            return web.Response(text="ok", content_type="text/plain")
        if path == "/version":
            return _json_response(discovery.version_info())
        if path == "/api":
            if aggregated:
                return _json_response(discovery.aggregated_discovery(reg, core=True), content_type=agg_type)
            return _json_response(discovery.api_versions(f"{self.s.host}:{self.s.port}"))
        if path == "/apis":
            if aggregated:
                return _json_response(discovery.aggregated_discovery(reg, core=False), content_type=agg_type)
            return _json_response(discovery.api_group_list(reg))
        parts = [p for p in path.split("/") if p]
        if parts[:1] == ["api"] and len(parts) == 2:
            body = discovery.api_resource_list(reg, "", parts[1])
            return _json_response(body) if body is not None else _text_404()
        if parts[:1] == ["apis"] and len(parts) == 2:
            group = discovery.api_group(reg, parts[1])
            return _json_response(group) if group is not None else _text_404()
        if parts[:1] == ["apis"] and len(parts) == 3:
            body = discovery.api_resource_list(reg, parts[1], parts[2])
            return _json_response(body) if body is not None else _text_404()
        if path == "/openapi/v2":
            return _json_response(openapi.openapi_v2(reg))
        if path == "/openapi/v3":
            return _json_response(openapi.openapi_v3_index(reg))
        if parts[:2] == ["openapi", "v3"]:
            gv = parts[2:]
            if gv[:1] == ["api"] and len(gv) == 2:
                doc = openapi.openapi_v3_group_version(reg, "", gv[1])
            elif gv[:1] == ["apis"] and len(gv) == 3:
                doc = openapi.openapi_v3_group_version(reg, gv[1], gv[2])
            else:
                doc = None
            return _json_response(doc) if doc is not None else _text_404()
        if parts[:1] == ["_localcluster"]:
            if MASTERS not in request[USER].groups:
                raise ApiError(403, "Forbidden", f'forbidden: User "{request[USER].name}" cannot use the test hooks')
            return await self._hooks(request, parts[1:])
        return _text_404()

    async def _hooks(self, request: web.Request, parts: list[str]) -> web.StreamResponse:
        """Out-of-process test hooks: faults, request log, watch drops, GC pause."""
        faults = self.s.faults
        what = parts[0] if parts else ""
        if what == "requests":
            if request.method == "DELETE":
                faults.log.clear()
                return _json_response({})
            return _json_response({"requests": [r.to_dict() for r in faults.log]})
        if what == "faults":
            if request.method == "DELETE":
                faults.clear()
                return _json_response({})
            body, _ = bodies.decode_json(await request.read())
            for raw in body.get("rules", []):
                faults.add(FaultRule(**raw))
            if body.get("expire_next_watches"):
                faults.expire_next_watches += int(body["expire_next_watches"])
            return _json_response({"rules": len(faults.rules)})
        if what == "drop-watches":
            return _json_response({"dropped": self.s.store.drop_watches()})
        if what == "gc" and request.method == "POST":
            body, _ = bodies.decode_json(await request.read())
            self.s.set_gc_paused(bool(body.get("paused")))
            return _json_response({"paused": bool(body.get("paused"))})
        if what == "stats":
            return _json_response({"resourceVersion": self.s.store.current_rv,
                                   "writes": self.s.store.write_count,
                                   "watches": self.s.store.subscriber_count})
        return _text_404()

    # ---- resources ----------------------------------------------------------------------------------

    async def _resource(self, request: web.Request, rp: ResourcePath, info: RequestInfo) -> web.StreamResponse:
        reg = self.s.registry
        if (rp.group, rp.version, rp.resource) == ("events.k8s.io", "v1", "events"):
            return self._events_v1(request, rp)
        rt = reg.lookup(rp.group, rp.version, rp.resource)
        if rt is None:
            if rp.group == "" and rp.version == "v1":
                raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
            return _text_404()
        if rp.subresource and rp.subresource not in rt.subresources:
            return _text_404() if rt.is_custom else _error_response(
                ApiError(404, "NotFound", "the server could not find the requested resource", {}))
        if rt.namespaced and not rp.namespace and request.method != "GET":
            raise errors.method_not_allowed("the server does not allow this method on the requested resource")
        if request.method == "GET" and not rp.name and not rp.subresource and "list" not in rt.verbs:
            # a create-only kind (the reviews): kube-apiserver has no GET route for its collection
            raise errors.method_not_allowed("the server does not allow this method on the requested resource")
        q = request.query
        api = self.s.api
        api.current_manager = q.get("fieldManager") or info.user_agent.split("/")[0] or "unknown"
        warnings = list(self.s.deprecation_warnings(rt))
        field_validation = q.get("fieldValidation", "")
        dry_run = bool(q.get("dryRun"))
        accept = tables.parse_accept(request.headers.get("Accept", ""))
        m = request.method
        if m == "GET" and q.get("watch") in TRUE:
            return await self._watch(request, rp, rt)
        if m in ("GET", "POST") and rp.subresource in ("exec", "attach"):
            return await self.s.pod_stream(request, rp.namespace, rp.name, rp.subresource)
        if rp.subresource == "portforward":
            return await self.s.pod_port_forward(request, rp.namespace, rp.name)
        if m == "GET" and rp.subresource == "log":
            return await self.s.pod_log(rp.namespace, rp.name, dict(q))
        if rp.subresource == "scale" and scale.is_scalable(rt):
            out = scale.serve(api, rt, rp.namespace, rp.name, m, request.headers.get("Content-Type", JSON),
                              await request.read(), dry_run=dry_run)
            if m != "GET":
                self.s.after_write(rt)
            return self._encode(accept.kind if accept.kind == "yaml" else "json", out, warnings)
        if m == "GET" and rp.name:
            obj = api.output(rt, api.get(rt, rp.namespace, rp.name))
            return self._render(accept, rt, [obj], single=True, warnings=warnings, q=q)
        if m == "GET":
            res = api.list(rt, rp.namespace if rt.namespaced and rp.namespace else None,
                           label_selector=q.get("labelSelector", ""), field_selector=q.get("fieldSelector", ""),
                           limit=int(q.get("limit", "0") or 0), continue_token=q.get("continue", ""))
            items = [api.output(rt, o) for o in res.items]
            if not rt.is_custom:  # built-in lists carry kind and apiVersion only on the list itself
                items = [{k: v for k, v in o.items() if k not in ("apiVersion", "kind")} for o in items]
            lmeta: dict[str, Any] = {"resourceVersion": res.rv}
            if rt.is_custom or res.continue_token:
                lmeta["continue"] = res.continue_token
            if res.remaining is not None:
                lmeta["remainingItemCount"] = res.remaining
            if accept.kind in ("json", "yaml"):
                body = {"apiVersion": rt.api_version, "items": items, "kind": rt.list_kind, "metadata": lmeta}
                return self._encode(accept.kind, body, warnings)
            return self._render(accept, rt, items, single=False, warnings=warnings, q=q, list_rv=res.rv)
        raw = await request.read()
        ctype = request.headers.get("Content-Type", JSON).split(";")[0].strip()
        if m == "POST" and (rp.subresource == "token" or rt.group == authenticationapi.GROUP):
            body, _ = self._decode_body(raw, ctype, "TokenRequest" if rp.subresource == "token" else rt.kind)
            return _json_response(self._authentication(request, rp, rt, body), 201)
        if m == "POST" and rt.group_resource in reviews.REVIEW_RESOURCES:
            body, _ = self._decode_body(raw, ctype, rt.kind)
            return _json_response(reviews.review(rt.plural, body, request[USER], self.s.authorizer, rp.namespace),
                                  201)
        if m == "POST" and (rp.subresource == "binding" or rp.resource == "bindings"):
            body, _ = bodies.decode_json(raw)
            target = rp.name or (body.get("metadata") or {}).get("name", "")
            return _json_response(self.s.bind_pod(rp.namespace, target, body), 201)
        if m == "POST":
            body, dups = self._decode_body(raw, ctype, rt.kind)
            result = api.create(rt, rp.namespace, body, field_validation=field_validation, duplicates=dups,
                                dry_run=dry_run)
            self.s.after_write(rt)
            return self._encode(accept.kind if accept.kind == "yaml" else "json", result.obj,
                                warnings + result.warnings, 201)
        if m == "PUT":
            body, dups = self._decode_body(raw, ctype, rt.kind)
            sub = rp.subresource if rp.subresource == "status" else ""
            result = api.update(rt, rp.namespace, rp.name, body, subresource=sub,
                                field_validation=field_validation, duplicates=dups, dry_run=dry_run)
            self.s.after_write(rt)
            return self._encode(accept.kind if accept.kind == "yaml" else "json", result.obj,
                                warnings + result.warnings)
        if m == "PATCH":
            if validation.check_patch_type(rt, ctype) == "application/apply-patch+yaml":
                body = bodies.decode_yaml(raw)
            else:
                body = validation.decode_patch_body(ctype, raw, field_validation)
            result = api.patch(rt, rp.namespace, rp.name, ctype, body,
                               subresource="status" if rp.subresource == "status" else "",
                               field_validation=field_validation, field_manager=q.get("fieldManager", ""),
                               force=q.get("force") in TRUE, dry_run=dry_run)
            self.s.after_write(rt)
            return self._encode(accept.kind if accept.kind == "yaml" else "json", result.obj,
                                warnings + result.warnings)
        if m == "DELETE":
            options: dict[str, Any] = {}
            if raw.strip():
                body, _ = bodies.decode_json(raw)
                if isinstance(body, dict):
                    options.update(body)
            if "propagationPolicy" in q:
                options["propagationPolicy"] = q["propagationPolicy"]
            if "gracePeriodSeconds" in q:
                options["gracePeriodSeconds"] = int(q["gracePeriodSeconds"])
            if not rp.name:
                return self._delete_collection(rt, rp, options, q, warnings)
            out, _is_obj = api.delete(rt, rp.namespace, rp.name, options)
            self.s.after_write(rt)
            return _json_response(out, warnings=warnings)
        raise errors.method_not_allowed(f"method {m} is not supported")

    def _authentication(self, request: web.Request, rp: ResourcePath, rt: ResourceType, body: Any) -> dict[str, Any]:
        """TokenRequest, TokenReview and SelfSubjectReview (guarantee 5)."""
        if rp.subresource == "token":
            return authenticationapi.create_token(self.s.store, self.s.token_issuer(), rp.namespace, rp.name, body,
                                                  time.time())
        authenticationapi.reject_wrong_body(body, rt.kind)
        if rt.kind == "TokenReview":
            return authenticationapi.token_review(self.s.authenticator, body)
        user: UserInfo = request[USER]
        return authenticationapi.self_subject_review(user)

    def _events_v1(self, request: web.Request, rp: ResourcePath) -> web.StreamResponse:
        """Read-only events.k8s.io/v1 view over the core Events (writes go through core/v1)."""
        rt = self.s.registry.lookup("", "v1", "events")
        assert rt is not None
        if request.method != "GET" or request.query.get("watch") in TRUE:
            raise errors.method_not_allowed("events.k8s.io/v1 is served read-only here; write core/v1 Events")
        api, q = self.s.api, request.query
        if rp.name:
            return _json_response({"kind": "Event", "apiVersion": "events.k8s.io/v1",
                                   **eventsview.to_events_v1(api.get(rt, rp.namespace, rp.name))})
        res = api.list(rt, rp.namespace or None, label_selector=q.get("labelSelector", ""),
                       field_selector=eventsview.core_field_selector(q.get("fieldSelector", "")))
        return _json_response({"kind": "EventList", "apiVersion": "events.k8s.io/v1",
                               "metadata": {"resourceVersion": res.rv},
                               "items": [eventsview.to_events_v1(o) for o in res.items]})

    def _delete_collection(self, rt: Any, rp: ResourcePath, options: dict[str, Any], q: Any,
                           warnings: list[str]) -> web.StreamResponse:
        api = self.s.api
        res = api.list(rt, rp.namespace or None, label_selector=q.get("labelSelector", ""),
                       field_selector=q.get("fieldSelector", ""))
        deleted = []
        for obj in res.items:
            md = obj.get("metadata") or {}
            try:
                out, is_obj = api.delete(rt, md.get("namespace", ""), md["name"], options)
            except ApiError as err:
                if err.code == 404:
                    continue
                raise
            deleted.append(out if is_obj else obj)
        self.s.after_write(rt)
        return _json_response({"apiVersion": rt.api_version, "kind": rt.list_kind,
                               "metadata": {"resourceVersion": str(self.s.store.current_rv)},
                               "items": deleted}, warnings=warnings)

    def _decode_body(self, raw: bytes, ctype: str, kind: str) -> tuple[Any, list[str]]:
        if ctype in ("application/yaml", "application/apply-patch+yaml"):
            return bodies.decode_yaml(raw), []
        if ctype == protobuf.MEDIA_TYPE:
            return protobuf.decode(raw), []
        if ctype not in ("application/json", ""):
            raise validation.unsupported_body_type()
        return bodies.decode_json(raw, kind)

    def _encode(self, kind: str, body: Any, warnings: list[str], status: int = 200) -> web.Response:
        if kind == "yaml":
            resp = web.Response(body=bodies.encode_yaml(body), status=status)
            resp.headers["Content-Type"] = "application/yaml"
            for w in warnings:
                resp.headers.add("Warning", bodies.warning_header(w))
            return resp
        return _json_response(body, status, warnings=warnings)

    def _render(self, accept: Any, rt: Any, objs: list[dict[str, Any]], *, single: bool,
                warnings: list[str], q: Any, list_rv: str = "") -> web.Response:
        if accept.kind in ("json", "yaml"):
            return self._encode(accept.kind, objs[0], warnings)
        now = datetime.now(UTC)
        if accept.kind == "table":
            body = tables.to_table(rt, objs, list_rv=list_rv or str(self.s.store.current_rv),
                                   include_object=q.get("includeObject", "Metadata"), now=now,
                                   api_version=accept.api_version, single=single)
            return _json_response(body, warnings=warnings)
        body = tables.to_partial_object_metadata_list(rt, objs, list_rv=list_rv or str(self.s.store.current_rv),
                                                      single=single, api_version=accept.api_version)
        return _json_response(body, warnings=warnings)

    async def _watch(self, request: web.Request, rp: ResourcePath, rt: Any) -> web.StreamResponse:
        q = request.query
        sie = q.get("sendInitialEvents")
        timeout = q.get("timeoutSeconds")
        opts = WatchOptions(
            namespace=rp.namespace if rt.namespaced and rp.namespace else None,
            resource_version=q.get("resourceVersion", ""),
            label_selector=q.get("labelSelector", ""),
            field_selector=q.get("fieldSelector", ""),
            allow_bookmarks=q.get("allowWatchBookmarks") in TRUE,
            send_initial_events=None if sie is None else sie in TRUE,
            resource_version_match=q.get("resourceVersionMatch", ""),
            timeout_s=float(timeout) if timeout else None,
        )
        if rp.name:
            opts.field_selector = ",".join(x for x in (opts.field_selector, f"metadata.name={rp.name}") if x)
        force = self.s.faults.expire_next_watches > 0 and bool(opts.resource_version) \
            and opts.resource_version != "0"
        if force:
            self.s.faults.expire_next_watches -= 1
        watcher = Watcher(self.s.store, rt, opts, self.s.api.output,
                          bookmark_interval_s=self.s.bookmark_interval_s, force_expired=force)
        watcher.open()
        resp = web.StreamResponse(status=200)
        resp.headers["Content-Type"] = JSON
        for w in self.s.deprecation_warnings(rt):
            resp.headers.add("Warning", bodies.warning_header(w))

        accept = tables.parse_accept(request.headers.get("Accept", ""))
        as_table = tables.TableWatchEvents(rt, api_version=accept.api_version,
                                           include_object=q.get("includeObject", "Metadata"))

        async def send(events: list[dict[str, Any]]) -> None:
            if accept.kind == "table":
                now = datetime.now(UTC)
                events = [as_table(event, now) for event in events]
            await resp.write(b"".join(encode(event) for event in events))  # one write per batch

        try:
            await resp.prepare(request)
            await watcher.run(send, self.s.stopping)
        except (ConnectionResetError, RuntimeError):
            return resp
        finally:
            watcher.close()
        try:
            await resp.write_eof()
        except (ConnectionResetError, RuntimeError):
            pass
        return resp


def _peercert(request: web.Request) -> Any:
    """The verified client certificate of a TLS connection (`ssl.SSLSocket.getpeercert()`), else None."""
    transport = request.transport
    return None if transport is None else transport.get_extra_info("peercert")
