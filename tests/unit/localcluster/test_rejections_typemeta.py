"""The body's apiVersion and kind against the URL, and PUT names, answered as kube-apiserver v1.36 answers them."""

from __future__ import annotations

import random
from typing import Any

import pytest

from e2e.localcluster.apiserver.errors import ApiError
from e2e.localcluster.apiserver.schema.builtins import builtin_hooks
from e2e.localcluster.apiserver.schema.crds import resource_types_for
from e2e.localcluster.apiserver.schema.resources import Registry, ResourceType
from e2e.localcluster.apiserver.storage.rest import Api
from e2e.localcluster.apiserver.storage.store import Store

NS = "ns1"
WIDGET_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {"group": "example.com", "scope": "Namespaced",
             "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
             "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                 "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}}


def make_api() -> Api:
    api = Api(Store(), Registry(), builtin_hooks(rng=random.Random(7)))
    api.create(lookup(api, "", "v1", "namespaces"), "", {"apiVersion": "v1", "kind": "Namespace",
                                                        "metadata": {"name": NS}})
    return api


def lookup(api: Api, group: str, version: str, plural: str) -> ResourceType:
    found = api.registry.lookup(group, version, plural)
    assert found is not None
    return found


def widgets(api: Api) -> ResourceType:
    for served in resource_types_for(WIDGET_CRD):
        api.registry.add(served)
    return lookup(api, "example.com", "v1", "widgets")


def rejection(fn: Any, *args: Any, **kw: Any) -> ApiError:
    with pytest.raises(ApiError) as info:
        fn(*args, **kw)
    return info.value


class TestBuiltinCreate:
    def test_missing_kind_and_api_version_are_filled_in_from_the_url(self) -> None:
        api = make_api()
        out = api.create(lookup(api, "", "v1", "configmaps"), NS, {"metadata": {"name": "c"}})
        assert (out.obj["apiVersion"], out.obj["kind"]) == ("v1", "ConfigMap")

    def test_another_kind_of_the_same_version_cannot_be_converted(self) -> None:
        api = make_api()
        err = rejection(api.create, lookup(api, "", "v1", "configmaps"), NS,
                        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "c"}})
        assert (err.code, err.reason) == (400, "BadRequest")
        assert err.message == ('Secret in version "v1" cannot be handled as a ConfigMap: converting (v1.Secret) '
                               "to (core.ConfigMap): unknown conversion")

    def test_a_kind_the_group_does_not_register_is_named_with_the_scheme(self) -> None:
        api = make_api()
        err = rejection(api.create, lookup(api, "", "v1", "configmaps"), NS,
                        {"apiVersion": "apps/v1", "kind": "ConfigMap", "metadata": {"name": "c"}})
        assert (err.code, err.reason) == (400, "BadRequest")
        assert err.message == ('ConfigMap in version "v1" cannot be handled as a ConfigMap: no kind "ConfigMap" is '
                               'registered for version "apps/v1" in scheme '
                               '"k8s.io/kubernetes/pkg/api/legacyscheme/scheme.go:30"')

    def test_the_same_kind_at_another_version_of_the_group_does_not_match_the_url(self) -> None:
        api = make_api()
        err = rejection(api.create, lookup(api, "apps", "v1", "deployments"), NS,
                        {"apiVersion": "apps/v1beta1", "kind": "Deployment", "metadata": {"name": "d"}})
        assert (err.code, err.message) == (400, "the API version in the data (apps/v1beta1) does not match the "
                                                "expected API version (apps/v1)")

    def test_an_events_k8s_io_event_sent_to_core_events_does_not_match_the_url(self) -> None:
        api = make_api()
        err = rejection(api.create, lookup(api, "", "v1", "events"), NS,
                        {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"}})
        assert err.message == "the API version in the data (events.k8s.io/v1) does not match the expected API " \
                              "version (v1)"

    def test_an_api_version_with_two_slashes_is_unrecognized(self) -> None:
        api = make_api()
        err = rejection(api.create, lookup(api, "", "v1", "configmaps"), NS,
                        {"apiVersion": "a/b/c", "kind": "ConfigMap", "metadata": {"name": "c"}})
        assert err.message == ('the object provided is unrecognized (must be of type ConfigMap): unexpected '
                               'GroupVersion string: a/b/c ({"apiVersion":"a/b/c","kind":" ...)')


class TestBuiltinUpdate:
    def test_update_with_another_kind_is_rejected_like_create(self) -> None:
        api = make_api()
        cms = lookup(api, "", "v1", "configmaps")
        api.create(cms, NS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}})
        err = rejection(api.update, cms, NS, "c", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "c"}})
        assert err.message.startswith('Pod in version "v1" cannot be handled as a ConfigMap: converting (v1.Pod)')

    def test_put_without_a_name_is_undeterminable(self) -> None:
        api = make_api()
        cms = lookup(api, "", "v1", "configmaps")
        api.create(cms, NS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}})
        err = rejection(api.update, cms, NS, "c", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}})
        assert (err.code, err.reason, err.message) == (
            400, "BadRequest", "the name of the object (c based on URL) was undeterminable: name must be provided")

    def test_put_with_another_name_does_not_match_the_url(self) -> None:
        api = make_api()
        cms = lookup(api, "", "v1", "configmaps")
        api.create(cms, NS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}})
        err = rejection(api.update, cms, NS, "c", {"apiVersion": "v1", "kind": "ConfigMap",
                                                   "metadata": {"name": "d"}})
        assert err.message == "the name of the object (d) does not match the name on the URL (c)"

    def test_put_with_another_namespace_does_not_match_the_request(self) -> None:
        api = make_api()
        cms = lookup(api, "", "v1", "configmaps")
        api.create(cms, NS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}})
        err = rejection(api.update, cms, NS, "c", {"apiVersion": "v1", "kind": "ConfigMap",
                                                   "metadata": {"name": "c", "namespace": "other"}})
        assert (err.code, err.message) == (400, "the namespace of the provided object does not match the "
                                                "namespace sent on the request")


class TestCustomResources:
    def test_missing_kind_is_unrecognized_and_quotes_the_body(self) -> None:
        api = make_api()
        err = rejection(api.create, widgets(api), NS, {"apiVersion": "example.com/v1", "metadata": {"name": "w"}})
        body = '{"apiVersion":"example.com/v1","metadata":{"name":"w"}}'
        assert (err.code, err.reason) == (400, "BadRequest")
        assert err.message == (f"the object provided is unrecognized (must be of type Widget): Object 'Kind' is "
                               f"missing in '{body}' ({body[:30]} ...)")

    @pytest.mark.parametrize("api_version", ["example.com/v2", "other.example.com/v1", None])
    def test_another_group_or_version_does_not_match_the_url(self, api_version: str | None) -> None:
        api = make_api()
        body: dict[str, Any] = {"kind": "Widget", "metadata": {"name": "w"}}
        if api_version:
            body["apiVersion"] = api_version
        err = rejection(api.create, widgets(api), NS, body)
        assert (err.code, err.message) == (400, f"the API version in the data ({api_version or ''}) does not "
                                                "match the expected API version (example.com/v1)")

    def test_another_kind_is_invalid_under_that_kind(self) -> None:
        api = make_api()
        err = rejection(api.create, widgets(api), NS,
                        {"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "w"}})
        assert (err.code, err.reason) == (422, "Invalid")
        assert err.message == 'Gadget.example.com "w" is invalid: kind: Invalid value: "Gadget": must be Widget'
        assert err.details is not None and err.details["kind"] == "Gadget"

    def test_update_with_another_kind_is_invalid_too(self) -> None:
        api = make_api()
        rt = widgets(api)
        stored = api.create(rt, NS, {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}})
        body = {**stored.obj, "kind": "Gadget"}
        err = rejection(api.update, rt, NS, "w", body)
        assert (err.code, err.message) == (422, 'Gadget.example.com "w" is invalid: kind: Invalid value: '
                                                '"Gadget": must be Widget')
