"""The autoscaler's ServiceAccount, Role and RoleBinding, compared with KubeRay v1.7's ``common/rbac.go``
(``BuildServiceAccount``, ``BuildRole``, ``BuildRoleBinding``; names clipped by ``utils.CheckName``, the controller
reference set by ``reconcileAutoscaler*``), and the patch that puts a drifted one back."""

from __future__ import annotations

import copy
from typing import Any

from rayservice.controller.raycluster import desired_rbac, rbac_patch
from tests.unit.controller.raycluster.samples import cluster, template

OWNER = {
    "apiVersion": "ray.io/v1",
    "kind": "RayCluster",
    "name": "demo",
    "uid": "uid-1",
    "controller": True,
    "blockOwnerDeletion": True,
}
LABELS = {
    "ray.io/cluster": "demo",
    "app.kubernetes.io/name": "kuberay",
    "app.kubernetes.io/created-by": "rayservice-operator",
}


def meta(name: str = "demo") -> dict[str, Any]:
    return {"name": name, "namespace": "ns", "labels": dict(LABELS), "ownerReferences": [dict(OWNER)]}


KUBERAY_ROLE: dict[str, Any] = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "Role",
    "metadata": meta(),
    "rules": [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch", "patch"]},
        {"apiGroups": [""], "resources": ["pods/resize"], "verbs": ["patch"]},
        {"apiGroups": ["ray.io"], "resources": ["rayclusters"], "verbs": ["get", "patch"]},
    ],
}


def binding(account: str = "demo") -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": meta(),
        "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": "ns"}],
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "demo"},
    }


def autoscaling(**spec: Any) -> dict[str, Any]:
    return cluster(enableInTreeAutoscaling=True, **spec)


class TestDesiredObjects:
    def test_an_autoscaling_cluster_gets_kuberays_service_account_role_and_role_binding(self) -> None:
        objects = desired_rbac(autoscaling())

        assert [(o.kind, o.name) for o in objects] == [
            ("ServiceAccount", "demo"),
            ("Role", "demo"),
            ("RoleBinding", "demo"),
        ]
        account, role, role_binding = (o.body for o in objects)
        assert account == {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta()}
        assert role == KUBERAY_ROLE
        assert role_binding == binding()

    def test_a_cluster_without_autoscaling_gets_none(self) -> None:
        assert desired_rbac(cluster()) == ()
        assert desired_rbac(cluster(enableInTreeAutoscaling=False, autoscalerOptions={"version": "v2"})) == ()

    def test_an_account_the_head_template_names_is_bound_but_not_made(self) -> None:
        objects = desired_rbac(autoscaling(head={"template": template(serviceAccountName="mine")}))

        assert [o.kind for o in objects] == ["Role", "RoleBinding"]
        assert objects[1].body == binding("mine")

    def test_long_names_are_clipped_as_kuberay_clips_them(self) -> None:
        name = "x" * 10 + "y" * 50
        objects = desired_rbac(autoscaling(name=name))

        assert {o.name for o in objects} == {"y" * 50}
        role_binding = objects[2].body
        assert role_binding["roleRef"]["name"] == "y" * 50
        assert role_binding["subjects"][0]["name"] == "y" * 50
        assert role_binding["metadata"]["labels"]["ray.io/cluster"] == name


class TestPatch:
    def test_a_matching_object_needs_no_patch_whatever_was_added_to_it(self) -> None:
        stored = copy.deepcopy(KUBERAY_ROLE)
        stored["metadata"]["labels"]["team"] = "a"
        stored["metadata"]["resourceVersion"] = "7"

        assert rbac_patch(stored, KUBERAY_ROLE) is None

    def test_edited_rules_are_put_back(self) -> None:
        stored = copy.deepcopy(KUBERAY_ROLE)
        stored["rules"] = stored["rules"][:1]

        assert rbac_patch(stored, KUBERAY_ROLE) == {"rules": KUBERAY_ROLE["rules"]}

    def test_edited_subjects_and_a_lost_label_are_put_back(self) -> None:
        desired = binding()
        stored = copy.deepcopy(desired)
        stored["subjects"] = []
        del stored["metadata"]["labels"]["ray.io/cluster"]

        assert rbac_patch(stored, desired) == {
            "metadata": {"labels": {"ray.io/cluster": "demo"}},
            "subjects": desired["subjects"],
        }
