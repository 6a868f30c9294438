"""The user docs stay true: commands that exist, metrics and RBAC as the code has them, links that resolve."""

from __future__ import annotations

import argparse
import importlib.util
import re
import shlex
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from rayservice.cli import build_parser
from rayservice.metrics import OperatorMetrics
from tests.rbac_usage import DELEGATED_API_USES, uses_in

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
GUIDES = sorted(DOCS.glob("*.md"))
# Commands a reader types: the repository's own (make, the venv's kubectl and rayservice, python -m ...), plus
# shell built-ins and curl.
KNOWN_COMMANDS = {"make", "kubectl", "rayservice", "python", "export", "curl"}


def read(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def shell_commands(text: str) -> list[str]:
    """The commands of the ```shell blocks, continuation lines joined, comments and output left out."""
    commands: list[str] = []
    for block in re.findall(r"```shell\n(.*?)```", text, re.DOTALL):
        pending = ""
        for line in block.splitlines():
            line = re.sub(r"^\[ root@[^]]*\]\$ ", "", line)  # a shell prompt inside a pod
            if not pending and (not line.strip() or line.startswith("#")):
                continue
            if not pending and re.match(r"^[A-Za-z0-9_-]+\s{2,}|^\d|^ok$|^success$", line):
                continue  # output, e.g. a table row
            pending += line.rstrip("\\").strip() + " "
            if not line.endswith("\\"):
                commands.append(pending.split(" #")[0].strip())
                pending = ""
    return [command for command in commands if command]


# ---- getting started: only commands of this repository -------------------------------------------------------


def test_getting_started_uses_only_commands_that_exist_here() -> None:
    commands = shell_commands(read("getting-started.md"))
    assert len(commands) > 20
    unknown = [c for c in commands if shlex.split(c)[0] not in KNOWN_COMMANDS]
    assert unknown == []


def test_every_make_target_in_the_docs_exists() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z][a-z0-9-]*):", makefile, re.MULTILINE))
    for guide in GUIDES:
        text = guide.read_text(encoding="utf-8")
        for quoted, typed in re.findall(r"`make ([a-z][a-z0-9-]*)|^make ([a-z][a-z0-9-]*)", text, re.MULTILINE):
            assert (quoted or typed) in targets, f"{guide.name}: make {quoted or typed}"


def test_every_rayservice_run_flag_in_the_docs_exists() -> None:
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    run = commands.choices["run"]
    flags = {option for action in run._actions for option in action.option_strings}
    for guide in GUIDES:
        for command in shell_commands(guide.read_text(encoding="utf-8")):
            if command.startswith("rayservice run"):
                used = {word.split("=")[0] for word in shlex.split(command) if word.startswith("--")}
                assert used <= flags, f"{guide.name}: {sorted(used - flags)}"


def test_every_python_module_in_the_docs_exists() -> None:
    for guide in GUIDES:
        for module in re.findall(r"python -m ([\w.]+)", guide.read_text(encoding="utf-8")):
            assert importlib.util.find_spec(module) is not None, f"{guide.name}: python -m {module}"


def test_every_repository_path_in_the_docs_exists() -> None:
    for guide in GUIDES:
        text = guide.read_text(encoding="utf-8")
        for path in re.findall(r"(?<![/\w.])((?:manifests|docs|tests|e2e)/[\w./-]*\w|rayservice/[\w/]*\.py)", text):
            assert (ROOT / path).exists(), f"{guide.name}: {path}"


# ---- operations: metrics and RBAC as the code has them -------------------------------------------------------


def exposed_metric_names() -> set[str]:
    registry = CollectorRegistry()
    OperatorMetrics(registry)
    return {f"{family.name}_total" if family.type == "counter" else family.name for family in registry.collect()}


def test_operations_lists_every_metric_the_operator_exports() -> None:
    documented = set(re.findall(r"^\| `([a-z_]+)` \| (?:counter|gauge|histogram) \|", read("operations.md"), re.M))
    assert documented == exposed_metric_names(), "document new metrics in docs/operations.md"


def test_operations_rbac_table_is_the_cluster_role() -> None:
    section = read("operations.md").split("## RBAC", 1)[1].split("\n## ", 1)[0]
    granted: set[tuple[str, str, str]] = set()
    for row in re.findall(r"^\| (`[^|]+`|core) \| ([^|]+) \| ([^|]+) \|", section, re.MULTILINE):
        group = "" if row[0] == "core" else row[0].strip("`")
        for resource in re.findall(r"`([a-z/]+)`", row[1]):
            for verb in row[2].split(","):
                granted.add((verb.strip(), group, resource))
    assert granted == {(u.verb, u.group, u.rbac_resource) for u in (*uses_in("cluster"), *DELEGATED_API_USES)}


# ---- links ---------------------------------------------------------------------------------------------------


def anchors(text: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#{1,6} (.+)$", text, re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.name)
def test_links_between_the_docs_resolve(guide: Path) -> None:
    for target, anchor in re.findall(r"\]\(([\w-]+\.md)?(?:#([\w-]+))?\)", guide.read_text(encoding="utf-8")):
        linked = DOCS / target if target else guide
        assert linked.exists(), f"{guide.name} links to {target}"
        if anchor:
            assert anchor in anchors(linked.read_text(encoding="utf-8")), f"{guide.name} links to {target}#{anchor}"


# ---- operations: the Events table is what the controllers emit ---------------------------------------------------


def _emitted_reasons() -> set[str]:
    """Every ``reason`` passed to ``events.emit(obj, type, reason, message)`` under rayservice/controller, with
    names resolved through the module's own string assignments (constants, and ``a if ... else b``)."""
    import ast

    def strings(node: ast.expr | None) -> set[str]:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return {node.value}
        if isinstance(node, ast.IfExp):
            return strings(node.body) | strings(node.orelse)
        return set()

    reasons: set[str] = set()
    for path in sorted((ROOT / "rayservice" / "controller").rglob("*.py")):
        tree = ast.parse(path.read_text())
        values: dict[str, set[str]] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Name):
                        values.setdefault(target.id, set()).update(strings(node.value))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "emit":
                reason = node.args[2]
                found = strings(reason) or (values.get(reason.id, set()) if isinstance(reason, ast.Name) else set())
                assert found, f"{path.name}:{node.lineno}: cannot tell the event reason"
                reasons |= found
    return reasons


def test_operations_lists_exactly_the_event_reasons_the_controllers_emit() -> None:
    section = read("operations.md").split("These are all of them:", 1)[1].split("\n\n", 2)[1]
    documented = set(re.findall(r"`([A-Z][A-Za-z]+)`", section))
    assert documented == _emitted_reasons()
