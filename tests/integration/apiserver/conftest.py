"""Fixtures for the API server rule tests: an official `kubernetes.aio` client and the widget CRD."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from kubernetes.aio import client, config

from e2e.localcluster.apiserver import LocalApiServer

WIDGET_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "additionalPrinterColumns": [
                    {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                ],
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {
                                    "size": {"type": "integer", "minimum": 1},
                                    "color": {"type": "string", "default": "blue"},
                                    "template": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                                },
                            },
                            "status": {"type": "object", "properties": {"phase": {"type": "string"}}},
                        },
                    }
                },
            }
        ],
    },
}


@pytest.fixture
async def kube(kubeconfig: Path) -> AsyncIterator[client.ApiClient]:
    api_client = await config.new_client_from_config(config_file=str(kubeconfig))
    try:
        yield api_client
    finally:
        await api_client.close()


@pytest.fixture
def core(kube: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(kube)


@pytest.fixture
def custom(kube: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(kube)


@pytest.fixture
async def widgets(kube: client.ApiClient, apiserver: LocalApiServer) -> client.CustomObjectsApi:
    ext = client.ApiextensionsV1Api(kube)
    await ext.create_custom_resource_definition_without_preload_content(body=copy.deepcopy(WIDGET_CRD))
    return client.CustomObjectsApi(kube)


def widget(name: str, size: int = 1, **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": name, **meta},
        "spec": {"size": size},
    }


async def eventually(server: LocalApiServer, check: Callable[[], Awaitable[bool]], timeout_s: float = 10.0) -> None:
    """Re-check a condition after every write the server makes, until it holds or the deadline passes."""
    sub = server.store.subscribe(None)
    try:
        async with asyncio.timeout(timeout_s):
            while not await check():
                await sub.queue.get()
    except TimeoutError:
        raise AssertionError("condition not reached in time") from None
    finally:
        server.store.unsubscribe(sub)
