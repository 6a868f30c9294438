"""Test doubles for the controller runtime: an in-memory Lease API."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from rayservice.kube import AlreadyExists, Conflict, NotFound, Resource, ServerError


class FakeLeaseApi:
    """One Lease with resourceVersion checks, switchable failures, and a log of writes."""

    def __init__(self) -> None:
        self.lease: dict[str, Any] | None = None
        self.version = 0
        self.writes: list[tuple[str, dict[str, Any]]] = []
        self.failing = False
        self.hanging = False

    async def get(self, resource: Resource, name: str, *, namespace: str | None = None) -> dict[str, Any]:
        await self._maybe_fail()
        if self.lease is None:
            raise NotFound(404, "NotFound", f'leases "{name}" not found')
        return _copy(self.lease)

    async def create(
        self, resource: Resource, body: Mapping[str, Any], *, namespace: str | None = None
    ) -> dict[str, Any]:
        await self._maybe_fail()
        if self.lease is not None:
            raise AlreadyExists(409, "AlreadyExists", "already exists")
        return self._store("create", body)

    async def replace(
        self, resource: Resource, name: str, body: Mapping[str, Any], *, namespace: str | None = None
    ) -> dict[str, Any]:
        await self._maybe_fail()
        assert self.lease is not None
        if body["metadata"].get("resourceVersion") != self.lease["metadata"]["resourceVersion"]:
            raise Conflict(409, "Conflict", "the object has been modified")
        return self._store("update", body)

    @property
    def spec(self) -> dict[str, Any]:
        assert self.lease is not None
        return dict(self.lease["spec"])

    def _store(self, verb: str, body: Mapping[str, Any]) -> dict[str, Any]:
        self.version += 1
        stored = _copy(body)
        stored["metadata"]["resourceVersion"] = str(self.version)
        self.lease = stored
        self.writes.append((verb, _copy(stored)))
        return _copy(stored)

    async def _maybe_fail(self) -> None:
        if self.hanging:
            await asyncio.Event().wait()
        if self.failing:
            raise ServerError(500, "InternalError", "injected")


def _copy(obj: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _copy(v) if isinstance(v, Mapping) else v for k, v in obj.items()}
