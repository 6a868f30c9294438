"""Per-kind rejections reach clients through create, update and patch of the REST layer, as kube's do."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from e2e.localcluster.apiserver.errors import ApiError
from e2e.localcluster.apiserver.schema.builtins import builtin_hooks
from e2e.localcluster.apiserver.schema.resources import Registry, ResourceType
from e2e.localcluster.apiserver.storage.rest import Api
from e2e.localcluster.apiserver.storage.store import Store

NS = "ns1"
MERGE = "application/merge-patch+json"


def make_api() -> Api:
    api = Api(Store(), Registry(), builtin_hooks(rng=random.Random(7)))
    api.create(lookup(api, "", "namespaces"), "", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    return api


def lookup(api: Api, group: str, plural: str) -> ResourceType:
    found = api.registry.lookup(group, "v1", plural)
    assert found is not None
    return found


def rejection(fn: Any, *args: Any, **kw: Any) -> ApiError:
    with pytest.raises(ApiError) as info:
        fn(*args, **kw)
    return info.value


def test_a_namespace_name_must_be_a_dns_label() -> None:
    api = make_api()
    err = rejection(api.create, lookup(api, "", "namespaces"), "", {"metadata": {"name": "Bad_Name"}})
    assert (err.code, err.reason) == (422, "Invalid")
    assert err.message.startswith('Namespace "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a '
                                  "lowercase RFC 1123 label must consist of")


def test_an_invalid_service_is_not_stored() -> None:
    api = make_api()
    services = lookup(api, "", "services")
    err = rejection(api.create, services, NS, {"metadata": {"name": "web"}, "spec": {"ports": [{"port": 0}]}})
    assert err.message == ('Service "web" is invalid: [spec.ports[0].port: Invalid value: 0: must be between 1 and '
                           "65535, inclusive, spec.ports[0].targetPort: Invalid value: 0: must be between 1 and "
                           "65535, inclusive]")
    assert err.details is not None and [c["field"] for c in err.details["causes"]] == [
        "spec.ports[0].port", "spec.ports[0].targetPort"]
    assert api.store.get(("", "services"), NS, "web") is None


def test_an_update_is_validated_like_a_create() -> None:
    api = make_api()
    cms = lookup(api, "", "configmaps")
    api.create(cms, NS, {"metadata": {"name": "c"}, "data": {"k": "v"}})
    err = rejection(api.update, cms, NS, "c", {"metadata": {"name": "c"}, "data": {"bad key": "v"}})
    assert (err.code, err.message.split(": ")[0]) == (422, 'ConfigMap "c" is invalid')
    assert (api.store.get(("", "configmaps"), NS, "c") or {}).get("data") == {"k": "v"}


def test_a_patch_that_breaks_a_lease_time_quotes_the_patched_object() -> None:
    api = make_api()
    leases = lookup(api, "coordination.k8s.io", "leases")
    api.create(leases, NS, {"metadata": {"name": "l"}, "spec": {"renewTime": "2026-11-25T10:00:00.000000Z"}})
    err = rejection(api.patch, leases, NS, "l", MERGE, {"spec": {"renewTime": "2026-11-25T10:00:01Z"}})
    assert (err.code, err.reason) == (422, "Invalid")
    assert err.message.startswith(' "" is invalid: patch: Invalid value: "{')
    assert err.message.endswith(': parsing time "2026-11-25T10:00:01Z" as "2006-01-02T15:04:05.000000Z07:00": '
                                'cannot parse "Z" as ".000000"')
    assert err.details is not None and err.details["causes"][0]["field"] == "patch"


def test_a_lease_duration_of_zero_is_invalid_on_update_too() -> None:
    api = make_api()
    leases = lookup(api, "coordination.k8s.io", "leases")
    stored = api.create(leases, NS, {"metadata": {"name": "l"}, "spec": {"leaseDurationSeconds": 15}}).obj
    body = json.loads(json.dumps(stored))
    body["spec"]["leaseDurationSeconds"] = 0
    err = rejection(api.update, leases, NS, "l", body)
    assert err.message == ('Lease.coordination.k8s.io "l" is invalid: spec.leaseDurationSeconds: Invalid value: 0: '
                           "must be greater than 0")


def test_new_finalizers_on_a_deleting_object_are_forbidden_and_listed_sorted() -> None:
    api = make_api()
    cms = lookup(api, "", "configmaps")
    api.create(cms, NS, {"metadata": {"name": "f", "finalizers": ["a.io/x"]}})
    api.delete(cms, NS, "f", {})
    err = rejection(api.patch, cms, NS, "f", MERGE, {"metadata": {"finalizers": ["a.io/x", "z.io/b", "m.io/a"]}})
    assert err.message == ('ConfigMap "f" is invalid: metadata.finalizers: Forbidden: no new finalizers can be added '
                           'if the object is being deleted, found new finalizers []string{"m.io/a", "z.io/b"}')
