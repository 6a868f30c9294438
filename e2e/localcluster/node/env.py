"""A container's environment and command line as kubelet builds them, with no image (pure).

Guarantees:
1. `expand` follows kubelet: `$(VAR)` becomes VAR's value when it is defined and stays as written when it is
   not; `$$` is a literal `$`; an unclosed `$(` and any other `$` are copied.
2. `container_env` applies kubelet's order: `envFrom` (ConfigMaps, Secrets, with `prefix`), then `env` entries
   in order: literal values expanded against what is defined so far, `fieldRef` (metadata.name, .namespace,
   .uid, .labels['k'], .annotations['k'], spec.nodeName, spec.serviceAccountName, status.podIP(s),
   status.hostIP(s)), `resourceFieldRef` (limits and requests of cpu, memory, ephemeral-storage, rounded up by
   the divisor; a missing limit is the node's capacity), `configMapKeyRef`, `secretKeyRef`. The result lies
   over a base environment (PATH with the local Python environment first, HOME, HOSTNAME).
3. `container_argv` expands command and args against the container's variables and merges them with the
   image's ENTRYPOINT and CMD from the node's image table (images.py); an empty result raises `ConfigError`.
4. A missing reference that is not `optional` raises `ConfigError` (kubelet's CreateContainerConfigError).
5. `service_env` gives kubelet's service variables: for the `kubernetes` Service of `default` in every pod
   (KUBERNETES_SERVICE_HOST, KUBERNETES_SERVICE_PORT, KUBERNETES_SERVICE_PORT_HTTPS, KUBERNETES_PORT, ...), and
   for each Service of the pod's namespace with a ClusterIP when enableServiceLinks is not false:
   `<SVC>_SERVICE_HOST`, `<SVC>_SERVICE_PORT`, `<SVC>_SERVICE_PORT_<NAME>`, `<SVC>_PORT`,
   `<SVC>_PORT_<port>_<PROTO>` and its `_PROTO`, `_PORT`, `_ADDR` (names upper-cased, `-` as `_`). The
   container's own variables win over them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from fractions import Fraction
from typing import Any

from . import images
from .images import ImageConfig

Obj = dict[str, Any]
Refs = Callable[[str, str], Mapping[str, str] | None]  # ("configmap" | "secret", name) -> data, None: missing
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)([a-zA-Z]*)$")
_SUFFIX: dict[str, Fraction] = {
    "n": Fraction(1, 10**9), "u": Fraction(1, 10**6), "m": Fraction(1, 1000), "": Fraction(1),
    **{s: Fraction(10 ** (3 * i)) for i, s in enumerate("kMGTPE", 1)},
    **{s + "i": Fraction(2 ** (10 * i)) for i, s in enumerate("KMGTPE", 1)}}
_LABEL_REF = re.compile(r"^metadata\.(labels|annotations)\['([^']+)'\]$")


class ConfigError(Exception):
    pass


def expand(text: str, defined: Mapping[str, str]) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch != "$" or i + 1 >= len(text):
            out.append(ch)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "(":
            close = text.find(")", i + 2)
            if close < 0:
                out.append("$(")
                i += 2
                continue
            name = text[i + 2:close]
            out.append(defined[name] if name in defined else f"$({name})")
            i = close + 1
        else:
            out.append("$" + nxt)
            i += 2
    return "".join(out)


def parse_quantity(value: Any) -> Fraction:
    found = _QUANTITY.match(str(value).strip())
    if found is None or found.group(2) not in _SUFFIX:
        raise ConfigError(f"invalid quantity {value!r}")
    return Fraction(found.group(1)) * _SUFFIX[found.group(2)]


def field_ref(pod: Obj, path: str) -> str:
    meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    if found := _LABEL_REF.match(path):
        return str((meta.get(found.group(1)) or {}).get(found.group(2), ""))
    simple: dict[str, Any] = {
        "metadata.name": meta.get("name"), "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"), "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName"), "status.podIP": status.get("podIP"),
        "status.hostIP": status.get("hostIP"),
        "status.podIPs": ",".join(p.get("ip", "") for p in status.get("podIPs") or []),
        "status.hostIPs": ",".join(p.get("ip", "") for p in status.get("hostIPs") or [])}
    if path not in simple:
        raise ConfigError(f"unsupported fieldRef {path!r}")
    return str(simple[path] or "")


def resource_ref(container: Obj, ref: Mapping[str, Any], capacity: Mapping[str, str]) -> str:
    kind, _, resource = str(ref.get("resource", "")).partition(".")
    if kind not in ("limits", "requests") or resource not in ("cpu", "memory", "ephemeral-storage"):
        raise ConfigError(f"unsupported resourceFieldRef {ref.get('resource')!r}")
    resources = container.get("resources") or {}
    value = (resources.get(kind) or {}).get(resource)
    if value is None:
        value = capacity.get(resource, "0") if kind == "limits" else "0"
    divisor = parse_quantity(ref.get("divisor") or "1") or Fraction(1)
    return str(math.ceil(parse_quantity(value) / divisor))


def referenced_objects(container: Obj) -> set[tuple[str, str]]:
    """(kind, name) of the ConfigMaps and Secrets a container's environment reads."""
    found: set[tuple[str, str]] = set()
    for source in container.get("envFrom") or []:
        for key, kind in (("configMapRef", "configmap"), ("secretRef", "secret")):
            if (source.get(key) or {}).get("name"):
                found.add((kind, source[key]["name"]))
    for var in container.get("env") or []:
        value_from = var.get("valueFrom") or {}
        for key, kind in (("configMapKeyRef", "configmap"), ("secretKeyRef", "secret")):
            if (value_from.get(key) or {}).get("name"):
                found.add((kind, value_from[key]["name"]))
    return found


def base_env(python_bin: str, hostname: str) -> dict[str, str]:
    return {"PATH": f"{python_bin}:{SYSTEM_PATH}", "HOME": "/root", "HOSTNAME": hostname}


def container_env(pod: Obj, container: Obj, *, refs: Refs, capacity: Mapping[str, str],
                  services: Mapping[str, str] | None = None) -> dict[str, str]:
    """The container's own variables (without the base environment), in kubelet's order; `$(VAR)` in a value
    may also name a service variable (`services`, from `service_env`)."""
    env: dict[str, str] = {}
    known = services or {}
    for source in container.get("envFrom") or []:
        for key, kind in (("configMapRef", "configmap"), ("secretRef", "secret")):
            ref = source.get(key)
            if ref is None:
                continue
            data = refs(kind, str(ref.get("name", "")))
            if data is None and not ref.get("optional"):
                raise ConfigError(f'{kind} "{ref.get("name")}" not found')
            for k, v in (data or {}).items():
                env[str(source.get("prefix") or "") + k] = v
    for var in container.get("env") or []:
        name = str(var.get("name"))
        value_from = var.get("valueFrom")
        if value_from is None:
            env[name] = expand(str(var.get("value") or ""), {**known, **env})
        elif "fieldRef" in value_from:
            env[name] = field_ref(pod, str(value_from["fieldRef"].get("fieldPath", "")))
        elif "resourceFieldRef" in value_from:
            env[name] = resource_ref(container, value_from["resourceFieldRef"], capacity)
        else:
            value = _key_ref(value_from, refs)
            if value is not None:
                env[name] = value
    return env


def _key_ref(value_from: Mapping[str, Any], refs: Refs) -> str | None:
    for key, kind in (("configMapKeyRef", "configmap"), ("secretKeyRef", "secret")):
        ref = value_from.get(key)
        if ref is None:
            continue
        data = refs(kind, str(ref.get("name", "")))
        if data is not None and ref.get("key") in data:
            return data[ref["key"]]
        if ref.get("optional"):
            return None
        raise ConfigError(f'{kind} "{ref.get("name")}" has no key "{ref.get("key")}"' if data is not None
                          else f'{kind} "{ref.get("name")}" not found')
    raise ConfigError(f"unsupported valueFrom {sorted(value_from)}")


def container_argv(container: Obj, env: Mapping[str, str], image: ImageConfig) -> list[str]:
    """command/args expanded, merged with the image's ENTRYPOINT and CMD (images.py)."""
    command = [expand(str(a), env) for a in container.get("command") or []]
    args = [expand(str(a), env) for a in container.get("args") or []]
    try:
        return images.container_argv(image, command, args)
    except images.EmptyCommand as exc:
        raise ConfigError(f'container "{container.get("name")}": {exc}') from exc


def service_env(services: Iterable[Obj], namespace: str, *, links: bool) -> dict[str, str]:
    """kubelet's service variables: the `kubernetes` Service of `default` always, the Services of `namespace`
    when `links` (enableServiceLinks); only Services with a ClusterIP. Docker-links names, as kubelet makes them."""
    chosen: dict[str, Obj] = {}
    for svc in services:
        meta, spec = svc.get("metadata") or {}, svc.get("spec") or {}
        ip, name = spec.get("clusterIP"), str(meta.get("name") or "")
        if not ip or ip == "None" or not name:
            continue
        if meta.get("namespace") == "default" and name == "kubernetes":
            chosen.setdefault(name, svc)
        elif meta.get("namespace") == namespace and links:
            chosen[name] = svc
    out: dict[str, str] = {}
    for name, svc in sorted(chosen.items()):
        spec = svc["spec"]
        prefix, ip, ports = name.upper().replace("-", "_"), str(spec["clusterIP"]), spec.get("ports") or []
        out[f"{prefix}_SERVICE_HOST"] = ip
        if not ports:
            continue
        out[f"{prefix}_SERVICE_PORT"] = str(ports[0].get("port"))
        for port in ports:
            if port.get("name"):
                out[f"{prefix}_SERVICE_PORT_{str(port['name']).upper().replace('-', '_')}"] = str(port.get("port"))
        first_proto = str(ports[0].get("protocol") or "TCP").lower()
        out[f"{prefix}_PORT"] = f"{first_proto}://{ip}:{ports[0].get('port')}"
        for port in ports:
            proto = str(port.get("protocol") or "TCP")
            base = f"{prefix}_PORT_{port.get('port')}_{proto.upper()}"
            out[base] = f"{proto.lower()}://{ip}:{port.get('port')}"
            out[base + "_PROTO"] = proto.lower()
            out[base + "_PORT"] = str(port.get("port"))
            out[base + "_ADDR"] = ip
    return out
