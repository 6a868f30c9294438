"""The Redis cleanup Job's command, exactly as the operator builds it, run against a real ``redis-server`` with a
password: every key of the cluster's storage namespace is gone, another cluster's namespace is untouched.

The keys are laid out as Ray 2.60's GCS stores its tables (``RAY<namespace>@<table>`` hashes); the command runs
Ray's own ``cleanup_redis_storage`` from the installed Ray, so the test also pins that layout and that function.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from rayservice.controller.raycluster.redis_cleanup import desired_cleanup_job
from tests.unit.controller.raycluster.test_gcs_ft import sample_external_redis

PASSWORD = "s3cret-pw"
DEADLINE_S = 60.0

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def redis(tmp_path: Path) -> AsyncIterator[int]:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--requirepass", PASSWORD,
        "--save", "", "--appendonly", "no", "--dir", str(tmp_path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert process.stdout is not None
    try:
        async with asyncio.timeout(DEADLINE_S):
            while b"Ready to accept connections" not in await process.stdout.readline():
                assert process.returncode is None, "redis-server exited"
        drain = asyncio.create_task(process.stdout.read())
        yield port
    finally:
        if process.returncode is None:
            process.terminate()
        async with asyncio.timeout(DEADLINE_S):
            await process.wait()
    await drain


async def redis_cli(port: int, *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        "redis-cli", "-p", str(port), "-a", PASSWORD, "--no-auth-warning", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    async with asyncio.timeout(DEADLINE_S):
        out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode()


def job_process_env(container: dict[str, Any], secrets: dict[str, str]) -> dict[str, str]:
    """The cleanup container's env as the kubelet would give it: values, and secretKeyRefs from ``secrets``."""
    env = {"PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}", "HOME": os.environ.get("HOME", "/")}
    for item in container["env"]:
        if "value" in item:
            env[item["name"]] = item["value"]
        elif "secretKeyRef" in (item.get("valueFrom") or {}):
            env[item["name"]] = secrets[item["valueFrom"]["secretKeyRef"]["key"]]
    return env


async def test_the_cleanup_job_leaves_nothing_under_the_clusters_storage_namespace(redis: int) -> None:
    cluster = sample_external_redis()
    cluster["spec"]["gcsFaultToleranceOptions"]["redisAddress"] = f"127.0.0.1:{redis}"
    cluster["spec"]["gcsFaultToleranceOptions"]["externalStorageNamespace"] = "ns-mine"
    for table in ("KV", "NODE", "ACTOR"):
        await redis_cli(redis, "HSET", f"RAYns-mine@{table}", "key", "value")
    await redis_cli(redis, "HSET", "RAYns-other@KV", "key", "value")

    container = desired_cleanup_job(cluster)["spec"]["template"]["spec"]["containers"][0]
    process = await asyncio.create_subprocess_exec(
        *container["command"], *container["args"],
        env=job_process_env(container, {"password": PASSWORD}),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    async with asyncio.timeout(DEADLINE_S):
        output, _ = await process.communicate()
    assert process.returncode == 0, output.decode()

    assert (await redis_cli(redis, "KEYS", "RAYns-mine*")).split() == []
    assert (await redis_cli(redis, "KEYS", "*")).split() == ["RAYns-other@KV"]
    assert PASSWORD not in output.decode()


async def test_a_wrong_password_fails_the_job(redis: int) -> None:
    cluster = sample_external_redis()
    cluster["spec"]["gcsFaultToleranceOptions"]["redisAddress"] = f"127.0.0.1:{redis}"
    await redis_cli(redis, "HSET", f"RAY{cluster['metadata']['uid']}@KV", "key", "value")
    container = desired_cleanup_job(cluster)["spec"]["template"]["spec"]["containers"][0]
    env = job_process_env(container, {"password": "wrong"})
    env["RAY_redis_db_connect_retries"] = "1"  # fail fast; the Job's 120 retries are for a Redis still starting
    process = await asyncio.create_subprocess_exec(
        *container["command"], *container["args"], env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    async with asyncio.timeout(DEADLINE_S):
        await process.communicate()
    assert process.returncode != 0
    assert (await redis_cli(redis, "KEYS", "*")).split() == [f"RAY{cluster['metadata']['uid']}@KV"]
