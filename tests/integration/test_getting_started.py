"""docs/getting-started.md, walked for real: every `shell` block's commands, in order, against local processes.

Long-running commands (`make demo-sim`, `make run`, the API server, the fake Ray dashboard, `rayservice run`) start
in the background with the doc's arguments, except that fixed ports become free ephemeral ones and the
kubeconfig lives in tmp_path. Every other command runs through bash with the venv first on PATH; where the doc
shows output in `#` lines after a command, the output must contain it (stable tokens only: ages, random name
suffixes, IPs, timestamps and lease holders are normalised). Read-only commands are retried until their
expected output appears or a deadline passes, so the steps that wait for the operator poll instead of sleeping.
The only commands not run are the ones that need Docker or real Ray; they are listed and printed.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from e2e.localcluster.node import load_kubeconfig, ssl_context

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "getting-started.md"
BIN = Path(sys.executable).parent
SAMPLE = "manifests/samples/ray.io_v1_rayservice.yaml"
DOC_KUBECONFIG = "/tmp/localcluster.kubeconfig"
POLL_S = 45.0

# Commands that cannot run on this machine, and why. Every reason names Docker or real Ray.
NEEDS_DOCKER = "needs Docker (builds the operator image)"
NEEDS_RAY = "needs real Ray in the pods (a node agent that runs containers, a service proxy, port-forward)"
NOT_RUNNABLE: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^make image\b"), NEEDS_DOCKER),
    (re.compile(r"^kubectl run curl\b"), NEEDS_RAY),
    (re.compile(r"^\[ root@curl:/ \]\$"), NEEDS_RAY),
    (re.compile(r"^kubectl port-forward service/rayservice-sample-serve-svc\b"), NEEDS_RAY),
    (re.compile(r"^curl .*localhost:8000\b"), NEEDS_RAY),
]
# Commands that run, but whose documented output only a real cluster produces.
OUTPUT_NEEDS_DOCKER = re.compile(r"^kubectl get pods -n ray-system$")


@dataclass
class Step:
    command: str
    expected: list[str] = field(default_factory=list)
    inline_comment: str = ""


@dataclass
class Block:
    lang: str
    heading: str
    lines: list[str]


def _blocks() -> list[Block]:
    blocks: list[Block] = []
    heading, lang, body = "", None, []  # type: str, str | None, list[str]
    for line in DOC.read_text().splitlines():
        if lang is None and line.startswith("#"):
            heading = line.lstrip("# ").strip()
        elif line.startswith("```"):
            if lang is None:
                lang, body = line[3:].strip(), []
            else:
                blocks.append(Block(lang, heading, body))
                lang = None
        elif lang is not None:
            body.append(line)
    return blocks


def _split_comment(line: str) -> tuple[str, str]:
    """`cmd   # comment` -> (cmd, comment), ignoring `#` inside quotes."""
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and i > 0 and line[i - 1].isspace():
            return line[:i].rstrip(), line[i + 1:].strip()
    return line.rstrip(), ""


def _steps(block: Block) -> list[Step]:
    steps: list[Step] = []
    pending = ""
    for raw in block.lines:
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            if steps and not pending:
                steps[-1].expected.append(line[1:].strip())
            continue
        if re.fullmatch(r"\d+", line) and steps:  # uncommented output of a real-cluster request
            steps[-1].expected.append(line)
            continue
        line = pending + line
        if line.endswith("\\"):
            pending = line[:-1].rstrip() + " "
            continue
        pending = ""
        command, comment = _split_comment(line)
        steps.append(Step(command, inline_comment=comment))
    return steps


_AGE = re.compile(r"^(\d+[smhd])+$|^<invalid>$")
_HOLDER = re.compile(r"^\S+_\d+$")


def _normalise(text: str) -> str:
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "TS", text)
    text = re.sub(r"\b\d+\.\d+\.\d+\.\d+\b", "IP", text)
    text = re.sub(r"(?<=-)[a-z0-9]{5}\b", "X", text)  # generated name suffixes
    return text


def _tokens(line: str) -> list[str]:
    out = []
    for tok in _normalise(line).split():
        out.append("AGE" if _AGE.match(tok) else "HOLDER" if _HOLDER.match(tok) else tok)
    return out


def _is_subsequence(needle: list[str], hay: list[str]) -> bool:
    it = iter(hay)
    return all(tok in it for tok in needle)


def _missing(expected: list[str], output: str) -> list[str]:
    """The expected lines that the output does not show (stable tokens compared).

    A line with `...` elides text: its tokens (brackets and padding ignored) must appear in order in one line.
    """
    rows = [_tokens(line) for line in output.splitlines()]
    loose = [[t.strip("[]{},") for t in row if t.strip("[]{},")] for row in rows]
    missing = []
    for line in expected:
        if line in ("", "..."):
            continue
        if "..." in line:
            needle = [t.strip("[]{},") for f in line.split("...") for t in _tokens(f.strip(" ,{}")) if t.strip("[]{},")]
            if not any(_is_subsequence(needle, row) for row in loose):
                missing.append(line)
        elif _tokens(line) not in rows:
            missing.append(line)
    return missing


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Journey:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.api_port, self.ray_port, self.metrics_port = _free_port(), _free_port(), _free_port()
        self.kubeconfig = tmp / "localcluster.kubeconfig"
        self.sample = tmp / "ray.io_v1_rayservice.yaml"
        shutil.copy(ROOT / SAMPLE, self.sample)
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp), "TMPDIR": str(tmp),
                    "PYTHONUNBUFFERED": "1"}  # the background processes' output reaches their logs at once
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.started: list[int] = []  # process-group ids (each background process leads its own session)
        self.not_run: list[tuple[str, str]] = []
        self.unchecked: list[tuple[str, str]] = []
        self.ran: list[str] = []

    # -- substitutions ---------------------------------------------------------------------------------------

    def local(self, command: str) -> str:
        command = command.replace(DOC_KUBECONFIG, str(self.kubeconfig)).replace(SAMPLE, str(self.sample))
        command = re.sub(r"(?<=[ :=])6443\b", str(self.api_port), command)
        command = re.sub(r"(?<=[ :=])8265\b", str(self.ray_port), command)
        return re.sub(r"(?<=[ :=])8080\b", str(self.metrics_port), command)

    # -- processes -------------------------------------------------------------------------------------------

    def start(self, name: str, command: str) -> Path:
        log = self.tmp / f"{name}.log"
        with log.open("wb") as out:
            self.procs[name] = subprocess.Popen(
                ["bash", "-c", "exec " + command], cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)
        self.started.append(self.procs[name].pid)
        return log

    def stop(self, name: str) -> int:
        proc = self.procs.pop(name)
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # Ctrl-C, as the doc says
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        try:  # nothing it started may outlive it
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return proc.returncode

    def stop_all(self) -> None:
        for name in reversed(list(self.procs)):
            self.stop(name)

    def wait_for(self, what: str, check: Callable[[], bool], timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if check():
                    return
            except OSError:
                pass
            for name, proc in self.procs.items():
                assert proc.poll() is None, f"{name} exited: {(self.tmp / f'{name}.log').read_text()[-3000:]}"
            time.sleep(0.2)
        pytest.fail(f"{what} did not come up within {timeout_s:.0f} s")

    def api_healthy(self) -> bool:
        """/healthz over the server's TLS, verified with the CA of the kubeconfig it wrote."""
        config = load_kubeconfig(self.kubeconfig)
        context = ssl_context(config)
        url = f"{config.server}/healthz"
        with urllib.request.urlopen(url, timeout=1,
                                    context=context if isinstance(context, ssl.SSLContext) else None) as resp:
            return bool(resp.status == 200)

    def wait_log(self, name: str, expected: list[str], timeout_s: float = 30) -> None:
        log = self.tmp / f"{name}.log"
        expected = [self.local(line) for line in expected]
        self.wait_for(f"{expected} in the {name} log", lambda: not _missing(expected, log.read_text()),
                      timeout_s)

    # -- commands --------------------------------------------------------------------------------------------

    def run(self, command: str, timeout_s: float = 60) -> tuple[int, str]:
        proc = subprocess.Popen(["bash", "-c", command], cwd=ROOT, env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            out, _ = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)
            out, _ = proc.communicate(timeout=10)
            return -1, out
        return proc.returncode, out

    def check(self, step: Step, command: str, *, env_note: str = "") -> None:
        read_only = re.match(r"^(kubectl (get|describe)|curl -s)\b", command) is not None
        expected = step.expected
        if OUTPUT_NEEDS_DOCKER.match(step.command) and expected:
            self.unchecked.append((step.command, "output shows the operator pod Running: " + NEEDS_DOCKER))
            expected = []
        deadline = time.monotonic() + POLL_S
        while True:
            rc, out = self.run(command)
            missing = _missing(expected, out) if rc == 0 else expected
            if not missing or not read_only or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert rc == 0, f"{step.command}{env_note} exited {rc}:\n{out}"
        assert not missing, f"{step.command}{env_note}: output lacks {missing}:\n{out}"
        self.ran.append(step.command)

    def watch(self, step: Step, command: str) -> None:
        rc, out = self.run(command, timeout_s=5)
        assert rc == -1, f"a watch ends only when stopped: {step.command} exited {rc}:\n{out}"
        assert [t for t in _tokens(out.splitlines()[-1])][:2] == ["rayservice-sample", "Running"], out
        self.ran.append(step.command)

    def export(self, command: str) -> None:
        name, _, value = command.removeprefix("export ").partition("=")
        value = shlex.split(value)[0].replace("$PWD", str(ROOT)).replace("$PATH", self.env["PATH"])
        if name == "PATH":  # `make install` made .venv; the venv under test is this interpreter's
            value = value.replace(str(ROOT / ".venv" / "bin"), str(BIN))
        self.env[name] = self.local(value)
        self.ran.append(command)

    def make_recipe(self, target: str) -> str:
        rc, out = self.run(f"make -n -o {BIN.parent}/.installed VENV={BIN.parent} {target}")
        assert rc == 0, out
        lines = [line for line in out.splitlines() if line.strip()]
        assert len(lines) == 1, f"make {target} runs one command: {lines}"
        return lines[0]

    def apply_yaml_edit(self, block: Block) -> None:
        """The doc's YAML snippets: the mango price, then the head's rayStartParams; made on the copy."""
        snippet = "\n".join(block.lines)
        text = self.sample.read_text()
        if "price: 4" in snippet:
            new = text.replace("price: 3", "price: 4", 1)
        else:
            params = yaml.safe_load(snippet)["headGroupSpec"]["rayStartParams"]
            lines = "".join(f'\n        {k}: "{v}"' for k, v in params.items())
            head = "      rayStartParams: {}\n      template:"
            new = text.replace(head, f"      rayStartParams:{lines}\n      template:")
        assert new != text, snippet
        self.sample.write_text(new)

    def alpha_namespace_env(self) -> dict[str, str]:
        """The alpha sample has the v1 sample's name: apply it in a namespace of its own (the doc: one or the other)."""
        config = yaml.safe_load(self.kubeconfig.read_text())
        for ctx in config["contexts"]:
            ctx["context"]["namespace"] = "alpha-form"
        path = self.tmp / "alpha.kubeconfig"
        path.write_text(yaml.safe_dump(config))
        # `kubectl create namespace` sends protobuf, which the embedded API server does not take
        rc, out = self.run("kubectl apply -f - <<< '{apiVersion: v1, kind: Namespace, metadata: {name: alpha-form}}'")
        assert rc == 0, out
        return {**self.env, "KUBECONFIG": str(path)}

    def step(self, block: Block, step: Step) -> None:
        cmd = step.command
        for pattern, reason in NOT_RUNNABLE:
            if pattern.search(cmd):
                self.not_run.append((cmd, reason))
                return
        if cmd == "make install":
            assert (BIN / "kubectl").exists() and (BIN / "rayservice").exists(), "the venv lacks kubectl/rayservice"
            self.ran.append(cmd + "  (satisfied by the venv)")
        elif cmd.startswith("export "):
            self.export(cmd)
        elif cmd == "make demo-sim":
            recipe = self.make_recipe("demo-sim")
            self.start("demo", f"{recipe} --port {self.api_port} --kubeconfig {self.kubeconfig}")
            self.wait_for("make demo-sim's API server", self.api_healthy)
            # the demo is up (and takes Ctrl-C) once it has printed what kubectl shows
            self.wait_log("demo", ["Ctrl-C stops everything."], timeout_s=60)
            self.ran.append(cmd)
        elif cmd == "make run":
            self.start("make-run", self.local(self.make_recipe("run")))
            self.wait_for("make run's API server", self.api_healthy)
            self.wait_log("make-run", step.expected)
            assert self.stop("make-run") in (0, -signal.SIGINT, 130)
            self.ran.append(cmd)
        elif cmd.startswith("python -m e2e.localcluster apiserver"):
            self.start("apiserver", self.local(cmd))
            self.wait_for("the API server", self.api_healthy)
            self.ran.append(cmd)
        elif cmd.startswith("python -m e2e.fakeray"):
            self.start("fakeray", self.local(cmd))
            self.wait_log("fakeray", step.expected)
            self.ran.append(cmd)
        elif cmd.startswith("rayservice run"):
            self.start("operator", self.local(cmd))
            self.wait_log("operator", step.expected)
            self.ran.append(cmd)
        elif cmd.endswith(" -w"):
            self.watch(step, self.local(cmd))
        elif "ray.io_v1alpha1_rayservice.yaml" in cmd:
            saved = self.env
            self.env = self.alpha_namespace_env()
            try:
                self.check(step, self.local(cmd), env_note=" (in namespace alpha-form)")
            finally:
                self.env = saved
            rc, out = self.run("kubectl delete rayservice rayservice-sample -n alpha-form --wait=false")
            assert rc == 0, out
        else:
            if cmd.startswith("kubectl delete -k"):  # the doc: first stop a locally running operator
                assert self.stop("operator") == 0, (self.tmp / "operator.log").read_text()[-3000:]
            self.check(step, self.local(cmd))


@pytest.mark.kubectl
@pytest.mark.timeout(150)
def test_every_command_of_the_getting_started_guide_works(tmp_path: Path) -> None:
    journey = Journey(tmp_path)
    have_curl = shutil.which("curl", path=journey.env["PATH"]) is not None
    started = time.monotonic()
    try:
        for block in _blocks():
            if block.lang == "yaml":
                journey.apply_yaml_edit(block)
                continue
            if block.lang != "shell":
                continue
            for step in _steps(block):
                if step.command.startswith("curl") and not have_curl and not any(
                        p.search(step.command) for p, _ in NOT_RUNNABLE):
                    journey.not_run.append((step.command, "curl is not installed on this machine"))
                    continue
                journey.step(block, step)
            if block.heading.startswith("The quickest way") and "demo" in journey.procs and any(
                    s.command.startswith("kubectl") for s in _steps(block)):
                assert journey.stop("demo") == 0, (tmp_path / "demo.log").read_text()[-3000:]
    finally:
        journey.stop_all()
    print(f"\ngetting-started.md: ran {len(journey.ran)} commands in {time.monotonic() - started:.0f} s")
    for cmd, reason in journey.not_run + journey.unchecked:
        print(f"  not run or not checked: {cmd}\n    reason: {reason}")
    assert journey.not_run, "the real-cluster-only commands were not found in the doc"
    assert {reason for _, reason in journey.not_run + journey.unchecked} <= {
        NEEDS_DOCKER, NEEDS_RAY, "output shows the operator pod Running: " + NEEDS_DOCKER}
    for pgid in journey.started:  # no process (nor any child of one) is left behind
        with pytest.raises(ProcessLookupError):
            os.killpg(pgid, 0)
