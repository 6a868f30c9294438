"""What a RayService asks for, checked before anything is made: the Serve config, problems, warnings, ignored fields.

Guarantees:
1. ``check_service`` never raises on any input shape. ``problems`` is empty exactly when the operator can act
   on the spec: then ``config`` is the Serve config to deploy (``None`` when the spec sets no serve form).
2. It reports, each as a ``Problem`` naming the field: a name the derived objects cannot carry (the
   ``ray.io/originated-from-cr-name`` label value and the Service names need at most 63 characters of a-z,
   0-9 and '-', starting with a letter); both serve forms set, unparsable YAML (with line and column) and
   every other problem of ``desired_serve_config``; a ``serveService`` name that is not such a name either;
   what ``validate_cluster`` finds in the cluster made from ``rayClusterConfig``, with paths under
   ``spec.rayClusterConfig``; and ``authOptions.enableK8sTokenAuth`` there (KubeRay v1.7 refuses it in a
   RayService: the operator could not call its dashboard).
3. ``warnings`` are the Serve config's pitfalls (Ray accepts them); ``ignored`` names every field that is
   accepted but not acted on: ``upgradeStrategy.clusterUpgradeOptions`` without the incremental strategy,
   ``suspend`` and ``managedBy``.
4. ``upgradeStrategy.type: NewClusterWithIncrementalUpgrade`` needs ``enableInTreeAutoscaling`` and
   ``clusterUpgradeOptions`` with ``maxSurgePercent`` (default 100) and ``stepSizePercent`` in 0..100,
   ``stepSizePercent`` <= ``maxSurgePercent``, ``intervalSeconds`` > 0 and a ``gatewayClassName``: the first
   one missing is a problem with KubeRay v1.7's message.

Pure.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from rayservice.api.serve import Problem
from rayservice.api.v1alpha1 import desired_serve_config
from rayservice.controller import names
from rayservice.controller.objects import RawObject, flag, name_of, part, rayservice_spec
from rayservice.controller.raycluster import rayservice_auth_problems, validate_cluster
from rayservice.controller.rayservice.desired import desired_cluster

INCREMENTAL_UPGRADE: Final = "NewClusterWithIncrementalUpgrade"
_DNS1035: Final = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


@dataclass(frozen=True, slots=True)
class ServiceCheck:
    """The Serve config to deploy, or why the spec cannot be acted on; and what is risky or ignored."""

    config: dict[str, Any] | None
    problems: tuple[Problem, ...] = ()
    warnings: tuple[Problem, ...] = ()
    ignored: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.problems


def check_service(service: RawObject) -> ServiceCheck:
    """Guarantees 1-3."""
    spec = rayservice_spec(service)
    problems: list[Problem] = []
    name = name_of(service)
    if not _is_dns1035(name):
        problems.append(
            Problem(
                "metadata.name",
                f"{name!r} must be at most {names.MAX_NAME_LENGTH} characters of a-z, 0-9 and '-', starting with a "
                "letter: the ray.io/originated-from-cr-name label and the Services "
                f"{names.rayservice_head_service_name(name)!r} and {names.serve_service_name(name)!r} carry it",
            )
        )
    serve = desired_serve_config(spec)
    problems += serve.problems
    template_name = part(part(spec.get("serveService")).get("metadata")).get("name")
    if template_name is not None and not _is_dns1035(str(template_name)):
        problems.append(
            Problem(
                "spec.serveService.metadata.name",
                f"{template_name!r} must be at most {names.MAX_NAME_LENGTH} characters of a-z, 0-9 and '-', "
                "starting with a letter (a Service name)",
            )
        )
    problems += incremental_problems(spec)
    if not isinstance(spec.get("rayClusterConfig"), Mapping):
        problems.append(Problem("spec.rayClusterConfig", "is required"))
    elif not problems:
        cluster_spec = part(spec.get("rayClusterConfig"))
        problems += [Problem(field, message) for field, message in rayservice_auth_problems(cluster_spec)]
        # The checks of derived names hold for any random suffix: a fixed seed stands in for it.
        sample = desired_cluster(service, name=names.rayservice_cluster_name(name, random.Random(0)))
        for problem in validate_cluster(sample):
            if problem.field.startswith("spec."):
                problems.append(Problem("spec.rayClusterConfig." + problem.field[5:], problem.message))
            else:
                problems.append(Problem(problem.field, problem.message))
    return ServiceCheck(
        config=serve.config if not problems else None,
        problems=tuple(problems),
        warnings=serve.warnings,
        ignored=tuple(ignored_fields(spec)),
    )


def incremental_problems(spec: Mapping[str, Any]) -> list[Problem]:
    """Guarantee 4: KubeRay's checks of ``NewClusterWithIncrementalUpgrade``, with its messages."""
    strategy = part(spec.get("upgradeStrategy"))
    if strategy.get("type") != INCREMENTAL_UPGRADE:
        return []
    where = "spec.upgradeStrategy.clusterUpgradeOptions"
    if not flag(part(spec.get("rayClusterConfig")).get("enableInTreeAutoscaling")):
        return [Problem("spec.rayClusterConfig.enableInTreeAutoscaling",
                        f"Ray Autoscaler is required for {INCREMENTAL_UPGRADE}")]
    options = strategy.get("clusterUpgradeOptions")
    if not isinstance(options, Mapping):
        return [Problem(where, f"ClusterUpgradeOptions are required for {INCREMENTAL_UPGRADE}")]

    def number(key: str) -> int | None:
        value = options.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    surge, step, interval = number("maxSurgePercent"), number("stepSizePercent"), number("intervalSeconds")
    surge = 100 if surge is None and "maxSurgePercent" not in options else surge
    if surge is None or not 0 <= surge <= 100:
        return [Problem(f"{where}.maxSurgePercent", "maxSurgePercent must be between 0 and 100")]
    if step is None or not 0 <= step <= 100:
        return [Problem(f"{where}.stepSizePercent", "stepSizePercent must be between 0 and 100")]
    if step > surge:
        return [Problem(f"{where}.stepSizePercent", "stepSizePercent must be less than or equal to maxSurgePercent")]
    if interval is None or interval <= 0:
        return [Problem(f"{where}.intervalSeconds", "intervalSeconds must be greater than 0")]
    if not options.get("gatewayClassName"):
        return [Problem(f"{where}.gatewayClassName", f"gatewayClassName is required for {INCREMENTAL_UPGRADE}")]
    return []


def ignored_fields(spec: Mapping[str, Any]) -> list[str]:
    """Guarantee 3: the fields set that the operator accepts but does not act on."""
    ignored: list[str] = []
    strategy = part(spec.get("upgradeStrategy"))
    if strategy.get("type") != INCREMENTAL_UPGRADE and strategy.get("clusterUpgradeOptions") is not None:
        ignored.append(f"upgradeStrategy.clusterUpgradeOptions (upgradeStrategy.type is not {INCREMENTAL_UPGRADE})")
    if flag(spec.get("suspend")):
        ignored.append("suspend")
    if spec.get("managedBy"):
        ignored.append(f"managedBy: {spec['managedBy']}")
    return ignored


def _is_dns1035(name: str) -> bool:
    return len(name) <= names.MAX_NAME_LENGTH and bool(_DNS1035.match(name))
