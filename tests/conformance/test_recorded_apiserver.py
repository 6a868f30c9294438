"""Replays answers recorded from a real kube-apiserver v1.36 against the embedded API server.

Each recorded step is one test: the embedded server, started as its own process, must answer exactly as the
real one did after the recordings' normalisation (uids, resourceVersions and times are symbolic). Fields a
fake need not reproduce are listed in `kubeapi/allowlist.example.json`; deliberate deviations of this server,
each with its reason, in `kubeapi/deviations.json`.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent / "kubeapi"
sys.path.insert(0, str(HERE))

import engine  # noqa: E402
import record  # noqa: E402
import replay  # noqa: E402

RECORDINGS = sorted((HERE / "recordings").glob("S*.json"))
ALLOW = replay.load_allow(str(HERE / "allowlist.example.json")) + replay.load_allow(str(HERE / "deviations.json"))


def _steps() -> list[Any]:
    params = []
    for path in RECORDINGS:
        doc = json.loads(path.read_text())
        for i, step in enumerate(doc["steps"]):
            if step["request"].get("compare", True):
                params.append(pytest.param(path.name, i, id=f"{doc['scenario']}/{step['name']}"))
    return params


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[engine.Server]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    kc = tmp_path_factory.mktemp("conformance") / "kubeconfig"
    log_path = kc.with_name("apiserver.log")
    log = log_path.open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "e2e.localcluster", "apiserver", "--port", str(port),
                             "--kubeconfig", str(kc), "--plain-http"], stdout=subprocess.DEVNULL, stderr=log,
                            env={**os.environ, "PYTHONWARNINGS": "ignore"})
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read()
                if kc.exists():
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"embedded API server did not start: {log_path.read_text()}")
            time.sleep(0.05)
        yield engine.load_kubeconfig(str(kc))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


_cache: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}


def _replayed(server: engine.Server, name: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    if not _cache:
        # The recordings start with the widget CRD left over from an earlier run (S00 deletes it first);
        # one unrecorded run of S00 puts this server in the same state, so symbolic uids line up.
        doc = json.loads((HERE / "recordings" / "S00.json").read_text())
        record.execute(server, "S00", [s["request"] for s in doc["steps"]], False, log=lambda _s: None)
        _cache["warm-up"] = (doc, [])
    if "S00.json" not in _cache and name != "S00.json":
        _replayed(server, "S00.json")  # installs the CRD the other scenarios use
    if name not in _cache:
        doc = json.loads((HERE / "recordings" / name).read_text())
        steps = [s["request"] for s in doc["steps"]]
        norm, _raw = record.execute(server, doc["scenario"], steps, doc.get("namespaced", True),
                                    log=lambda _s: None)
        _cache[name] = (doc, norm)
    return _cache[name]


@pytest.mark.parametrize(("recording", "index"), _steps())
def test_step_answers_like_real_kube_apiserver(server: engine.Server, recording: str, index: int) -> None:
    doc, norm = _replayed(server, recording)
    rec = doc["steps"][index]
    lines = replay.compare_step(doc["scenario"], rec, norm[index], ALLOW)
    assert not lines, "\n" + "\n".join(lines)
