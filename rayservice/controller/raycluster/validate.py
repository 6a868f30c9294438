"""Semantic checks of a RayCluster that its schema cannot express; problems are values, not exceptions.

Guarantees:
1. ``validate_cluster`` never raises on any input shape; it returns every problem found, in spec order,
   each naming the offending field as a path (``spec.workerGroupSpecs[1].minReplicas``).
2. It reports: a cluster name that is not a DNS-1035 label (at most 63 characters, a lowercase letter first:
   Service names and the ``ray.io/cluster`` label are made from it); a missing head group; a pod template
   without containers; a worker group without a name, with a name that is not a DNS-1123 label (it becomes
   part of pod names and the ``ray.io/group`` label) or with the name of an earlier group; replica counts
   that are not whole numbers in ``[0, 2147483647]`` (the CRD's int32, which not every API server enforces),
   ``minReplicas > maxReplicas``, ``replicas`` outside ``[minReplicas, maxReplicas]`` (unless the autoscaler
   runs: its ``replicas`` are clamped, as KubeRay clamps them, since bounds may move under it); ``rayStartParams``
   that is not a map, a key that is not a flag name, a value that is not a string; a CPU quantity of the Ray
   container that does not parse; and two derived names (Services, pod name prefixes, identifiers) that
   coincide; and what ``autoscaler.autoscaling_problems``, ``gcsft.gcs_ft_problems`` and ``auth.auth_problems``
   find (KubeRay's autoscaling, GCS fault tolerance and token authentication checks).
3. An empty list means the builders in ``desired`` accept the cluster.

Pure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from rayservice.api.labels import NODE_TYPE_HEAD, NODE_TYPE_WORKER
from rayservice.controller import names
from rayservice.controller.objects import RawObject, mapping, name_of, sequence, spec_of
from rayservice.controller.raycluster._podspec import ray_container_index
from rayservice.controller.raycluster._quantity import parse_quantity
from rayservice.controller.raycluster._raystart import is_valid_flag_name
from rayservice.controller.raycluster.auth import auth_problems
from rayservice.controller.raycluster.autoscaler import autoscaling_problems, is_autoscaling
from rayservice.controller.raycluster.gcsft import gcs_ft_problems

_DNS1035: Final = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS1123: Final = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_INT32_MAX: Final = 2**31 - 1


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason a spec cannot be acted on: the field's path and what is wrong with it."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def validate_cluster(cluster: RawObject) -> list[Problem]:
    """Every problem of ``cluster`` (guarantee 2), or an empty list."""
    problems: list[Problem] = []
    name = name_of(cluster)
    if len(name) > names.MAX_NAME_LENGTH or not _DNS1035.match(name):
        problems.append(
            Problem(
                "metadata.name",
                f"{name!r} must be at most {names.MAX_NAME_LENGTH} characters of a-z, 0-9 and '-', starting with a "
                "letter: Service names and the ray.io/cluster label are made from it",
            )
        )
    spec = spec_of(cluster)
    head = spec.get("headGroupSpec")
    if not isinstance(head, Mapping):
        problems.append(Problem("spec.headGroupSpec", "is required"))
    else:
        problems += _check_group(head, "spec.headGroupSpec", head=True)
    seen: set[str] = set()
    for index, group in enumerate(sequence(spec.get("workerGroupSpecs"))):
        path = f"spec.workerGroupSpecs[{index}]"
        if not isinstance(group, Mapping):
            problems.append(Problem(path, "must be an object"))
            continue
        problems += _check_group_name(group.get("groupName"), f"{path}.groupName", seen)
        problems += _check_replicas(group, path, clamped=is_autoscaling(cluster))
        problems += _check_group(group, path, head=False)
    problems += [Problem(field, message) for field, message in autoscaling_problems(cluster)]
    problems += [Problem(field, message) for field, message in gcs_ft_problems(cluster)]
    problems += [Problem(field, message) for field, message in auth_problems(cluster)]
    if not problems:
        problems += _check_derived_names(name, sorted(seen))
    return problems


def _check_group_name(value: object, path: str, seen: set[str]) -> list[Problem]:
    if not isinstance(value, str) or not value:
        return [Problem(path, "is required")]
    if len(value) > names.MAX_NAME_LENGTH or not _DNS1123.match(value):
        return [
            Problem(
                path, f"{value!r} must be at most 63 characters of a-z, 0-9 and '-', starting and ending alphanumeric"
            )
        ]
    if value in seen:
        return [Problem(path, f"{value!r} is the name of an earlier worker group")]
    seen.add(value)
    return []


def _check_replicas(group: Mapping[str, Any], path: str, *, clamped: bool) -> list[Problem]:
    problems: list[Problem] = []
    values: dict[str, int] = {}
    for key in ("replicas", "minReplicas", "maxReplicas"):
        value = group.get(key)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= _INT32_MAX:
            problems.append(Problem(f"{path}.{key}", f"must be a whole number from 0 to {_INT32_MAX}, not {value!r}"))
        else:
            values[key] = value
    low, high, replicas = values.get("minReplicas", 0), values.get("maxReplicas"), values.get("replicas")
    if high is not None and low > high:
        problems.append(Problem(f"{path}.minReplicas", f"{low} is greater than maxReplicas {high}"))
    elif not clamped and replicas is not None and (replicas < low or (high is not None and replicas > high)):
        bounds = f"[{low}, {high if high is not None else 'unbounded'}]"
        problems.append(Problem(f"{path}.replicas", f"{replicas} is outside [minReplicas, maxReplicas] = {bounds}"))
    return problems


def _check_group(group: Mapping[str, Any], path: str, *, head: bool) -> list[Problem]:
    problems: list[Problem] = []
    params = group.get("rayStartParams")
    if params is not None and not isinstance(params, Mapping):
        problems.append(Problem(f"{path}.rayStartParams", "must be a map of flag names to strings"))
    for key, value in mapping(params).items():
        if not isinstance(key, str) or not is_valid_flag_name(key):
            problems.append(Problem(f"{path}.rayStartParams", f"{key!r} is not a ray start flag name"))
        elif not isinstance(value, str):
            problems.append(Problem(f"{path}.rayStartParams.{key}", f"must be a string, not {value!r}"))
    containers = sequence(mapping(mapping(group.get("template")).get("spec")).get("containers"))
    if not containers:
        problems.append(Problem(f"{path}.template.spec.containers", "must name at least one container"))
        return problems
    index = ray_container_index(containers, head=head)
    resources = mapping(mapping(containers[index]).get("resources"))
    for kind in ("limits", "requests"):
        cpu = mapping(resources.get(kind)).get("cpu")
        if cpu is None:
            continue
        try:
            parse_quantity(cpu)
        except ValueError:
            field = f"{path}.template.spec.containers[{index}].resources.{kind}.cpu"
            problems.append(Problem(field, f"{cpu!r} is not a Kubernetes quantity"))
    return problems


def _check_derived_names(cluster: str, groups: list[str]) -> list[Problem]:
    """Names of one kind made from the cluster's and groups' names must differ (guarantee 2 of ``names``)."""
    kinds: dict[str, dict[str, str]] = {
        "Service": {
            "head Service": names.head_service_name(cluster),
            "dashboard Service": names.dashboard_service_name(cluster),
        },
        "pod name prefix": {"head pods": names.head_pod_prefix(cluster)}
        | {f"pods of worker group {group!r}": names.worker_pod_prefix(cluster, group) for group in groups},
        "ray.io/identifier label": {
            "head identifier": names.node_identifier(cluster, NODE_TYPE_HEAD),
            "worker identifier": names.node_identifier(cluster, NODE_TYPE_WORKER),
        },
    }
    problems: list[Problem] = []
    for kind, derived in kinds.items():
        owners: dict[str, str] = {}
        for what, derived_name in derived.items():
            if derived_name in owners:
                message = f"the {what} and the {owners[derived_name]} would get the same {kind} {derived_name!r}"
                problems.append(Problem("metadata.name", message))
            owners.setdefault(derived_name, what)
    return problems
