"""The body's apiVersion and kind against the URL it was sent to, as kube-apiserver's decoder judges them.

Guarantees (create and update; read in apiserver's handlers and apimachinery's json serializer, v1.36):
1. Built-in kinds: a missing kind or apiVersion is filled in from the URL (kube's gvkWithDefaults), so such a
   body is accepted. A kind the body's group/version does not register is 400 `<Kind> in version "<v>" cannot
   be handled as a <URL Kind>: no kind "<Kind>" is registered for version "<g/v>" in scheme "..."`; a kind
   that is registered but is another type is 400 `... cannot be handled as a <URL Kind>: converting
   (<v>.<Kind>) to (<internal>.<URL Kind>): unknown conversion`; the same type at another version (for example
   `apps/v1beta1` Deployment sent to `apps/v1`) is 400 `the API version in the data (apps/v1beta1) does not
   match the expected API version (apps/v1)`.
2. Custom resources: a missing kind is 400 `the object provided is unrecognized (must be of type <Kind>):
   Object 'Kind' is missing in '<body>' (<summary>)`; another group or version (or none) is the 400 "API
   version in the data" answer of (1); another kind at the right version is 422 Invalid from the custom
   resource validator (`kind: Invalid value: "<Kind>": must be <URL Kind>`).
3. An apiVersion with more than one `/` is 400 `the object provided is unrecognized (must be of type <Kind>):
   unexpected GroupVersion string: <value> (<summary>)`.

Not guaranteed: the scheme names quoted in (1) are the source locations upstream builds print; only the
kinds of the groups this server serves are known to the scheme table.
Pure and synchronous: any task may call anything here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from e2e.localcluster.apiserver import errors
from e2e.localcluster.apiserver.errors import ApiError
from e2e.localcluster.apiserver.schema.objectmeta import field_invalid
from e2e.localcluster.apiserver.schema.resources import ResourceType
from e2e.localcluster.apiserver.schema.validation.gojson import summarize

__all__ = ["check_type_meta"]

_LEGACY_SCHEME = "k8s.io/kubernetes/pkg/api/legacyscheme/scheme.go:30"
_APIEXTENSIONS_SCHEME = "k8s.io/apiextensions-apiserver/pkg/apiserver/apiserver.go:55"

_CORE_KINDS = frozenset({
    "Binding", "ComponentStatus", "ConfigMap", "Endpoints", "Event", "LimitRange", "Namespace", "Node",
    "PersistentVolume", "PersistentVolumeClaim", "Pod", "PodTemplate", "ReplicationController", "ResourceQuota",
    "Secret", "Service", "ServiceAccount",
})
_RBAC_KINDS = frozenset({"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"})

# (group, version) -> the kinds kube-apiserver's scheme registers there, served or not.
_LEGACY_KINDS: Mapping[tuple[str, str], frozenset[str]] = {
    ("", "v1"): _CORE_KINDS,
    ("apps", "v1"): frozenset({"ControllerRevision", "DaemonSet", "Deployment", "ReplicaSet", "StatefulSet"}),
    ("apps", "v1beta1"): frozenset({"ControllerRevision", "Deployment", "StatefulSet"}),
    ("apps", "v1beta2"): frozenset({"ControllerRevision", "DaemonSet", "Deployment", "ReplicaSet", "StatefulSet"}),
    ("batch", "v1"): frozenset({"CronJob", "Job"}),
    ("coordination.k8s.io", "v1"): frozenset({"Lease"}),
    ("coordination.k8s.io", "v1beta1"): frozenset({"Lease", "LeaseCandidate"}),
    ("coordination.k8s.io", "v1alpha2"): frozenset({"LeaseCandidate"}),
    ("discovery.k8s.io", "v1"): frozenset({"EndpointSlice"}),
    ("discovery.k8s.io", "v1beta1"): frozenset({"EndpointSlice"}),
    ("events.k8s.io", "v1"): frozenset({"Event"}),
    ("events.k8s.io", "v1beta1"): frozenset({"Event"}),
    ("rbac.authorization.k8s.io", "v1"): _RBAC_KINDS,
    ("rbac.authorization.k8s.io", "v1beta1"): _RBAC_KINDS,
    ("rbac.authorization.k8s.io", "v1alpha1"): _RBAC_KINDS,
}
_APIEXTENSIONS_KINDS: Mapping[tuple[str, str], frozenset[str]] = {
    ("apiextensions.k8s.io", "v1"): frozenset({"CustomResourceDefinition"}),
    ("apiextensions.k8s.io", "v1beta1"): frozenset({"CustomResourceDefinition"}),
}
# The Go package of each group's internal types; events.k8s.io Events are core Events inside.
_INTERNAL_PACKAGE = {
    "": "core", "apps": "apps", "batch": "batch", "coordination.k8s.io": "coordination",
    "discovery.k8s.io": "discovery", "events.k8s.io": "core", "rbac.authorization.k8s.io": "rbac",
    "apiextensions.k8s.io": "apiextensions",
}


def _internal_type(group: str, kind: str) -> tuple[str, str]:
    return (_INTERNAL_PACKAGE.get(group, group.split(".")[0]), kind)


def _gv_text(group: str, version: str) -> str:
    return f"{group}/{version}" if group else version


def _split_api_version(value: str) -> tuple[str, str] | None:
    """kube's ParseGroupVersion: '' -> ('', ''), 'v1' -> ('', 'v1'), 'g/v' -> ('g', 'v'); None if malformed."""
    if not value:
        return ("", "")
    parts = value.split("/")
    if len(parts) == 1:
        return ("", value)
    if len(parts) == 2:
        return (parts[0], parts[1])
    return None


def check_type_meta(rt: ResourceType, body: Mapping[str, Any]) -> None:
    """Raise kube's answer when `body`'s apiVersion/kind cannot be stored through `rt` (see module docs)."""
    raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    kind = body.get("kind")
    api_version = body.get("apiVersion")
    kind = kind if isinstance(kind, str) else ""
    api_version = api_version if isinstance(api_version, str) else ""
    parsed = _split_api_version(api_version)
    if parsed is None:
        raise errors.bad_request(f"the object provided is unrecognized (must be of type {rt.kind}): unexpected "
                                 f"GroupVersion string: {api_version} ({summarize(raw)})")
    group, version = parsed
    if rt.is_custom:
        md = body.get("metadata")
        name = str(md.get("name") or "") if isinstance(md, Mapping) else ""
        _check_custom(rt, raw, kind, group, version, name)
    else:
        _check_builtin(rt, kind, group, version)


def _mismatch(group: str, version: str, rt: ResourceType) -> ApiError:
    return errors.bad_request(f"the API version in the data ({_gv_text(group, version)}) does not match the "
                              f"expected API version ({rt.api_version})")


def _check_custom(rt: ResourceType, raw: bytes, kind: str, group: str, version: str, name: str) -> None:
    if not kind:
        raise errors.bad_request(f"the object provided is unrecognized (must be of type {rt.kind}): Object 'Kind' "
                                 f"is missing in '{raw.decode()}' ({summarize(raw)})")
    if (group, version) != (rt.group, rt.version):
        raise _mismatch(group, version, rt)
    if kind != rt.kind:
        raise errors.invalid(rt.group, kind, name, [field_invalid("kind", kind, f"must be {rt.kind}")])


def _check_builtin(rt: ResourceType, kind: str, group: str, version: str) -> None:
    kind = kind or rt.kind
    if not group and not version:
        group, version = rt.group, rt.version
    scheme, registered = ((_APIEXTENSIONS_SCHEME, _APIEXTENSIONS_KINDS) if rt.group == "apiextensions.k8s.io"
                          else (_LEGACY_SCHEME, _LEGACY_KINDS))
    prefix = f'{kind} in version "{version}" cannot be handled as a {rt.kind}: '
    if kind not in registered.get((group, version), frozenset()):
        raise errors.bad_request(prefix + f'no kind "{kind}" is registered for version '
                                 f'"{_gv_text(group, version)}" in scheme "{scheme}"')
    source, target = _internal_type(group, kind), _internal_type(rt.group, rt.kind)
    if source != target:
        raise errors.bad_request(prefix + f"converting ({version}.{kind}) to ({target[0]}.{target[1]}): "
                                 "unknown conversion")
    if (group, version) != (rt.group, rt.version):
        raise _mismatch(group, version, rt)
