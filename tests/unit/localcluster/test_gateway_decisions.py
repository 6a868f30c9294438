"""The local Gateway implementation's pure decisions (e2e/localcluster/gateway): hostnames, route matching and
precedence, weighted selection, attachment, backend resolution and statuses."""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from e2e.localcluster import gateway as gw
from e2e.localcluster.gateway import (
    SmoothWeighted,
    attach_route,
    compile_port,
    compute_gateway_status,
    compute_route_status,
    data_plane_service_name,
    host_matches,
    intersect,
    resolve_backend,
    route_backends,
    select,
)

NOW, LATER = "2026-01-01T00:00:00Z", "2026-01-01T00:05:00Z"
SERVICES = {("default", n): {"spec": {"clusterIP": ip, "ports": [{"port": 8000}]}}
            for n, ip in (("a", "10.96.0.10"), ("b", "10.96.0.11"))}


def gateway(*listeners: dict[str, Any], generation: int = 1) -> dict[str, Any]:
    return {"metadata": {"namespace": "default", "name": "gw", "generation": generation},
            "spec": {"gatewayClassName": "localcluster",
                     "listeners": list(listeners) or [{"name": "http", "protocol": "HTTP", "port": 80}]}}


def route(name: str, rules: list[dict[str, Any]], *, hostnames: list[str] | None = None,
          parent: dict[str, Any] | None = None, created: str = NOW, namespace: str = "default") -> dict[str, Any]:
    spec: dict[str, Any] = {"parentRefs": [parent or {"name": "gw", "namespace": "default"}], "rules": rules}
    if hostnames:
        spec["hostnames"] = hostnames
    return {"metadata": {"namespace": namespace, "name": name, "creationTimestamp": created, "generation": 1},
            "spec": spec}


def rule(path: str = "/", kind: str = "PathPrefix", backends: tuple[str, ...] = ("a",), **match: Any) -> dict[str, Any]:
    return {"matches": [{"path": {"type": kind, "value": path}, **match}],
            "backendRefs": [{"name": b, "port": 8000} for b in backends]}


def pick(routes: list[dict[str, Any]], path: str = "/", host: str = "x", method: str = "GET",
         headers: dict[str, str] | None = None, g: dict[str, Any] | None = None) -> str | None:
    entries = compile_port(g or gateway(), 80, routes, SERVICES, {})
    entry = select(entries, host, method, path, headers or {}, {})
    return None if entry is None else entry.rule_id


class TestHostnames:
    def test_a_wildcard_matches_one_or_more_labels_but_not_the_bare_domain(self) -> None:
        assert host_matches("*.example.com", "a.example.com")
        assert host_matches("*.example.com", "a.b.EXAMPLE.com")
        assert not host_matches("*.example.com", "example.com")
        assert not host_matches("a.example.com", "b.example.com")

    def test_intersection_keeps_the_more_specific_hostname_and_none_when_disjoint(self) -> None:
        assert intersect(None, []) == ()
        assert intersect("*.example.com", ["a.example.com", "other.org"]) == ("a.example.com",)
        assert intersect("a.example.com", ["*.example.com"]) == ("a.example.com",)
        assert intersect("a.example.com", ["b.example.com"]) is None


class TestRouteMatching:
    def test_path_prefix_matches_whole_elements_only(self) -> None:
        routes = [route("r", [rule("/foo")])]
        assert pick(routes, "/foo") and pick(routes, "/foo/") and pick(routes, "/foo/bar")
        assert pick(routes, "/foobar") is None  # a 404

    def test_exact_beats_the_longest_prefix_which_beats_a_shorter_one(self) -> None:
        routes = [route("r", [rule("/"), rule("/api"), rule("/api/v1", kind="Exact")])]
        assert pick(routes, "/api/v1") == "default/r#2"
        assert pick(routes, "/api/v2") == "default/r#1"
        assert pick(routes, "/x") == "default/r#0"

    def test_method_and_header_matches_rank_above_plain_ones_and_names_are_case_insensitive(self) -> None:
        routes = [route("r", [rule("/"), rule("/", method="POST"),
                              rule("/", headers=[{"name": "X-Canary", "value": "1"}])])]
        assert pick(routes, method="POST") == "default/r#1"
        assert pick(routes, headers={"x-canary": "1"}) == "default/r#2"
        assert pick(routes) == "default/r#0"

    def test_ties_go_to_the_oldest_route_then_by_name(self) -> None:
        older = route("z", [rule()], created="2025-01-01T00:00:00Z")
        assert pick([route("a", [rule()]), older]) == "default/z#0"
        assert pick([route("b", [rule()]), route("a", [rule()])]) == "default/a#0"

    def test_the_most_specific_hostname_wins_and_a_foreign_host_gets_no_route(self) -> None:
        routes = [route("wild", [rule("/", kind="Exact")], hostnames=["*.example.com"]),
                  route("exact", [rule()], hostnames=["a.example.com"])]
        assert pick(routes, host="a.example.com:80") == "default/exact#0"
        assert pick(routes, host="b.example.com") == "default/wild#0"
        assert pick(routes, host="other.org") is None

    def test_a_route_for_another_listener_port_or_gateway_is_not_in_the_table(self) -> None:
        g = gateway({"name": "http", "protocol": "HTTP", "port": 80}, {"name": "alt", "protocol": "HTTP", "port": 81})
        assert pick([route("r", [rule()], parent={"name": "gw", "sectionName": "alt"})], g=g) is None
        assert pick([route("r", [rule()], parent={"name": "other"})]) is None


class TestSmoothWeighted:
    @pytest.mark.parametrize("weights", [(75, 25), (1, 1), (3, 0, 2), (10, 90), (1, 2, 3, 4)])
    def test_every_window_of_the_total_weight_holds_each_backend_exactly_its_weight(
            self, weights: tuple[int, ...]) -> None:
        wrr = SmoothWeighted()
        backends = [(f"b{i}", w) for i, w in enumerate(weights)]
        picks = [wrr.pick("r", backends) for _ in range(3 * sum(weights))]
        for start in range(0, 2 * sum(weights)):
            window = Counter(picks[start:start + sum(weights)])
            assert window == Counter({f"b{i}": w for i, w in enumerate(weights) if w})

    def test_weight_zero_is_never_picked_and_all_zero_picks_nothing(self) -> None:
        wrr = SmoothWeighted()
        assert {wrr.pick("r", [("a", 0), ("b", 5)]) for _ in range(20)} == {"b"}
        assert wrr.pick("r", [("a", 0), ("b", 0)]) is None
        assert wrr.pick("r", []) is None

    def test_a_weight_change_applies_from_the_next_pick(self) -> None:
        wrr = SmoothWeighted()
        for _ in range(7):
            wrr.pick("r", [("a", 75), ("b", 25)])
        assert [wrr.pick("r", [("a", 0), ("b", 100)]) for _ in range(5)] == ["b"] * 5

    def test_rules_have_independent_sequences(self) -> None:
        wrr = SmoothWeighted()
        assert wrr.pick("r1", [("a", 1), ("b", 1)]) == "a"
        assert wrr.pick("r2", [("a", 1), ("b", 1)]) == "a"


class TestAttachmentAndBackends:
    def test_a_ref_to_a_missing_section_is_no_matching_parent_and_a_tcp_listener_does_not_allow_it(self) -> None:
        g = gateway({"name": "http", "protocol": "HTTP", "port": 80}, {"name": "tcp", "protocol": "TCP", "port": 9})
        gws = {("default", "gw"): g}
        (missing,) = attach_route(route("r", [], parent={"name": "gw", "sectionName": "nope"}), gws, {})
        (tcp,) = attach_route(route("r", [], parent={"name": "gw", "sectionName": "tcp"}), gws, {})
        assert (missing.reason, tcp.reason) == ("NoMatchingParent", "NotAllowedByListeners")

    def test_a_route_from_another_namespace_needs_a_listener_that_allows_it(self) -> None:
        foreign = route("r", [], namespace="team", parent={"name": "gw", "namespace": "default"})
        (same,) = attach_route(foreign, {("default", "gw"): gateway()}, {})
        allow_all = gateway({"name": "http", "protocol": "HTTP", "port": 80,
                             "allowedRoutes": {"namespaces": {"from": "All"}}})
        (everyone,) = attach_route(foreign, {("default", "gw"): allow_all}, {})
        assert (same.reason, everyone.reason) == ("NotAllowedByListeners", "Accepted")

    def test_backend_refs_resolve_to_cluster_ips_or_say_why_not(self) -> None:
        assert resolve_backend("default", {"name": "a", "port": 8000}, SERVICES).address == ("10.96.0.10", 8000)
        assert resolve_backend("default", {"name": "zz", "port": 8000}, SERVICES).reason == "BackendNotFound"
        assert resolve_backend("default", {"name": "a", "port": 1}, SERVICES).reason == "BackendNotFound"
        cross = {"name": "a", "port": 8000, "namespace": "other"}
        assert resolve_backend("default", cross, SERVICES).reason == "RefNotPermitted"
        assert resolve_backend("default", {"name": "a", "kind": "Pod"}, SERVICES).reason == "InvalidKind"
        assert resolve_backend("default", {"name": "a", "port": 8000}, SERVICES).weight == 1


class TestStatus:
    def test_a_gateway_status_computed_twice_is_equal_and_keeps_transition_times(self) -> None:
        g = gateway()
        first = compute_gateway_status(g, "10.96.0.5", {"http": 2}, NOW)
        again = compute_gateway_status({**g, "status": first}, "10.96.0.5", {"http": 2}, LATER)
        assert again == first
        assert first["addresses"] == [{"type": "IPAddress", "value": "10.96.0.5"}]
        assert first["listeners"][0]["attachedRoutes"] == 2
        assert {c["type"]: c["status"] for c in first["conditions"]} == {"Accepted": "True", "Programmed": "True"}

    def test_a_gateway_without_an_address_is_accepted_but_not_programmed(self) -> None:
        status = compute_gateway_status(gateway(), None, {}, NOW)
        assert "addresses" not in status
        assert [(c["type"], c["status"], c["reason"]) for c in status["conditions"]] == [
            ("Accepted", "True", "Accepted"), ("Programmed", "False", "AddressNotAssigned")]

    def test_conflicting_listeners_are_not_accepted(self) -> None:
        g = gateway({"name": "one", "protocol": "HTTP", "port": 80}, {"name": "two", "protocol": "HTTP", "port": 80})
        status = compute_gateway_status(g, "10.96.0.5", {}, NOW)
        conds = {c["type"]: (c["status"], c["reason"]) for c in status["listeners"][0]["conditions"]}
        assert conds["Conflicted"] == ("True", "HostnameConflict")
        assert conds["Accepted"][0] == "False"
        assert status["conditions"][0]["reason"] == "ListenersNotValid"

    def test_a_route_keeps_other_controllers_parents_and_names_an_unresolved_backend(self) -> None:
        r = route("r", [rule(backends=("a", "missing"))])
        other = {"parentRef": {"name": "elsewhere"}, "controllerName": "example.com/other", "conditions": []}
        r["status"] = {"parents": [other]}
        results = attach_route(r, {("default", "gw"): gateway()}, {})
        backends = route_backends(r, lambda ns, ref: resolve_backend(ns, ref, SERVICES))
        status = compute_route_status(r, results, backends, lambda _: gw.LOCAL_CONTROLLER, gw.SERVED_CONTROLLERS, NOW)
        assert status["parents"][0] == other
        mine = status["parents"][1]
        assert mine["controllerName"] == "localcluster.rayservice.io/gateway-controller"
        assert [(c["type"], c["status"], c["reason"]) for c in mine["conditions"]] == [
            ("Accepted", "True", "Accepted"), ("ResolvedRefs", "False", "BackendNotFound")]


def test_data_plane_service_names_are_dns_labels_of_at_most_63_characters() -> None:
    assert data_plane_service_name("gw") == "gw-localgw"
    for name in ("a" * 253, "my.gateway", "1gw"):
        out = data_plane_service_name(name)
        assert len(out) <= 63 and out[0].isalpha() and all(c.isalnum() or c == "-" for c in out), out


def test_the_served_controller_names_are_the_local_one_and_the_istio_stand_in() -> None:
    assert gw.SERVED_CONTROLLERS == ("localcluster.rayservice.io/gateway-controller", "istio.io/gateway-controller")
    assert gw.LOCAL_CLASS == "localcluster"


def test_the_gateway_package_is_pure_and_exports_a_sorted_complete_surface() -> None:
    root = Path(gw.__file__).parent
    for path in root.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            assert not isinstance(node, ast.AsyncFunctionDef), path
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                for name in names:
                    assert name.split(".")[0] not in {"asyncio", "aiohttp"}, (path, name)
                    assert not name.startswith(("e2e.localcluster.apiserver", "e2e.localcluster.node")), (path, name)
    assert gw.__all__ == sorted(gw.__all__, key=lambda n: (not n.isupper(), n[0].islower(), n))
    assert len({n for n in gw.__all__}) == len(gw.__all__)
    assert len(gw.vendored_crds()) == 3
