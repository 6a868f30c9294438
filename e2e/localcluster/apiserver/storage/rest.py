"""REST semantics of kube-apiserver over the in-memory store: create, get, list, update, patch, delete.

Guarantees:
1. Create sets uid, creationTimestamp, resourceVersion, generation=1 (kinds that keep one), honours
   generateName, drops status of kinds with a status subresource, and fails 409 AlreadyExists on a duplicate.
2. Update needs a matching metadata.resourceVersion (stale: 409 Conflict; missing: 422 for kinds that forbid
   unconditional updates, custom resources and Leases); it never creates. The main endpoint keeps the stored
   status; `/status` takes only status. generation grows only when something outside metadata and status
   changed. A write that changes nothing keeps the resourceVersion and emits no event.
3. Delete honours preconditions, propagation (Background, Foreground, Orphan) and finalizers: an object
   with finalizers gets deletionTimestamp and stays until they are removed; none may be added meanwhile.
4. Custom resources are pruned, defaulted and validated against their CRD schema; unknown fields follow
   `fieldValidation` (Strict: 400, Warn/default: warning per field, Ignore: silent).
5. Every method is synchronous, so each request is atomic against the store.
"""

from __future__ import annotations

import base64
import builtins
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from e2e.localcluster.apiserver import errors
from e2e.localcluster.apiserver.errors import ApiError, Cause
from e2e.localcluster.apiserver.schema import crds, validation
from e2e.localcluster.apiserver.schema.resources import Registry, ResourceType

from . import deletion, fieldselectors, patch, selectors
from .fieldowners import FieldOwners
from .objects import deep_copy, meta, new_uid, now_rfc3339, without_meta_status
from .store import Obj, Store

# Kinds whose PUT may omit metadata.resourceVersion (kube's AllowUnconditionalUpdate).
UNCONDITIONAL_UPDATE = {
    ("", "configmaps"), ("", "secrets"), ("", "pods"), ("", "services"), ("", "namespaces"), ("", "nodes"),
    ("", "endpoints"), ("", "events"), ("", "serviceaccounts"), ("apps", "deployments"),
    ("apps", "replicasets"), ("batch", "jobs"),
    ("rbac.authorization.k8s.io", "roles"), ("rbac.authorization.k8s.io", "rolebindings"),
    ("rbac.authorization.k8s.io", "clusterroles"), ("rbac.authorization.k8s.io", "clusterrolebindings"),
    ("discovery.k8s.io", "endpointslices"), ("apiextensions.k8s.io", "customresourcedefinitions"),
}
FIELD_VALIDATION_VALUES = ("", "Ignore", "Strict", "Warn")
OBJECT_META_FIELDS = frozenset({
    "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
    "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations",
    "ownerReferences", "finalizers", "managedFields",
})

PrepareCreate = Callable[["Api", ResourceType, Obj], Obj]
ValidateUpdate = Callable[["Api", ResourceType, Obj, Obj], Obj]


@dataclass
class KindHooks:
    """Per-kind behaviour of built-in resources (defaults, allocation, immutability), keyed by (group, plural)."""

    prepare_create: dict[tuple[str, str], PrepareCreate] = field(default_factory=dict)
    prepare_update: dict[tuple[str, str], ValidateUpdate] = field(default_factory=dict)
    known_fields: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict)


@dataclass
class WriteResult:
    obj: Obj
    warnings: builtins.list[str] = field(default_factory=list)


@dataclass
class ListResult:
    items: builtins.list[Obj]
    rv: str
    continue_token: str = ""
    remaining: int | None = None


def _rand_suffix(n: int = 5) -> str:
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    raw = new_uid().replace("-", "")
    return "".join(alphabet[int(raw[i * 2:i * 2 + 2], 16) % len(alphabet)] for i in range(n))


class Api:
    def __init__(self, store: Store, registry: Registry, hooks: KindHooks | None = None,
                 now: Callable[[], str] = now_rfc3339) -> None:
        self.store = store
        self.registry = registry
        self.hooks = hooks or KindHooks()
        self.now = now
        self._schemas: dict[tuple[str, str, str], crds.Schema] = {}
        self.owners = FieldOwners()
        self.current_manager = ""  # set by the HTTP layer before each (synchronous) call

    # ---- lookups --------------------------------------------------------------------------------

    def output(self, rt: ResourceType, obj: Obj) -> Obj:
        """The stored object as seen through `rt`'s version (conversion strategy None)."""
        if obj.get("apiVersion") == rt.api_version:
            return obj
        return {**obj, "apiVersion": rt.api_version}

    def get(self, rt: ResourceType, namespace: str, name: str) -> Obj:
        obj = self.store.get(rt.group_resource, namespace if rt.namespaced else "", name)
        if obj is None:
            raise errors.not_found(rt.group, rt.plural, name)
        return obj

    def list(self, rt: ResourceType, namespace: str | None, *, label_selector: str = "",
             field_selector: str = "", limit: int = 0, continue_token: str = "") -> ListResult:
        lsel = selectors.parse_label_selector(label_selector)
        fsel = fieldselectors.parse_field_selector(field_selector, rt.field_selectors, custom=rt.is_custom,
                                              kind=rt.kind)
        start = ("", "")
        if continue_token:
            start = _decode_continue(continue_token)
        items = [o for o in self.store.list(rt.group_resource, namespace if rt.namespaced else None)
                 if lsel.matches(meta(o).get("labels")) and fsel.matches(o)]
        rv = str(self.store.current_rv)
        if continue_token:
            items = [o for o in items if (meta(o).get("namespace", ""), meta(o)["name"]) > start]
        if limit and len(items) > limit:
            last = items[limit - 1]
            token = _encode_continue(rv, (meta(last).get("namespace", ""), meta(last)["name"]))
            return ListResult(items[:limit], rv, token, len(items) - limit)
        return ListResult(items, rv)

    # ---- create ---------------------------------------------------------------------------------

    def create(self, rt: ResourceType, namespace: str, body: Any, *, field_validation: str = "",
               duplicates: builtins.list[str] | None = None, dry_run: bool = False) -> WriteResult:
        _check_field_validation(field_validation, "CreateOptions")
        obj = _require_object(body, rt)
        validation.check_type_meta(rt, obj)
        validation.check_decodable(rt, obj)
        warnings: builtins.list[str] = []
        obj = self._decode(rt, obj, field_validation, duplicates or [], warnings)
        m = dict(meta(obj))
        if rt.namespaced:
            if m.get("namespace") and m["namespace"] != namespace:
                raise errors.bad_request("the namespace of the provided object does not match the namespace "
                                         "sent on the request")
            m["namespace"] = namespace
            self._require_namespace(namespace)
        else:
            m.pop("namespace", None)
        if not m.get("name") and m.get("generateName"):
            for _ in range(16):
                candidate = m["generateName"] + _rand_suffix()
                if self.store.get(rt.group_resource, namespace if rt.namespaced else "", candidate) is None:
                    m["name"] = candidate
                    break
        for key in ("uid", "resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds",
                    "selfLink", "managedFields"):
            m.pop(key, None)
        m["uid"] = new_uid()
        m["creationTimestamp"] = self.now()
        if rt.has_generation:
            m["generation"] = 1
        else:
            m.pop("generation", None)
        obj["metadata"] = m
        obj["apiVersion"] = f"{rt.group}/{rt.storage_version}" if rt.group else rt.storage_version
        obj["kind"] = rt.kind
        if rt.has_status and rt.is_custom:
            obj.pop("status", None)
        causes = crds.validate_object_meta(obj, rt.namespaced)
        if causes:
            raise errors.invalid(rt.group, rt.kind, m.get("name", ""), causes)
        obj = self._admit(rt, obj, None)
        name = meta(obj)["name"]
        if self.store.get(rt.group_resource, namespace if rt.namespaced else "", name) is not None:
            raise errors.already_exists(rt.group, rt.plural, name)
        if dry_run:
            return WriteResult(self.output(rt, obj), warnings)
        stored = self.store.put(rt.group_resource, obj)
        self.owners.record(meta(stored)["uid"], self.current_manager, None, stored)
        return WriteResult(self.output(rt, stored), warnings)

    def _require_namespace(self, namespace: str) -> None:
        ns = self.store.get(("", "namespaces"), "", namespace)
        if ns is None:
            raise errors.not_found("", "namespaces", namespace)
        if meta(ns).get("deletionTimestamp"):
            raise ApiError(403, "Forbidden", f"unable to create new content in namespace {namespace} because "
                           "it is being terminated", {"name": namespace, "kind": "namespaces"})

    # ---- update ---------------------------------------------------------------------------------

    def update(self, rt: ResourceType, namespace: str, name: str, body: Any, *, subresource: str = "",
               field_validation: str = "", duplicates: builtins.list[str] | None = None,
               dry_run: bool = False) -> WriteResult:
        _check_field_validation(field_validation, "UpdateOptions")
        obj = _require_object(body, rt)
        validation.check_type_meta(rt, obj)
        validation.check_decodable(rt, obj)
        body_meta = meta(obj)
        if rt.namespaced and body_meta.get("namespace") not in (None, "", namespace):
            raise errors.bad_request("the namespace of the provided object does not match the namespace sent on "
                                     "the request")
        if not body_meta.get("name"):
            raise errors.bad_request(f"the name of the object ({name} based on URL) was undeterminable: name must "
                                     "be provided")
        if body_meta["name"] != name:
            raise errors.bad_request(f"the name of the object ({body_meta['name']}) does not match the "
                                     f"name on the URL ({name})")
        old = self.get(rt, namespace, name)
        rv = body_meta.get("resourceVersion")
        if not rv:
            if rt.group_resource not in UNCONDITIONAL_UPDATE:
                raise errors.invalid(rt.group, rt.plural, name, [Cause(
                    "metadata.resourceVersion", "FieldValueInvalid",
                    "Invalid value: 0: must be specified for an update")])
        elif rv != meta(old)["resourceVersion"]:
            raise errors.conflict(rt.group, rt.plural, name)
        warnings: builtins.list[str] = []
        if subresource != "status":
            obj = self._decode(rt, obj, field_validation, duplicates or [], warnings)
        return self._write_update(rt, old, obj, subresource, warnings, dry_run)

    def _write_update(self, rt: ResourceType, old: Obj, obj: Obj, subresource: str, warnings: builtins.list[str],
                      dry_run: bool = False) -> WriteResult:
        """Shared tail of update and patch: status/spec split, metadata rules, generation, finalizers."""
        old_meta = meta(old)
        name = old_meta["name"]
        new = deep_copy(obj)
        if subresource == "status":
            new = {**deep_copy(old), "status": new.get("status")}
            if new["status"] is None:
                new.pop("status")
        else:
            m = dict(meta(new))
            for key in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                        "namespace", "name", "generation"):
                if key in old_meta:
                    m[key] = old_meta[key]
                else:
                    m.pop(key, None)
            m.pop("managedFields", None)
            new["metadata"] = m
            if rt.has_status:
                if "status" in old:
                    new["status"] = old["status"]
                else:
                    new.pop("status", None)
            if old_meta.get("deletionTimestamp"):
                added = sorted({f for f in m.get("finalizers") or []} - set(old_meta.get("finalizers") or []))
                if added:
                    raise errors.invalid(rt.group, rt.kind, name, [Cause(
                        "metadata.finalizers", "FieldValueForbidden",
                        "Forbidden: no new finalizers can be added if the object is being deleted, found new "
                        "finalizers []string{" + ", ".join(json.dumps(f) for f in added) + "}")])
            causes = crds.validate_object_meta(new, rt.namespaced)
            if causes:
                raise errors.invalid(rt.group, rt.kind, name, causes)
        new["apiVersion"] = old.get("apiVersion", rt.api_version)
        new["kind"] = rt.kind
        if rt.has_generation and subresource != "status" and \
                without_meta_status(new) != without_meta_status(old):
            new["metadata"] = {**meta(new), "generation": int(old_meta.get("generation") or 0) + 1}
        if subresource != "status":
            new = self._admit(rt, new, old)
        elif rt.is_custom:
            self._validate_custom(rt, new)
        elif (status_hook := self.hooks.prepare_update.get(rt.group_resource)) is not None:
            new = status_hook(self, rt, old, new)
        new["metadata"] = {**meta(new), "resourceVersion": old_meta["resourceVersion"]}
        if dry_run:
            return WriteResult(self.output(rt, new), warnings)
        # as kube's ShouldDeleteDuringUpdate: only once no finalizer and no grace period is left (a pod in its
        # grace period stays until its kubelet deletes it)
        if meta(new).get("deletionTimestamp") and not meta(new).get("finalizers") \
                and not int(meta(new).get("deletionGracePeriodSeconds") or 0) \
                and not deletion.spec_finalizers(rt, new):
            # kube answers with the final state (finalizers gone) at the last stored resourceVersion
            self.store.remove(rt.group_resource, old_meta.get("namespace", ""), name)
            self.owners.forget(old_meta["uid"])
            return WriteResult(self.output(rt, new), warnings)
        stored = self.store.put(rt.group_resource, new)
        if stored is not old:
            self.owners.record(old_meta["uid"], self.current_manager, old, stored)
        return WriteResult(self.output(rt, stored), warnings)

    # ---- patch ----------------------------------------------------------------------------------

    def patch(self, rt: ResourceType, namespace: str, name: str, content_type: str, body: Any, *,
              subresource: str = "", field_validation: str = "", field_manager: str = "",
              force: bool = False, dry_run: bool = False) -> WriteResult:
        _check_field_validation(field_validation, "PatchOptions")
        ctype = content_type.split(";")[0].strip()
        accepted = [patch.JSON_PATCH, patch.MERGE_PATCH, patch.APPLY_PATCH]
        if not rt.is_custom:
            accepted.insert(2, patch.STRATEGIC_MERGE_PATCH)
        if ctype not in accepted:
            raise errors.unsupported_patch_type(accepted)
        if ctype == patch.APPLY_PATCH:
            if not field_manager:
                raise errors.invalid_options("PatchOptions", [Cause(
                    "fieldManager", "FieldValueRequired", "Required value: is required for apply patch")])
            return self._apply(rt, namespace, name, body, force=force, field_validation=field_validation)
        old = self.get(rt, namespace, name)
        current = deep_copy(old)
        if ctype == patch.JSON_PATCH:
            patched = patch.json_patch(current, body)
        elif ctype == patch.MERGE_PATCH:
            if not isinstance(body, dict):
                raise errors.bad_request("json: cannot unmarshal into Go value of type map[string]interface {}")
            patched = patch.merge_patch(current, body)
        else:
            if not isinstance(body, dict):
                raise errors.bad_request("json: cannot unmarshal into Go value of type map[string]interface {}")
            patched = patch.strategic_merge_patch(current, body, rt.kind)
        if not isinstance(patched, dict):
            raise errors.rejected_patch()
        if problem := validation.decode_problem(rt, patched):
            cause = f"Invalid value: {json.dumps(json.dumps(patched, separators=(',', ':')))}: {problem}"
            raise errors.ApiError(422, "Invalid", f' "" is invalid: patch: {cause}',
                                  {"causes": [{"reason": "FieldValueInvalid", "message": cause, "field": "patch"}]})
        rv = meta(body).get("resourceVersion") if isinstance(body, dict) else None
        if rv and rv != meta(old)["resourceVersion"]:
            raise errors.conflict(rt.group, rt.plural, name)
        warnings: builtins.list[str] = []
        if subresource != "status":
            if field_validation == "Strict" and rt.is_custom:
                unknown = self._schema(rt).unknown_fields(patched)
                if unknown:
                    text = json.dumps(patched, separators=(",", ":"))
                    raise errors.ApiError(422, "Invalid", f' "" is invalid: patch: Invalid value: '
                                          f'{json.dumps(text)}: strict decoding error: '
                                          + ", ".join(f'unknown field "{u}"' for u in unknown),
                                          {"causes": [{"reason": "FieldValueInvalid", "field": "patch"}]})
            patched = self._decode(rt, patched, field_validation or "Warn", [], warnings)
        patched.setdefault("metadata", {})
        return self._write_update(rt, old, patched, subresource, warnings, dry_run)

    def _apply(self, rt: ResourceType, namespace: str, name: str, body: Any, *, force: bool,
               field_validation: str) -> WriteResult:
        """Server-side apply, simplified: applied fields merge into the object (no field ownership)."""
        obj = _require_object(body, rt)
        existing = self.store.get(rt.group_resource, namespace if rt.namespaced else "", name)
        if existing is None:
            obj.setdefault("metadata", {})["name"] = name
            return self.create(rt, namespace, obj, field_validation=field_validation)
        applied = _drop_nulls(obj)
        uid = meta(existing)["uid"]
        if not force:
            self.owners.check_apply(uid, self.current_manager, existing, applied, rt.api_version)
        merged = patch.merge_patch(deep_copy(existing), applied)
        warnings: builtins.list[str] = []
        merged = self._decode(rt, merged, field_validation or "Warn", [], warnings)
        result = self._write_update(rt, existing, merged, "", warnings)
        self.owners.claim(uid, self.current_manager, applied)
        return result

    # ---- delete ---------------------------------------------------------------------------------

    def delete(self, rt: ResourceType, namespace: str, name: str, options: Mapping[str, Any]) -> tuple[Obj, bool]:
        """Returns (body, is_object): the remaining/deleted object, or a success Status (see deletion.py)."""
        return deletion.delete(self, rt, namespace, name, options)

    # ---- custom resource decoding ---------------------------------------------------------------

    def _schema(self, rt: ResourceType) -> crds.Schema:
        key = (rt.group, rt.plural, rt.version)
        schema = self._schemas.get(key)
        if schema is None:
            assert rt.crd is not None
            version = next(v for v in rt.crd["spec"]["versions"] if v["name"] == rt.version)
            schema = crds.Schema((version.get("schema") or {}).get("openAPIV3Schema") or {})
            self._schemas[key] = schema
        return schema

    def forget_schemas(self, group: str, plural: str) -> None:
        for key in [k for k in self._schemas if k[:2] == (group, plural)]:
            del self._schemas[key]

    def _decode(self, rt: ResourceType, obj: Obj, field_validation: str, duplicates: builtins.list[str],
                warnings: builtins.list[str]) -> Obj:
        """Unknown and duplicate fields per fieldValidation, then pruning and defaulting."""
        unknown: builtins.list[str] = []
        if rt.is_custom:
            unknown = self._schema(rt).unknown_fields(obj)
        else:
            known = self.hooks.known_fields.get(rt.group_resource)
            if known is not None:
                unknown = sorted(k for k in obj if k not in known)
            unknown += [f"metadata.{k}" for k in meta(obj) if k not in OBJECT_META_FIELDS]
        problems = [f'duplicate field "{d}"' for d in duplicates] + [f'unknown field "{u}"' for u in unknown]
        if problems and field_validation == "Strict":
            raise errors.bad_request(f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: '
                                     "strict decoding error: " + ", ".join(problems))
        if problems and field_validation in ("", "Warn"):
            warnings.extend(problems)
        if rt.is_custom:
            obj = self._schema(rt).default(self._schema(rt).prune(obj))
        elif unknown:
            obj = {k: v for k, v in obj.items() if k not in set(unknown)}
            obj["metadata"] = {k: v for k, v in meta(obj).items() if k in OBJECT_META_FIELDS}
        return obj

    def _validate_custom(self, rt: ResourceType, obj: Obj) -> None:
        causes = self._schema(rt).validate(obj)
        if causes:
            raise errors.invalid(rt.group, rt.kind, meta(obj).get("name", ""), causes)

    def _admit(self, rt: ResourceType, obj: Obj, old: Obj | None) -> Obj:
        if rt.is_custom:
            self._validate_custom(rt, obj)
            return obj
        if old is None:
            hook = self.hooks.prepare_create.get(rt.group_resource)
            admitted = hook(self, rt, obj) if hook else obj
        else:
            update_hook = self.hooks.prepare_update.get(rt.group_resource)
            admitted = update_hook(self, rt, old, obj) if update_hook else obj
        if causes := validation.validate_kind(rt, admitted, old):
            raise errors.invalid(rt.group, rt.kind, meta(admitted).get("name", ""), causes)
        return admitted


def _require_object(body: Any, rt: ResourceType) -> Obj:
    if not isinstance(body, dict):
        raise errors.bad_request(f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: '
                                 "json: cannot unmarshal into Go value of type map[string]interface {}")
    return deep_copy(body)


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    return value


def _check_field_validation(value: str, options_kind: str) -> None:
    if value not in FIELD_VALIDATION_VALUES:
        raise errors.invalid_options(options_kind, [Cause(
            "fieldValidation", "FieldValueNotSupported",
            f'Unsupported value: "{value}": supported values: "", "Ignore", "Strict", "Warn"')])


def _encode_continue(rv: str, start: tuple[str, str]) -> str:
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": int(rv), "start": list(start)}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_continue(token: str) -> tuple[str, str]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except ValueError as exc:
        raise errors.bad_request(f"invalid continue token: {exc}") from exc
    try:
        data = json.loads(raw)
        ns, name = data["start"]
        return (str(ns), str(name))
    except (ValueError, KeyError, TypeError):
        first = raw[:1].decode("latin-1") if raw else ""
        shown = json.dumps(first)[1:-1] if first else ""
        raise errors.bad_request("invalid continue token: continue key is not valid: invalid character "
                                 f"'{shown}' looking for beginning of value") from None
