"""Per-kind behaviour of the embedded API server, compared with what kube-apiserver v1.36 answered (S05-S11)."""

from __future__ import annotations

import copy
import json
import random
import re
from typing import Any

import pytest

from e2e.localcluster.apiserver.errors import ApiError
from e2e.localcluster.apiserver.schema.builtins import bind_pod, builtin_hooks, parse_quantity, qos_class
from e2e.localcluster.apiserver.schema.resources import Registry, ResourceType
from e2e.localcluster.apiserver.storage.rest import Api
from e2e.localcluster.apiserver.storage.store import Store

Obj = dict[str, Any]
NS = "s06"

# The pod of S06 `create-pod` as kube-apiserver answered it (less the OpenShift-only projected source).
RECORDED_POD_SPEC: Obj = {
    "volumes": [{"name": "kube-api-access-#", "projected": {"sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace",
                                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}],
        "defaultMode": 420}}],
    "containers": [{"name": "main", "image": "busybox", "command": ["sleep", "3600"], "resources": {},
                    "volumeMounts": [{"name": "kube-api-access-#", "readOnly": True,
                                      "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}],
                    "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
                    "imagePullPolicy": "Always"}],
    "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
    "serviceAccountName": "default", "serviceAccount": "default", "securityContext": {},
    "schedulerName": "default-scheduler",
    "tolerations": [
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
         "tolerationSeconds": 300}],
    "priority": 0, "enableServiceLinks": True, "preemptionPolicy": "PreemptLowerPriority"}


def make_api(service_cidr: str = "10.96.0.0/16") -> Api:
    api = Api(Store(), Registry(), builtin_hooks(service_cidr, rng=random.Random(7)))
    api.create(rt(api, "namespaces"), "", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    return api


def rt(api: Api, plural: str) -> ResourceType:
    found = api.registry.lookup("", "v1", plural)
    assert found is not None
    return found


def pod_body(name: str = "p1", **container: Any) -> Obj:
    main = {"name": "main", "image": "busybox", "command": ["sleep", "3600"], **container}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {"containers": [main]}}


def create_pod(api: Api, body: Obj | None = None) -> Obj:
    """The created pod, as a copy the test may change (stored objects are read-only)."""
    return copy.deepcopy(api.create(rt(api, "pods"), NS, body or pod_body()).obj)


def token_volume_named(spec: Obj) -> Obj:
    """The spec with the random token volume name replaced by the recordings' placeholder."""
    value: Obj = json.loads(re.sub(r"kube-api-access-[a-z0-9]{5}", "kube-api-access-#", json.dumps(spec)))
    return value


def service_body(name: str = "web", **spec: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": {"app": "s07-old"}, "ports": [{"name": "http", "port": 80}], **spec}}


def invalid_message(exc: pytest.ExceptionInfo[ApiError]) -> str:
    assert exc.value.code == 422
    assert exc.value.reason == "Invalid"
    return exc.value.message


class TestPodDefaults:
    def test_created_pod_carries_the_recorded_defaults(self) -> None:
        pod = create_pod(make_api())
        assert token_volume_named(pod["spec"]) == RECORDED_POD_SPEC
        assert pod["status"] == {"phase": "Pending", "qosClass": "BestEffort"}
        assert pod["metadata"]["generation"] == 1

    def test_token_volume_has_a_five_character_random_suffix(self) -> None:
        names = {create_pod(make_api(), pod_body(f"p{i}"))["spec"]["volumes"][0]["name"] for i in range(3)}
        assert all(re.fullmatch(r"kube-api-access-[bcdfghjklmnpqrstvwxz2456789]{5}", n) for n in names)

    @pytest.mark.parametrize(("image", "policy"), [
        ("busybox", "Always"), ("busybox:latest", "Always"), ("registry:5000/busybox", "Always"),
        ("busybox:1.36", "IfNotPresent"), ("registry:5000/busybox:1.36", "IfNotPresent"),
        ("busybox@sha256:abc", "IfNotPresent")])
    def test_image_pull_policy_is_always_only_for_latest_or_untagged_images(self, image: str, policy: str) -> None:
        pod = create_pod(make_api(), pod_body(image=image))
        assert pod["spec"]["containers"][0]["imagePullPolicy"] == policy

    def test_an_explicit_image_pull_policy_is_kept(self) -> None:
        pod = create_pod(make_api(), pod_body(imagePullPolicy="Never"))
        assert pod["spec"]["containers"][0]["imagePullPolicy"] == "Never"

    def test_container_ports_default_to_tcp(self) -> None:
        pod = create_pod(make_api(), pod_body(ports=[{"name": "http", "containerPort": 80},
                                                     {"containerPort": 53, "protocol": "UDP"}]))
        assert [p["protocol"] for p in pod["spec"]["containers"][0]["ports"]] == ["TCP", "UDP"]

    def test_every_container_mounts_the_token_volume(self) -> None:
        body = pod_body()
        body["spec"]["containers"].append({"name": "side", "image": "busybox"})
        body["spec"]["initContainers"] = [{"name": "init", "image": "busybox"}]
        spec = create_pod(make_api(), body)["spec"]
        volume = spec["volumes"][0]["name"]
        for c in [*spec["containers"], *spec["initContainers"]]:
            assert {"name": volume, "readOnly": True,
                    "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"} in c["volumeMounts"]

    def test_pod_that_opts_out_of_token_automount_gets_no_token_volume(self) -> None:
        body = pod_body()
        body["spec"]["automountServiceAccountToken"] = False
        spec = create_pod(make_api(), body)["spec"]
        assert "volumes" not in spec
        assert "volumeMounts" not in spec["containers"][0]

    def test_tolerations_the_pod_already_has_are_not_added_twice(self) -> None:
        body = pod_body()
        body["spec"]["tolerations"] = [{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                                        "effect": "NoExecute"}]
        tolerations = create_pod(make_api(), body)["spec"]["tolerations"]
        assert [t["key"] for t in tolerations] == ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"]
        assert "tolerationSeconds" not in tolerations[0]

    def test_status_sent_on_create_is_replaced_by_pending(self) -> None:
        body = {**pod_body(), "status": {"phase": "Running", "podIP": "10.0.0.1"}}
        assert create_pod(make_api(), body)["status"] == {"phase": "Pending", "qosClass": "BestEffort"}

    def test_limits_without_requests_give_requests_equal_to_limits(self) -> None:
        pod = create_pod(make_api(), pod_body(resources={"limits": {"cpu": "1", "memory": "1Gi"}}))
        assert pod["spec"]["containers"][0]["resources"]["requests"] == {"cpu": "1", "memory": "1Gi"}
        assert pod["status"]["qosClass"] == "Guaranteed"

    def test_pod_without_containers_is_invalid(self) -> None:
        api = make_api()
        with pytest.raises(ApiError) as exc:
            api.create(rt(api, "pods"), NS, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                                             "spec": {}})
        assert invalid_message(exc) == 'Pod "p" is invalid: spec.containers: Required value'


class TestQosClass:
    @pytest.mark.parametrize(("resources", "expected"), [
        ({}, "BestEffort"),
        ({"requests": {"cpu": "0"}}, "BestEffort"),
        ({"requests": {"cpu": "100m"}}, "Burstable"),
        ({"limits": {"cpu": "1"}, "requests": {"cpu": "1"}}, "Burstable"),
        ({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}}, "Guaranteed"),
        ({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1000m", "memory": "1024Mi"}}, "Guaranteed"),
        ({"limits": {"cpu": "2", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}}, "Burstable"),
    ])
    def test_qos_class_follows_requests_and_limits_of_cpu_and_memory(self, resources: Obj, expected: str) -> None:
        assert qos_class({"containers": [{"name": "c", "resources": resources}]}) == expected

    def test_one_unlimited_container_makes_the_pod_burstable(self) -> None:
        full = {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}}
        spec = {"containers": [{"resources": full}, {"resources": {"requests": {"cpu": "1"}}}]}
        assert qos_class(spec) == "Burstable"

    @pytest.mark.parametrize(("text", "value"), [("500m", 0.5), ("2", 2), ("1Ki", 1024), ("1k", 1000),
                                                  ("1.5Gi", 1.5 * 2**30), ("1e3", 1000), ("bogus", 0)])
    def test_quantities_parse_exactly(self, text: str, value: float) -> None:
        assert parse_quantity(text) == value


class TestPodUpdates:
    def test_spec_change_is_rejected_with_the_recorded_message(self) -> None:
        api = make_api()
        create_pod(api)
        with pytest.raises(ApiError) as exc:
            api.patch(rt(api, "pods"), NS, "p1", "application/merge-patch+json", {"spec": {"restartPolicy": "Never"}})
        message = invalid_message(exc)
        assert message.startswith('Pod "p1" is invalid: spec: Forbidden: pod updates may not change fields other '
                                  "than `spec.containers[*].image`,`spec.initContainers[*].image`,"
                                  "`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing "
                                  "tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it "
                                  "was previously negative)\n")
        assert '\n- "restartPolicy": "Always",\n+ "restartPolicy": "Never",\n' in message
        assert exc.value.details is not None
        assert exc.value.details["causes"][0]["field"] == "spec"
        assert exc.value.details["causes"][0]["reason"] == "FieldValueForbidden"

    def test_image_change_is_allowed_and_bumps_generation(self) -> None:
        api = make_api()
        pod = create_pod(api)
        pod["spec"]["containers"][0]["image"] = "busybox:1.37"
        updated = api.update(rt(api, "pods"), NS, "p1", pod).obj
        assert updated["spec"]["containers"][0]["image"] == "busybox:1.37"
        assert updated["metadata"]["generation"] == 2

    def test_tolerations_may_be_added_but_not_removed(self) -> None:
        api = make_api()
        pod = create_pod(api)
        pod["spec"]["tolerations"].append({"key": "x", "operator": "Exists"})
        pod = copy.deepcopy(api.update(rt(api, "pods"), NS, "p1", pod).obj)
        assert len(pod["spec"]["tolerations"]) == 3
        pod["spec"]["tolerations"] = pod["spec"]["tolerations"][1:]
        with pytest.raises(ApiError) as exc:
            api.update(rt(api, "pods"), NS, "p1", pod)
        assert "pod updates may not change fields" in invalid_message(exc)

    def test_put_of_the_unchanged_pod_writes_nothing(self) -> None:
        api = make_api()
        pod = create_pod(api)
        again = api.update(rt(api, "pods"), NS, "p1", pod).obj
        assert again["metadata"]["resourceVersion"] == pod["metadata"]["resourceVersion"]
        assert again["metadata"]["generation"] == 1

    def test_label_change_keeps_generation(self) -> None:
        api = make_api()
        create_pod(api)
        patched = api.patch(rt(api, "pods"), NS, "p1", "application/merge-patch+json",
                            {"metadata": {"labels": {"a": "b"}}}).obj
        assert patched["metadata"]["labels"] == {"a": "b"}
        assert patched["metadata"]["generation"] == 1

    def test_status_update_fills_pod_ips_and_condition_times_as_recorded(self) -> None:
        api = make_api()
        create_pod(api)
        body = {"status": {"phase": "Running", "podIP": "10.244.0.5", "conditions": [{"type": "Ready",
                                                                                       "status": "True"}]}}
        pod = api.patch(rt(api, "pods"), NS, "p1", "application/merge-patch+json", body, subresource="status").obj
        assert pod["status"] == {"phase": "Running", "conditions": [
            {"type": "Ready", "status": "True", "lastProbeTime": None, "lastTransitionTime": None}],
            "podIP": "10.244.0.5", "podIPs": [{"ip": "10.244.0.5"}], "qosClass": "BestEffort"}
        assert pod["metadata"]["generation"] == 1


class TestBinding:
    def test_binding_sets_the_node_and_pod_scheduled_and_answers_a_201_status(self) -> None:
        api = make_api()
        create_pod(api)
        answer = bind_pod(api, NS, "p1", {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p1"},
                                          "target": {"apiVersion": "v1", "kind": "Node", "name": "local-node-1"}})
        assert answer == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
        pod = api.get(rt(api, "pods"), NS, "p1")
        assert pod["spec"]["nodeName"] == "local-node-1"
        [condition] = pod["status"]["conditions"]
        assert condition["type"] == "PodScheduled" and condition["status"] == "True"
        assert condition["lastProbeTime"] is None and condition["lastTransitionTime"]
        assert pod["metadata"]["generation"] == 1

    def test_second_binding_is_a_conflict_naming_the_node(self) -> None:
        api = make_api()
        create_pod(api)
        bind_pod(api, NS, "p1", {"target": {"name": "local-node-1"}})
        with pytest.raises(ApiError) as exc:
            bind_pod(api, NS, "p1", {"target": {"name": "local-node-2"}})
        assert exc.value.to_status() == {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": 'Operation cannot be fulfilled on pods/binding "p1": pod p1 is already assigned to node '
                       '"local-node-1"',
            "reason": "Conflict", "details": {"name": "p1", "kind": "pods/binding"}, "code": 409}

    def test_binding_a_pod_being_deleted_is_a_conflict(self) -> None:
        api = make_api()
        body = pod_body()
        body["metadata"]["finalizers"] = ["example.com/hold"]
        create_pod(api, body)
        api.delete(rt(api, "pods"), NS, "p1", {})
        with pytest.raises(ApiError) as exc:
            bind_pod(api, NS, "p1", {"target": {"name": "n1"}})
        assert exc.value.code == 409
        assert "is being deleted" in exc.value.message

    def test_binding_a_missing_pod_is_not_found(self) -> None:
        with pytest.raises(ApiError) as exc:
            bind_pod(make_api(), NS, "nope", {"target": {"name": "n1"}})
        assert exc.value.code == 404


class TestServices:
    def test_created_service_carries_the_recorded_defaults(self) -> None:
        api = make_api()
        svc = api.create(rt(api, "services"), NS, service_body()).obj
        ip = svc["spec"]["clusterIP"]
        assert svc["spec"] == {"ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 80}],
                               "selector": {"app": "s07-old"}, "clusterIP": ip, "clusterIPs": [ip],
                               "type": "ClusterIP", "sessionAffinity": "None", "ipFamilies": ["IPv4"],
                               "ipFamilyPolicy": "SingleStack", "internalTrafficPolicy": "Cluster"}
        assert svc["status"] == {"loadBalancer": {}}

    def test_cluster_ips_skip_the_network_and_first_address_of_the_cidr(self) -> None:
        api = make_api("10.96.0.0/16")
        ips = [api.create(rt(api, "services"), NS, service_body(f"s{i}")).obj["spec"]["clusterIP"] for i in range(3)]
        assert ips == ["10.96.0.2", "10.96.0.3", "10.96.0.4"]

    def test_an_allocated_cluster_ip_is_never_handed_out_twice(self) -> None:
        api = make_api("10.96.0.0/24")
        api.create(rt(api, "services"), NS, service_body("pinned", clusterIP="10.96.0.3"))
        ips = [api.create(rt(api, "services"), NS, service_body(f"s{i}")).obj["spec"]["clusterIP"] for i in range(50)]
        assert len(set(ips)) == 50 and "10.96.0.3" not in ips

    def test_the_ip_of_a_deleted_service_is_not_handed_out_while_unused_ones_remain(self) -> None:
        api = make_api("10.96.0.0/24")
        first = api.create(rt(api, "services"), NS, service_body("s0")).obj["spec"]["clusterIP"]
        api.delete(rt(api, "services"), NS, "s0", {})
        assert api.create(rt(api, "services"), NS, service_body("s1")).obj["spec"]["clusterIP"] != first

    def test_a_full_range_is_an_error_until_a_service_is_deleted(self) -> None:
        api = make_api("10.96.0.0/29")  # .2 to .6 are usable
        ips = [api.create(rt(api, "services"), NS, service_body(f"s{i}")).obj["spec"]["clusterIP"] for i in range(5)]
        assert ips == [f"10.96.0.{n}" for n in range(2, 7)]
        with pytest.raises(ApiError) as exc:
            api.create(rt(api, "services"), NS, service_body("s5"))
        assert exc.value.code == 500 and "range is full" in exc.value.message
        api.delete(rt(api, "services"), NS, "s3", {})
        assert api.create(rt(api, "services"), NS, service_body("s6")).obj["spec"]["clusterIP"] == "10.96.0.5"

    def test_headless_service_stays_headless_as_recorded(self) -> None:
        api = make_api()
        body = service_body("headless", clusterIP="None", ports=[{"port": 8265, "targetPort": "dashboard"}])
        spec = api.create(rt(api, "services"), NS, body).obj["spec"]
        assert spec == {"ports": [{"protocol": "TCP", "port": 8265, "targetPort": "dashboard"}],
                        "selector": {"app": "s07-old"}, "clusterIP": "None", "clusterIPs": ["None"],
                        "type": "ClusterIP", "sessionAffinity": "None", "ipFamilies": ["IPv4"],
                        "ipFamilyPolicy": "SingleStack", "internalTrafficPolicy": "Cluster"}

    @pytest.mark.parametrize(("ip", "problem"), [
        ("10.0.0.250", "the provided IP (10.0.0.250) is not in the valid range"),
        ("10.96.0.2", "provided IP is already allocated")])
    def test_a_requested_cluster_ip_must_be_free_and_in_range(self, ip: str, problem: str) -> None:
        api = make_api()
        api.create(rt(api, "services"), NS, service_body("first"))
        with pytest.raises(ApiError) as exc:
            api.create(rt(api, "services"), NS, service_body("second", clusterIP=ip))
        assert problem in invalid_message(exc)

    def test_put_without_cluster_ip_keeps_it_and_writes_nothing(self) -> None:
        api = make_api()
        created = api.create(rt(api, "services"), NS, service_body()).obj
        body = service_body()
        body["metadata"]["resourceVersion"] = created["metadata"]["resourceVersion"]
        again = api.update(rt(api, "services"), NS, "web", body).obj
        assert again == created

    def test_changing_the_cluster_ip_is_rejected_as_recorded(self) -> None:
        api = make_api()
        api.create(rt(api, "services"), NS, service_body())
        with pytest.raises(ApiError) as exc:
            api.patch(rt(api, "services"), NS, "web", "application/merge-patch+json",
                      {"spec": {"clusterIP": "10.0.0.250", "clusterIPs": ["10.0.0.250"]}})
        assert invalid_message(exc) == ('Service "web" is invalid: spec.clusterIPs[0]: Invalid value: '
                                        '["10.0.0.250"]: may not change once set')
        assert exc.value.details == {"name": "web", "kind": "Service", "causes": [{
            "reason": "FieldValueInvalid", "message": 'Invalid value: ["10.0.0.250"]: may not change once set',
            "field": "spec.clusterIPs[0]"}]}

    def test_node_port_services_get_distinct_node_ports_that_updates_keep(self) -> None:
        api = make_api()
        ports = [{"name": "a", "port": 80}, {"name": "b", "port": 81}]
        created = api.create(rt(api, "services"), NS, service_body(type="NodePort", ports=ports)).obj
        node_ports = [p["nodePort"] for p in created["spec"]["ports"]]
        assert len(set(node_ports)) == 2 and all(30000 <= p <= 32767 for p in node_ports)
        assert created["spec"]["externalTrafficPolicy"] == "Cluster"
        updated = api.update(rt(api, "services"), NS, "web", service_body(type="NodePort", ports=ports)).obj
        assert [p["nodePort"] for p in updated["spec"]["ports"]] == node_ports

    def test_external_name_service_gets_no_cluster_ip(self) -> None:
        api = make_api()
        body = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ext"},
                "spec": {"type": "ExternalName", "externalName": "example.com"}}
        spec = api.create(rt(api, "services"), NS, body).obj["spec"]
        assert "clusterIP" not in spec and "ipFamilies" not in spec


class TestOtherKinds:
    def test_created_namespace_carries_the_recorded_label_finalizer_and_phase(self) -> None:
        api = make_api()
        ns = api.get(rt(api, "namespaces"), "", NS)
        assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": NS}
        assert ns["spec"] == {"finalizers": ["kubernetes"]}
        assert ns["status"] == {"phase": "Active"}

    def test_namespace_update_cannot_drop_the_finalizer_or_the_name_label(self) -> None:
        api = make_api()
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS, "labels": {"x": "y"}},
                "spec": {"finalizers": []}}
        ns = api.update(rt(api, "namespaces"), "", NS, body).obj
        assert ns["metadata"]["labels"] == {"x": "y", "kubernetes.io/metadata.name": NS}
        assert ns["spec"] == {"finalizers": ["kubernetes"]}

    def test_node_created_not_ready_gets_the_recorded_taint_and_status(self) -> None:
        api = make_api()
        node = api.create(rt(api, "nodes"), "", {"apiVersion": "v1", "kind": "Node",
                                                 "metadata": {"name": "n1"}}).obj
        assert node["spec"] == {"taints": [{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}]}
        assert node["status"] == {"daemonEndpoints": {"kubeletEndpoint": {"Port": 0}}, "nodeInfo": {
            "machineID": "", "systemUUID": "", "bootID": "", "kernelVersion": "", "osImage": "",
            "containerRuntimeVersion": "", "kubeletVersion": "", "kubeProxyVersion": "", "operatingSystem": "",
            "architecture": ""}}

    def test_node_created_ready_gets_no_not_ready_taint(self) -> None:
        api = make_api()
        body = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"},
                "status": {"conditions": [{"type": "Ready", "status": "True"}]}}
        assert "taints" not in api.create(rt(api, "nodes"), "", body).obj["spec"]

    def test_event_create_echoes_event_time_and_reporting_fields(self) -> None:
        api = make_api()
        body = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "w-ev.1"},
                "involvedObject": {"kind": "Widget", "name": "w-ev", "namespace": NS}, "reason": "Created",
                "type": "Normal", "count": 1}
        ev = api.create(rt(api, "events"), NS, body).obj
        assert (ev["eventTime"], ev["reportingComponent"], ev["reportingInstance"]) == (None, "", "")

    def test_event_about_an_object_of_another_namespace_is_rejected_as_recorded(self) -> None:
        api = make_api()
        body = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "w-ev.4"},
                "involvedObject": {"kind": "Widget", "name": "w-ev", "namespace": "elsewhere"}, "type": "Normal"}
        with pytest.raises(ApiError) as exc:
            api.create(rt(api, "events"), NS, body)
        assert invalid_message(exc) == ('Event "w-ev.4" is invalid: involvedObject.namespace: Invalid value: '
                                        '"elsewhere": does not match event.namespace')

    def test_event_about_a_cluster_scoped_object_may_live_in_default(self) -> None:
        api = make_api()
        api.create(rt(api, "namespaces"), "", {"apiVersion": "v1", "kind": "Namespace",
                                               "metadata": {"name": "default"}})
        body = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "n1.1"},
                "involvedObject": {"kind": "Node", "name": "n1"}, "type": "Normal"}
        assert api.create(rt(api, "events"), "default", body).obj["involvedObject"] == {"kind": "Node", "name": "n1"}

    def test_strict_field_validation_rejects_an_unknown_configmap_field_as_recorded(self) -> None:
        api = make_api()
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "v-cm"}, "data": {"k": "v"}, "extra": 1}
        with pytest.raises(ApiError) as exc:
            api.create(rt(api, "configmaps"), NS, body, field_validation="Strict")
        assert (exc.value.code, exc.value.message) == (400, 'ConfigMap in version "v1" cannot be handled as a '
                                                            'ConfigMap: strict decoding error: unknown field "extra"')

    def test_default_field_validation_warns_and_drops_an_unknown_configmap_field(self) -> None:
        api = make_api()
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "v-cm"}, "data": {"k": "v"}, "extra": 1}
        result = api.create(rt(api, "configmaps"), NS, body)
        assert result.warnings == ['unknown field "extra"']
        assert "extra" not in result.obj

    def test_every_secret_field_is_known(self) -> None:
        api = make_api()
        body = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "type": "Opaque",
                "data": {"a": "Yg=="}, "immutable": False}
        assert api.create(rt(api, "secrets"), NS, body, field_validation="Strict").warnings == []

    def test_secret_string_data_is_merged_into_data_as_base64(self) -> None:
        api = make_api()
        body = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"token": "abc"}}
        secret = api.create(rt(api, "secrets"), NS, body).obj
        assert secret["data"] == {"token": "YWJj"} and secret["type"] == "Opaque" and "stringData" not in secret


def test_a_status_write_during_a_pods_grace_period_does_not_delete_it() -> None:
    from e2e.localcluster.apiserver.schema.builtins import bind_pod, builtin_hooks
    from e2e.localcluster.apiserver.schema.resources import Registry
    from e2e.localcluster.apiserver.storage.rest import Api
    from e2e.localcluster.apiserver.storage.store import Store

    api = Api(Store(), Registry(), builtin_hooks())
    ns_rt, pod_rt = api.registry.lookup("", "v1", "namespaces"), api.registry.lookup("", "v1", "pods")
    assert ns_rt is not None and pod_rt is not None
    api.create(ns_rt, "", {"metadata": {"name": "default"}})
    api.create(pod_rt, "default", {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x"}]}})
    bind_pod(api, "default", "p", {"target": {"name": "n"}})
    deleting, _ = api.delete(pod_rt, "default", "p", {})
    assert deleting["metadata"]["deletionGracePeriodSeconds"] == 30
    api.patch(pod_rt, "default", "p", "application/merge-patch+json", {"status": {"phase": "Running"}},
              subresource="status")
    assert api.store.get(("", "pods"), "default", "p") is not None
