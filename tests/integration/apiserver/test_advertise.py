"""The API server's advertised address: the `kubernetes` Service pods use points there, with the real port."""

from __future__ import annotations

import asyncio

import pytest

from e2e.localcluster.apiserver import LocalApiServer


async def test_an_advertised_server_keeps_the_kubernetes_service_at_its_address_and_port() -> None:
    server = LocalApiServer(port=0, service_cidr="10.98.0.0/16", advertise_address="10.254.7.1")
    sub = server.store.subscribe(None)
    await server.start()
    try:
        async with asyncio.timeout(5):
            while server.store.get(("discovery.k8s.io", "endpointslices"), "default", "kubernetes") is None:
                assert await sub.queue.get() is not None
        svc = server.store.get(("", "services"), "default", "kubernetes")
        eslice = server.store.get(("discovery.k8s.io", "endpointslices"), "default", "kubernetes")
        assert svc is not None and eslice is not None
        assert svc["spec"]["clusterIP"] == "10.98.0.1"
        assert svc["spec"]["ports"] == [{"name": "https", "port": 443, "protocol": "TCP",
                                         "targetPort": server.port}]
        assert eslice["endpoints"][0]["addresses"] == ["10.254.7.1"]
        assert eslice["ports"][0]["port"] == server.port
    finally:
        server.store.unsubscribe(sub)
        await server.stop()


async def test_a_server_without_an_advertised_address_has_no_kubernetes_service() -> None:
    async with LocalApiServer(port=0) as server:
        assert server.store.get(("", "services"), "default", "kubernetes") is None


def test_a_loopback_advertise_address_is_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="loopback"):
        LocalApiServer(advertise_address="127.0.0.1")
