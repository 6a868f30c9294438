"""Per-kind rejections of built-ins, worded as kube-apiserver v1.36's validation and typed decoding word them."""

from __future__ import annotations

from typing import Any

import pytest

from e2e.localcluster.apiserver.errors import ApiError
from e2e.localcluster.apiserver.schema.resources import Registry, ResourceType
from e2e.localcluster.apiserver.schema.validation import check_decodable, validate_kind
from e2e.localcluster.apiserver.schema.validation.gotime import micro_time_error, time_error

Obj = dict[str, Any]


def served(group: str, version: str, plural: str) -> ResourceType:
    found = Registry().lookup(group, version, plural)
    assert found is not None
    return found


LEASES = served("coordination.k8s.io", "v1", "leases")
SERVICES = served("", "v1", "services")
EVENTS = served("", "v1", "events")
CONFIGMAPS = served("", "v1", "configmaps")
SECRETS = served("", "v1", "secrets")
PODS = served("", "v1", "pods")


def messages(rt: ResourceType, obj: Obj, old: Obj | None = None) -> list[str]:
    return [f"{c.field}: {c.message}" for c in validate_kind(rt, obj, old)]


def decode_rejection(rt: ResourceType, obj: Obj) -> str:
    with pytest.raises(ApiError) as info:
        check_decodable(rt, obj)
    assert (info.value.code, info.value.reason) == (400, "BadRequest")
    return info.value.message


def lease(**spec: Any) -> Obj:
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "l"}, "spec": spec}


class TestLease:
    def test_micro_times_with_six_fraction_digits_and_a_zone_decode(self) -> None:
        check_decodable(LEASES, lease(renewTime="2026-11-25T10:00:00.000000Z",
                                      acquireTime="2026-11-25T10:00:00.123456+02:00"))

    @pytest.mark.parametrize(("value", "tail"), [
        ("2026-11-25T10:00:00Z", 'cannot parse "Z" as ".000000"'),
        ("2026-11-25T10:00:00.000Z", 'cannot parse ".000Z" as ".000000"'),
        ("2026-11-25T10:00:00.000000", 'cannot parse "" as "Z07:00"'),
        ("2026-11-25 10:00:00.000000Z", 'cannot parse " 10:00:00.000000Z" as "T"'),
    ])
    def test_a_renew_time_go_cannot_parse_is_a_bad_request(self, value: str, tail: str) -> None:
        message = decode_rejection(LEASES, lease(renewTime=value))
        assert message == (f'Lease in version "v1" cannot be handled as a Lease: parsing time "{value}" as '
                           f'"2006-01-02T15:04:05.000000Z07:00": {tail}')

    def test_a_duration_that_is_not_an_int32_is_a_go_type_error(self) -> None:
        assert decode_rejection(LEASES, lease(leaseDurationSeconds="15s")) == (
            'Lease in version "v1" cannot be handled as a Lease: json: cannot unmarshal string into Go struct '
            "field LeaseSpec.spec.leaseDurationSeconds of type int32")
        assert decode_rejection(LEASES, lease(leaseDurationSeconds=1.5)).endswith(
            "json: cannot unmarshal number 1.5 into Go struct field LeaseSpec.spec.leaseDurationSeconds of type int32")

    def test_a_holder_identity_that_is_not_a_string_is_a_go_type_error(self) -> None:
        assert decode_rejection(LEASES, lease(holderIdentity=7)).endswith(
            "json: cannot unmarshal number 7 into Go struct field LeaseSpec.spec.holderIdentity of type string")

    def test_durations_must_be_positive_and_transitions_not_negative(self) -> None:
        assert messages(LEASES, lease(leaseDurationSeconds=0, leaseTransitions=-1)) == [
            "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0",
            "spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0"]

    def test_a_preferred_holder_needs_a_strategy(self) -> None:
        assert messages(LEASES, lease(preferredHolder="a")) == [
            "spec.preferredHolder: Forbidden: may only be specified if `strategy` is defined"]

    def test_metav1_time_accepts_any_fraction_but_needs_a_zone(self) -> None:
        assert time_error("2026-11-25T10:00:00Z") is None
        assert time_error("2026-11-25T10:00:00.5Z") is None
        assert micro_time_error("2026-02-30T10:00:00.000000Z") == 'parsing time "2026-02-30T10:00:00.000000Z": ' \
                                                                  "day out of range"


def service(*ports: Obj, **spec: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
            "spec": {"ports": [{"protocol": "TCP", **p} for p in ports], **spec}}


class TestService:
    def test_ports_are_required_unless_headless(self) -> None:
        assert messages(SERVICES, service()) == ["spec.ports: Required value"]
        assert messages(SERVICES, service(clusterIP="None")) == []

    def test_port_out_of_range_and_bad_protocol(self) -> None:
        assert messages(SERVICES, {**service({"port": 70000, "targetPort": 80})}) == [
            "spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive"]
        assert messages(SERVICES, service({"port": 80, "targetPort": 80, "protocol": "HTTP"})) == [
            'spec.ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"']

    def test_several_ports_need_names_and_distinct_port_protocol_pairs(self) -> None:
        assert messages(SERVICES, service({"port": 80, "targetPort": 80}, {"port": 80, "targetPort": 81})) == [
            "spec.ports[0].name: Required value", "spec.ports[1].name: Required value",
            'spec.ports[1]: Duplicate value: {"Name":"","Protocol":"TCP","AppProtocol":null,"Port":80,'
            '"TargetPort":0,"NodePort":0}']

    def test_duplicate_port_names_and_bad_target_port_names(self) -> None:
        assert messages(SERVICES, service({"name": "web", "port": 80, "targetPort": "http--x"},
                                          {"name": "web", "port": 81, "targetPort": 81})) == [
            'spec.ports[0].targetPort: Invalid value: "http--x": must not contain consecutive hyphens',
            'spec.ports[1].name: Duplicate value: "web"']

    def test_an_unknown_type_is_unsupported(self) -> None:
        assert messages(SERVICES, service({"port": 80, "targetPort": 80}, type="Magic")) == [
            'spec.type: Unsupported value: "Magic": supported values: "ClusterIP", "ExternalName", '
            '"LoadBalancer", "NodePort"']


def event(**fields: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e", "namespace": "ns1"},
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": "ns1"}, **fields}


class TestEvent:
    def test_an_old_style_event_needs_its_objects_namespace_and_nothing_else(self) -> None:
        assert messages(EVENTS, event(type="Bogus", reason="x" * 300)) == []
        assert messages(EVENTS, event(involvedObject={"namespace": "other"})) == [
            'involvedObject.namespace: Invalid value: "other": does not match event.namespace']

    def test_a_new_style_event_needs_its_reporter_action_and_reason(self) -> None:
        assert messages(EVENTS, event(eventTime="2026-11-25T10:00:00.000000Z")) == [
            "reportingController: Required value",
            'reportingController: Invalid value: "": name part must be non-empty',  # kube reports both
            "reportingInstance: Required value", "action: Required value", "reason: Required value"]

    def test_a_new_style_event_bounds_reason_and_message(self) -> None:
        ok = {"eventTime": "2026-11-25T10:00:00.000000Z", "reportingComponent": "op", "reportingInstance": "i",
              "action": "Sync"}
        assert messages(EVENTS, event(**ok, reason="r" * 129, message="m" * 1025)) == [
            'reason: Invalid value: "": can have at most 128 characters',
            'message: Invalid value: "": can have at most 1024 characters']

    def test_an_event_time_that_is_not_a_micro_time_is_a_bad_request(self) -> None:
        assert decode_rejection(EVENTS, event(eventTime="2026-11-25T10:00:00Z")).startswith(
            'Event in version "v1" cannot be handled as a Event: parsing time "2026-11-25T10:00:00Z"')


class TestConfigMapAndSecret:
    def test_keys_must_be_config_keys(self) -> None:
        cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a b": "1", "..x": "2"}}
        assert messages(CONFIGMAPS, cm) == [
            'data[..x]: Invalid value: "..x": must not start with \'..\'',
            "data[a b]: Invalid value: \"a b\": a valid config key must consist of alphanumeric characters, '-', "
            "'_' or '.' (e.g. 'key.name', or 'KEY_NAME', or 'key-name', regex used for validation is "
            "'[-._a-zA-Z0-9]+')"]

    def test_a_key_in_data_and_binary_data_is_a_duplicate(self) -> None:
        cm = {"metadata": {"name": "c"}, "data": {"k": "1"}, "binaryData": {"k": "MQ=="}}
        assert messages(CONFIGMAPS, cm) == ['data[k]: Invalid value: "k": duplicate of key present in binaryData']

    def test_immutable_data_cannot_change(self) -> None:
        old = {"metadata": {"name": "c"}, "data": {"k": "1"}, "immutable": True}
        assert messages(CONFIGMAPS, {**old, "data": {"k": "2"}}, old) == [
            "data: Forbidden: field is immutable when `immutable` is set"]

    def test_tls_secrets_need_their_keys_and_types_never_change(self) -> None:
        secret = {"metadata": {"name": "s"}, "type": "kubernetes.io/tls", "data": {"tls.crt": "eA=="}}
        assert messages(SECRETS, secret) == ["data[tls.key]: Required value"]
        assert messages(SECRETS, {**secret, "type": "Opaque"}, secret) == [
            'type: Invalid value: "Opaque": field is immutable']

    def test_secret_data_must_be_base64(self) -> None:
        secret = {"metadata": {"name": "s"}, "data": {"k": "not base64!"}}
        assert decode_rejection(SECRETS, secret) == ('Secret in version "v1" cannot be handled as a Secret: '
                                                     "illegal base64 data at input byte 3")


class TestPod:
    def test_containers_need_unique_names_and_images(self) -> None:
        pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "app", "image": "x"}, {"name": "app"}]}}
        assert messages(PODS, pod) == ['spec.containers[1].name: Duplicate value: "app"',
                                       "spec.containers[1].image: Required value"]

    def test_container_ports_and_policies(self) -> None:
        pod = {"metadata": {"name": "p"}, "spec": {
            "restartPolicy": "Sometimes",
            "containers": [{"name": "app", "image": "x", "ports": [{"containerPort": 70000, "protocol": "TCP"}]}]}}
        assert messages(PODS, pod) == [
            "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
            'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"']

    def test_pod_rules_apply_on_create_only(self) -> None:
        pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "app"}]}}
        assert messages(PODS, pod, old=pod) == []


ROLES = served("rbac.authorization.k8s.io", "v1", "roles")
CLUSTER_ROLES = served("rbac.authorization.k8s.io", "v1", "clusterroles")
ROLE_BINDINGS = served("rbac.authorization.k8s.io", "v1", "rolebindings")
CLUSTER_ROLE_BINDINGS = served("rbac.authorization.k8s.io", "v1", "clusterrolebindings")
SLICES = served("discovery.k8s.io", "v1", "endpointslices")


class TestRbac:
    def test_rules_need_verbs_groups_and_resources(self) -> None:
        assert messages(ROLES, {"metadata": {"name": "r"}, "rules": [{}]}) == [
            "rules[0].verbs: Required value: verbs must contain at least one value",
            "rules[0].apiGroups: Required value: resource rules must supply at least one api group",
            "rules[0].resources: Required value: resource rules must supply at least one resource"]

    def test_a_role_cannot_name_non_resource_urls(self) -> None:
        rule = {"verbs": ["get"], "nonResourceURLs": ["/healthz"]}
        assert messages(ROLES, {"metadata": {"name": "r"}, "rules": [rule]}) == [
            'rules[0].nonResourceURLs: Invalid value: ["/healthz"]: namespaced rules cannot apply to non-resource '
            "URLs"]
        assert messages(CLUSTER_ROLES, {"metadata": {"name": "r"}, "rules": [rule]}) == []

    def test_bindings_check_role_ref_and_subjects(self) -> None:
        binding = {"metadata": {"name": "b"}, "roleRef": {"kind": "Role", "name": "r"},
                   "subjects": [{"kind": "Robot", "name": "x"}, {"kind": "ServiceAccount", "name": "sa"}]}
        assert messages(ROLE_BINDINGS, binding) == [
            'subjects[0].kind: Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group"']
        assert messages(CLUSTER_ROLE_BINDINGS, binding) == [
            'roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"',
            'subjects[0].kind: Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group"',
            "subjects[1].namespace: Required value"]

    def test_a_role_ref_never_changes(self) -> None:
        old = {"metadata": {"name": "b"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                                      "name": "r"}}
        new = {**old, "roleRef": {"kind": "Role", "name": "other"}}
        assert messages(ROLE_BINDINGS, new, old) == [
            'roleRef: Invalid value: {"APIGroup":"rbac.authorization.k8s.io","Kind":"Role","Name":"other"}: '
            "cannot change roleRef"]


class TestEndpointSlice:
    def test_address_type_is_required_and_known(self) -> None:
        assert messages(SLICES, {"metadata": {"name": "s"}}) == ["addressType: Required value"]
        assert messages(SLICES, {"metadata": {"name": "s"}, "addressType": "IPv5"}) == [
            'addressType: Unsupported value: "IPv5": supported values: "FQDN", "IPv4", "IPv6"']

    def test_endpoints_need_addresses_of_their_type(self) -> None:
        eps = {"metadata": {"name": "s"}, "addressType": "IPv4",
               "endpoints": [{"addresses": []}, {"addresses": ["10.0.0.1", "nope"]}]}
        assert messages(SLICES, eps) == [
            "endpoints[0].addresses: Required value: must contain at least 1 address",
            'endpoints[1].addresses[1]: Invalid value: "nope": must be a valid IPv4 address']

    def test_two_unnamed_ports_are_duplicates(self) -> None:
        eps = {"metadata": {"name": "s"}, "addressType": "IPv4", "ports": [{"port": 80}, {"port": 81}]}
        assert messages(SLICES, eps) == ['ports[1].name: Duplicate value: ""']
