"""Pod admission mounts the ServiceAccount's credentials as kube's ServiceAccount admission does
(e2e/localcluster/apiserver/schema/builtins.py)."""

from __future__ import annotations

from typing import Any

import pytest

from e2e.localcluster.apiserver.schema.builtins import builtin_hooks
from e2e.localcluster.apiserver.schema.resources import Registry, ResourceType
from e2e.localcluster.apiserver.storage.rest import Api
from e2e.localcluster.apiserver.storage.store import Store

Obj = dict[str, Any]
MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"


def rt(api: Api, plural: str) -> ResourceType:
    found = api.registry.lookup("", "v1", plural)
    assert found is not None
    return found


@pytest.fixture
def api() -> Api:
    api = Api(Store(), Registry(), builtin_hooks())
    api.create(rt(api, "namespaces"), "", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
    for name, automount in (("quiet", False), ("loud", True), ("unset", None)):
        body: Obj = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}}
        if automount is not None:
            body["automountServiceAccountToken"] = automount
        api.create(rt(api, "serviceaccounts"), "team", body)
    return api


def create(api: Api, account: str | None, pod_setting: bool | None = None) -> Obj:
    spec: Obj = {"containers": [{"name": "c", "image": "busybox"}]}
    if account is not None:
        spec["serviceAccountName"] = account
    if pod_setting is not None:
        spec["automountServiceAccountToken"] = pod_setting
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec}
    found: Obj = api.create(rt(api, "pods"), "team", body).obj
    return found


def mounted(pod: Obj) -> bool:
    volumes = [v["name"] for v in pod["spec"].get("volumes") or [] if v["name"].startswith("kube-api-access-")]
    mounts = [m for m in pod["spec"]["containers"][0].get("volumeMounts") or [] if m["mountPath"] == MOUNT]
    assert len(volumes) == len(mounts)
    return bool(volumes)


@pytest.mark.parametrize(("account", "pod_setting", "expected"), [
    ("quiet", None, False),  # the ServiceAccount opts out
    ("quiet", True, True),  # the pod's own setting wins
    ("loud", False, False),
    ("loud", None, True),
    ("unset", None, True),
    (None, None, True),  # `default`, which this store does not hold: counts as unset
    ("missing", None, True),
])
def test_the_pods_setting_wins_then_its_service_accounts_then_true(api: Api, account: str | None,
                                                                    pod_setting: bool | None, expected: bool) -> None:
    pod = create(api, account, pod_setting)
    assert mounted(pod) is expected
    assert pod["spec"]["serviceAccountName"] == (account or "default")
