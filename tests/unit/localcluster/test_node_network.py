"""Pure parts of the node's network, DNS and proxy: names, commands, CIDR guard, hosts files, backends."""

from __future__ import annotations

import pytest

from e2e.localcluster.node.dns import hosts_file, service_entries, slices_by_service
from e2e.localcluster.node.guards import overlap_problem
from e2e.localcluster.node.netns import node_subnet, pod_names, pod_network_cmds, safety_route_cmds
from e2e.localcluster.node.proxy import desired_listeners, networks_for, ready_backends

ROUTES = "default via 192.0.2.1 dev eth0\n192.0.2.0/24 dev eth0 proto kernel scope link src 192.0.2.2\n"
ADDRS = "1: lo    inet 127.0.0.1/8 scope host lo\n2: eth0    inet 192.0.2.2/24 brd 192.0.2.255 scope global eth0\n"


def test_pod_names_fit_linux_interface_names_and_carry_the_prefix() -> None:
    names = pod_names("lcn", "a-very-long-namespace-name", "a-very-long-pod-name" * 5, "0f1e2d3c-uid")
    assert len(names.host_veth) <= 15 and len(names.peer_veth) <= 15
    assert names.netns.startswith("lcn-") and names.host_veth.startswith("lcn")
    assert pod_names("lcn", "ns", "p", "uid-a") != pod_names("lcn", "ns", "p", "uid-b")  # a recreated pod


def test_the_node_takes_the_first_slash_24_of_the_pod_cidr() -> None:
    assert str(node_subnet("10.244.0.0/16")) == "10.244.0.0/24"
    assert str(node_subnet("10.1.2.0/26")) == "10.1.2.0/26"


def test_safety_routes_are_unreachable_routes_for_each_cidr() -> None:
    assert safety_route_cmds(["10.244.0.0/16"]) == [["ip", "route", "add", "unreachable", "10.244.0.0/16"]]


def test_a_pod_namespace_gets_a_veth_an_address_and_a_default_route_via_the_gateway() -> None:
    cmds = pod_network_cmds(pod_names("lcn", "ns", "p", "u"), "lcnbr0", "10.244.0.7", 24, "10.244.0.1")
    flat = [" ".join(c) for c in cmds]
    assert flat[0].startswith("ip netns add lcn-ns-p-")
    assert any("addr add 10.244.0.7/24 dev eth0" in c for c in flat)
    assert any(c.endswith("route add default via 10.244.0.1") for c in flat)


@pytest.mark.parametrize(("cidr", "problem"), [
    ("10.244.0.0/16", None),
    ("10.255.0.0/16", "DNS server 10.255.255.53"),
    ("192.0.2.0/25", "route 192.0.2.0/24"),
    ("127.0.0.0/8", "address 127.0.0.1/8"),
])
def test_cidrs_that_would_hide_part_of_the_machine_are_refused(cidr: str, problem: str | None) -> None:
    found = overlap_problem([cidr], ROUTES, ADDRS, "nameserver 10.255.255.53\n")
    assert (found is None) if problem is None else (found is not None and problem in found)


SERVICES = {("ns", "web"): {"spec": {"clusterIP": "10.96.0.10"}},
            ("other", "db"): {"spec": {"clusterIP": "10.96.0.11"}},
            ("ns", "head"): {"spec": {"clusterIP": "None"}}}
SLICES = [{"metadata": {"namespace": "ns", "name": "head-x", "labels": {"kubernetes.io/service-name": "head"}},
           "endpoints": [{"addresses": ["10.244.0.5"], "conditions": {"ready": True}, "hostname": "h0"},
                         {"addresses": ["10.244.0.6"], "conditions": {"ready": False}}]}]


def test_service_names_give_full_names_everywhere_and_short_names_in_the_same_namespace() -> None:
    entries = dict((ip, names) for ip, names in service_entries(SERVICES, slices_by_service(SLICES), "ns"))
    assert entries["10.96.0.10"] == ["web.ns.svc.cluster.local", "web.ns.svc", "web.ns", "web"]
    assert entries["10.96.0.11"] == ["db.other.svc.cluster.local", "db.other.svc", "db.other"]
    assert entries["10.244.0.5"][0] == "h0.head.ns.svc.cluster.local"  # headless: ready endpoints only
    assert "10.244.0.6" not in entries


def test_a_hosts_file_starts_with_localhost_and_the_pods_own_name() -> None:
    text = hosts_file("10.244.0.5", "p", [("10.96.0.10", ["web.ns.svc.cluster.local"])])
    lines = text.splitlines()
    assert "127.0.0.1\tlocalhost" in lines and "10.244.0.5\tp" in lines
    assert lines[-1] == "10.96.0.10\tweb.ns.svc.cluster.local"


def test_the_proxy_listens_on_cluster_ip_tcp_ports_only() -> None:
    services = [{"metadata": {"namespace": "ns", "name": "web"}, "spec": {"clusterIP": "10.96.0.10", "ports": [
        {"name": "http", "port": 80}, {"name": "dns", "port": 53, "protocol": "UDP"}]}},
        {"metadata": {"namespace": "ns", "name": "headless"}, "spec": {"clusterIP": "None", "ports": [{"port": 1}]}}]
    assert desired_listeners(services) == {("10.96.0.10", 80): ("ns", "web", "http")}


def test_the_proxy_backends_are_ready_endpoints_with_the_named_port_inside_allowed_networks() -> None:
    import ipaddress

    slices = [{"ports": [{"name": "http", "port": 8080}, {"name": "metrics", "port": 9090}], "endpoints": [
        {"addresses": ["10.244.0.5"], "conditions": {"ready": True}},
        {"addresses": ["10.244.0.6"], "conditions": {"ready": False}},
        {"addresses": ["10.244.0.7"], "conditions": {}},  # ready unset counts as ready
        {"addresses": ["192.0.2.9"], "conditions": {"ready": True}}]}]  # outside: never dialled
    allowed = [ipaddress.IPv4Network("10.244.0.0/16")]
    assert ready_backends(slices, "http", allowed) == [("10.244.0.5", 8080), ("10.244.0.7", 8080)]


def test_the_api_servers_service_may_lead_outside_the_allowed_networks_and_no_other_may() -> None:
    import ipaddress

    slices = [{"ports": [{"name": "https", "port": 6443}],
               "endpoints": [{"addresses": ["192.0.2.10"], "conditions": {"ready": True}}]}]
    allowed = [ipaddress.IPv4Network("10.244.0.0/16")]
    kubernetes = networks_for(("default", "kubernetes", "https"), allowed)
    assert ready_backends(slices, "https", kubernetes) == [("192.0.2.10", 6443)]
    for ref in (("team", "kubernetes", "https"), ("default", "kubernetes-dashboard", "https")):
        assert ready_backends(slices, "https", networks_for(ref, allowed)) == []
