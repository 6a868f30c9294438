"""kubectl 1.37 from the venv, run as a subprocess against a test's kubeconfig: the one runner tests share."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any


class Kubectl:
    """Runs ``kubectl --kubeconfig K [--cache-dir C] ARGS``; with ``ok`` (default) a non-zero exit fails the test."""

    def __init__(self, binary: str, kubeconfig: Path, cache_dir: Path | None = None) -> None:
        self.prefix = [binary, "--kubeconfig", str(kubeconfig)]
        if cache_dir is not None:
            self.prefix += ["--cache-dir", str(cache_dir)]

    async def run(self, *args: str, stdin: str | None = None, ok: bool = True) -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(
            *self.prefix,
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(stdin.encode() if stdin else None), timeout=60)
        code = proc.returncode or 0
        if ok:
            assert code == 0, f"kubectl {' '.join(args)} failed ({code}): {err.decode()}"
        return code, out.decode(), err.decode()

    async def get_json(self, *args: str) -> dict[str, Any]:
        _, out, _ = await self.run("get", *args, "-o", "json")
        obj: dict[str, Any] = json.loads(out)
        return obj
