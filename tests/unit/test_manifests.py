"""The install manifests: a hardened Deployment of the image `make image` builds, and least-privilege RBAC.

The RBAC checks compare ``manifests/rbac`` with ``tests/rbac_usage.py`` (every call the operator makes) in both
directions: each use is granted, and nothing else is.
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from rayservice.cli import build_parser
from rayservice.controller.caches import build_caches
from rayservice.controller.events import EventRecorder
from rayservice.controller.raycluster import ROLE_RULES
from rayservice.kube import EVENTS, Resource
from rayservice.testing import FakeClock
from tests.rbac_usage import DELEGATED_API_USES, OPERATOR_API_USES, ApiUse, uses_in

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "manifests"
OPERATOR_NAMESPACE = "ray-system"
HARDENED_UID = 65532

Obj = dict[str, Any]


def load_dir(directory: Path) -> list[Obj]:
    """Every object of a kustomize directory's resource files (not the kustomization itself)."""
    objects: list[Obj] = []
    for path in sorted(directory.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            objects += [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]
    return objects


def find(objects: Sequence[Obj], kind: str, name: str) -> Obj:
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
    return matches[0]


RBAC = load_dir(MANIFESTS / "rbac")
MANAGER = load_dir(MANIFESTS / "manager")
CLUSTER_ROLE = find(RBAC, "ClusterRole", "ray-operator")
LEASE_ROLE = find(RBAC, "Role", "ray-operator-leader-election")
DEPLOYMENT = find(MANAGER, "Deployment", "ray-operator")
POD_SPEC: Obj = DEPLOYMENT["spec"]["template"]["spec"]
(CONTAINER,) = POD_SPEC["containers"]


def makefile_variable(name: str) -> str:
    match = re.search(rf"^{name}\s*\?=\s*(\S+)\s*$", (ROOT / "Makefile").read_text(encoding="utf-8"), re.MULTILINE)
    assert match, f"the Makefile defines no {name}"
    return match.group(1)


def dockerfile_instructions(keyword: str) -> list[str]:
    lines = (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines()
    return [line.split(None, 1)[1] for line in lines if line.split(None, 1)[:1] == [keyword]]


# ---- the Deployment -----------------------------------------------------------------------------------------


class TestHardenedDeployment:
    def effective(self, field: str) -> Any:
        """A securityContext field as the kubelet applies it: the container's value wins over the pod's."""
        container = CONTAINER.get("securityContext") or {}
        return container[field] if field in container else (POD_SPEC.get("securityContext") or {}).get(field)

    def test_the_operator_runs_as_the_non_root_user_65532(self) -> None:
        assert self.effective("runAsNonRoot") is True
        assert self.effective("runAsUser") == HARDENED_UID
        assert self.effective("runAsGroup") == HARDENED_UID

    def test_the_root_filesystem_is_read_only_and_only_tmp_is_writable(self) -> None:
        assert self.effective("readOnlyRootFilesystem") is True
        volumes = {v["name"]: v for v in POD_SPEC.get("volumes", [])}
        mounts = {m["mountPath"]: m["name"] for m in CONTAINER.get("volumeMounts", [])}
        assert mounts == {"/tmp": "tmp"} and "emptyDir" in volumes["tmp"]

    def test_privilege_escalation_is_off_and_every_capability_is_dropped(self) -> None:
        assert self.effective("allowPrivilegeEscalation") is False
        assert self.effective("privileged") in (None, False)
        assert self.effective("capabilities") == {"drop": ["ALL"]}

    def test_the_runtime_default_seccomp_profile_applies(self) -> None:
        assert self.effective("seccompProfile") == {"type": "RuntimeDefault"}

    def test_the_pod_shares_nothing_with_its_node(self) -> None:
        for field in ("hostNetwork", "hostPID", "hostIPC"):
            assert not POD_SPEC.get(field), field

    def test_requests_and_limits_are_set(self) -> None:
        resources = CONTAINER["resources"]
        assert set(resources["requests"]) == {"cpu", "memory"}
        assert set(resources["limits"]) >= {"memory"}


class TestImage:
    def test_the_deployment_runs_the_image_the_makefile_builds(self) -> None:
        assert CONTAINER["image"] == makefile_variable("IMAGE")

    def test_the_image_tag_is_the_package_version(self) -> None:
        project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
        assert makefile_variable("IMAGE") == f"rayservice-operator:{project['version']}"

    def test_the_image_runs_as_the_user_the_deployment_expects(self) -> None:
        assert dockerfile_instructions("USER")[-1] == f"{HARDENED_UID}:{HARDENED_UID}"

    def test_the_image_entrypoint_is_the_rayservice_command_and_its_default_is_run(self) -> None:
        scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
        assert "rayservice" in scripts
        assert dockerfile_instructions("ENTRYPOINT") == ['["rayservice"]']
        assert dockerfile_instructions("CMD") == ['["run"]']
        assert CONTAINER.get("command") is None  # the image's entrypoint runs; the Deployment passes args only

    def test_the_final_stage_is_python_3_11_slim(self) -> None:
        args = dict(arg.split("=", 1) for arg in dockerfile_instructions("ARG") if "=" in arg)
        stages = dockerfile_instructions("FROM")
        assert args["PYTHON_IMAGE"] == "python:3.11-slim"
        assert len(stages) == 2 and stages[-1] == "${PYTHON_IMAGE}"


class TestOperatorArguments:
    def test_the_arguments_are_the_documented_ones(self) -> None:
        assert CONTAINER["args"] == [
            "run",
            "--leader-elect",
            "--leader-election-namespace=$(POD_NAMESPACE)",
            "--metrics-addr=:8080",
            "--log-format=json",
        ]

    def test_the_cli_accepts_the_arguments(self) -> None:
        argv = [arg.replace("$(POD_NAMESPACE)", OPERATOR_NAMESPACE) for arg in CONTAINER["args"]]
        args = build_parser().parse_args(argv)
        assert args.command == "run" and args.leader_elect
        assert args.leader_election_namespace == OPERATOR_NAMESPACE
        assert args.metrics_addr == ("", 8080) and args.log_format == "json"

    def test_pod_name_and_namespace_come_from_the_downward_api(self) -> None:
        env = {e["name"]: e for e in CONTAINER["env"]}
        assert env["POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
        assert env["POD_NAMESPACE"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}

    def test_liveness_and_readiness_probe_the_metrics_port(self) -> None:
        ports = {p["name"]: p["containerPort"] for p in CONTAINER["ports"]}
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            get = CONTAINER[probe]["httpGet"]
            assert get["path"] == path
            assert ports.get(get["port"], get["port"]) == 8080

    def test_the_pod_uses_the_operator_service_account(self) -> None:
        assert POD_SPEC["serviceAccountName"] == find(RBAC, "ServiceAccount", "ray-operator")["metadata"]["name"]


class TestMetricsService:
    def test_the_metrics_service_selects_the_operator_pods_on_port_8080(self) -> None:
        service = find(MANAGER, "Service", "ray-operator-metrics")
        pod_labels = DEPLOYMENT["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= pod_labels.items()
        (port,) = service["spec"]["ports"]
        assert port["port"] == 8080 and port["targetPort"] == "metrics"
        assert {p["name"]: p["containerPort"] for p in CONTAINER["ports"]}["metrics"] == 8080

    def test_the_service_monitor_scrapes_the_metrics_service(self) -> None:
        service = find(MANAGER, "Service", "ray-operator-metrics")
        monitor = find(load_dir(MANIFESTS / "prometheus"), "ServiceMonitor", "ray-operator")
        assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
        (endpoint,) = monitor["spec"]["endpoints"]
        assert endpoint["port"] == service["spec"]["ports"][0]["name"] and endpoint["path"] == "/metrics"


# ---- RBAC ---------------------------------------------------------------------------------------------------


def granted(rules: Sequence[Mapping[str, Any]]) -> Iterator[tuple[str, str, str]]:
    """Every (verb, group, resource) the rules allow, wildcards left as they are."""
    for rule in rules:
        for group in rule.get("apiGroups", []):
            for resource in rule.get("resources", []):
                for verb in rule.get("verbs", []):
                    yield (verb, group, resource)


def allows(rules: Sequence[Mapping[str, Any]], use: ApiUse) -> bool:
    """Whether a rule grants ``use`` on every object (rules limited to resourceNames do not)."""
    return any(
        not rule.get("resourceNames")
        and {use.group, "*"} & set(rule.get("apiGroups", []))
        and {use.rbac_resource, "*"} & set(rule.get("resources", []))
        and {use.verb, "*"} & set(rule.get("verbs", []))
        for rule in rules
    )


class TestClusterRole:
    @pytest.mark.parametrize("use", uses_in("cluster"), ids=lambda u: f"{u.verb}-{u.group or 'core'}-{u.rbac_resource}")
    def test_the_cluster_role_grants_what_the_operator_uses(self, use: ApiUse) -> None:
        assert allows(CLUSTER_ROLE["rules"], use), f"{use.verb} {use.rbac_resource}.{use.group} ({use.where})"

    def test_the_cluster_role_grants_nothing_the_operator_does_not_use_or_grant(self) -> None:
        used = {(u.verb, u.group, u.rbac_resource) for u in (*uses_in("cluster"), *DELEGATED_API_USES)}
        assert set(granted(CLUSTER_ROLE["rules"])) - used == set()

    def test_the_cluster_role_holds_every_rule_of_the_autoscaler_role_it_creates(self) -> None:
        # The API server refuses to create a Role (or bind one) granting more than its creator holds.
        for rule in ROLE_RULES:
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    plural, _, sub = resource.partition("/")
                    for verb in rule["verbs"]:
                        assert allows(CLUSTER_ROLE["rules"], ApiUse(verb, group, plural, sub)), (verb, resource)

    def test_what_is_held_only_to_be_granted_is_in_the_autoscaler_role(self) -> None:
        in_role = {
            (verb, group, resource)
            for rule in ROLE_RULES
            for group in rule["apiGroups"]
            for resource in rule["resources"]
            for verb in rule["verbs"]
        }
        assert {(u.verb, u.group, u.rbac_resource) for u in DELEGATED_API_USES} <= in_role
        assert not {u.key for u in DELEGATED_API_USES} & {u.key for u in OPERATOR_API_USES}

    def test_the_cluster_role_has_no_wildcards(self) -> None:
        for rule in CLUSTER_ROLE["rules"]:
            for field in ("apiGroups", "resources", "verbs"):
                assert not any("*" in value for value in rule.get(field, [])), rule
            assert "nonResourceURLs" not in rule

    def test_secrets_are_granted_only_get_and_create_and_only_cluster_wide(self) -> None:
        # Ray auth tokens: read by name, created when generated; never listed, watched, updated or deleted.
        rules = CLUSTER_ROLE["rules"]
        on_secrets = {verb for verb, _, resource in granted(rules) if resource.split("/")[0] == "secrets"}
        assert on_secrets == {"get", "create"}
        assert not any(resource.split("/")[0] == "secrets" for _, _, resource in granted(LEASE_ROLE["rules"]))


class TestLeaderElectionRole:
    @pytest.mark.parametrize("use", uses_in("operator-namespace"), ids=lambda u: f"{u.verb}-{u.rbac_resource}")
    def test_the_role_grants_the_lease_calls(self, use: ApiUse) -> None:
        assert allows(LEASE_ROLE["rules"], use)

    def test_the_role_grants_nothing_else_and_only_in_the_operator_namespace(self) -> None:
        used = {(u.verb, u.group, u.rbac_resource) for u in uses_in("operator-namespace")}
        assert set(granted(LEASE_ROLE["rules"])) == used
        assert LEASE_ROLE["metadata"]["namespace"] == OPERATOR_NAMESPACE

    def test_leases_are_not_granted_cluster_wide(self) -> None:
        assert not any(resource == "leases" for _, _, resource in granted(CLUSTER_ROLE["rules"]))


class TestBindings:
    @pytest.mark.parametrize(
        ("kind", "name", "role_kind"),
        [
            ("ClusterRoleBinding", "ray-operator", "ClusterRole"),
            ("RoleBinding", "ray-operator-leader-election", "Role"),
        ],
    )
    def test_each_role_is_bound_to_the_operator_service_account(self, kind: str, name: str, role_kind: str) -> None:
        binding = find(RBAC, kind, name)
        role = CLUSTER_ROLE if role_kind == "ClusterRole" else LEASE_ROLE
        assert binding["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": role_kind,
            "name": role["metadata"]["name"],
        }
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "ray-operator", "namespace": "ray-system"}]


class TestUsageTableFollowsTheCode:
    def test_every_cached_resource_is_listed_and_watched(self) -> None:
        caches = build_caches(_NoSource(), clock=FakeClock())
        resources = {(i.resource.group, i.resource.plural) for i in caches.informers}
        assert resources, "build_caches made no informers"
        for group, plural in resources:
            for verb in ("list", "watch"):
                assert ApiUse(verb, group, plural).key in {u.key for u in OPERATOR_API_USES}, (verb, group, plural)

    async def test_every_event_write_is_listed(self) -> None:
        writer = _RecordingWriter()
        recorder = EventRecorder(writer, clock=FakeClock())
        obj = {"kind": "RayService", "apiVersion": "ray.io/v1", "metadata": {"name": "a", "namespace": "d", "uid": "u"}}
        await recorder.emit(obj, "Normal", "Created", "made a cluster")
        await recorder.emit(obj, "Normal", "Created", "made a cluster")
        assert writer.calls == [("create", EVENTS), ("patch", EVENTS)]
        keys = {u.key for u in OPERATOR_API_USES}
        for verb, resource in writer.calls:
            assert (verb, resource.group, resource.plural, "") in keys

    def test_each_use_is_listed_once_and_says_where_it_comes_from(self) -> None:
        keys = [use.key for use in OPERATOR_API_USES]
        assert len(keys) == len(set(keys))
        assert all(use.where for use in OPERATOR_API_USES)


class _NoSource:
    """A ListerWatcher that is never called: building informers sends no request."""

    async def list(self, resource: Resource, **_: Any) -> Any:
        raise AssertionError("no request expected")

    def watch(self, resource: Resource, **_: Any) -> Any:
        raise AssertionError("no request expected")


class _RecordingWriter:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Resource]] = []

    async def create(self, resource: Resource, body: Mapping[str, Any], *, namespace: str | None = None) -> Obj:
        self.calls.append(("create", resource))
        return dict(body)

    async def patch(self, resource: Resource, name: str, patch: Any, *, namespace: str | None = None) -> Obj:
        self.calls.append(("patch", resource))
        return {}


# ---- what `kubectl apply -k manifests/default` installs -----------------------------------------------------


@pytest.mark.kubectl
def test_the_default_kustomization_installs_everything_into_ray_system(kubectl_bin: str) -> None:
    rendered = subprocess.run(
        [kubectl_bin, "kustomize", str(MANIFESTS / "default")],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    objects = [doc for doc in yaml.safe_load_all(rendered) if doc]
    kinds = sorted((o["kind"], o["metadata"]["name"]) for o in objects)
    assert kinds == sorted(
        [
            ("Namespace", "ray-system"),
            ("CustomResourceDefinition", "rayclusters.ray.io"),
            ("CustomResourceDefinition", "rayservices.ray.io"),
            ("ServiceAccount", "ray-operator"),
            ("ClusterRole", "ray-operator"),
            ("ClusterRoleBinding", "ray-operator"),
            ("Role", "ray-operator-leader-election"),
            ("RoleBinding", "ray-operator-leader-election"),
            ("Deployment", "ray-operator"),
            ("Service", "ray-operator-metrics"),
        ]
    )
    cluster_scoped = {"Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"}
    for obj in objects:
        if obj["kind"] not in cluster_scoped:
            assert obj["metadata"]["namespace"] == OPERATOR_NAMESPACE, obj["kind"]
        for subject in obj.get("subjects", []):
            assert subject["namespace"] == OPERATOR_NAMESPACE
    generated = sorted(p.name for p in (MANIFESTS / "crd").glob("*.yaml"))
    for name in generated:
        crd = yaml.safe_load((MANIFESTS / "crd" / name).read_text(encoding="utf-8"))
        assert crd in objects, f"manifests/default renders {name} changed"
