"""What the API server checks before it upgrades pods/exec and pods/attach, in kube-apiserver's words."""

from __future__ import annotations

from typing import Any

import pytest
from multidict import MultiDict

from e2e.localcluster.apiserver.errors import ApiError
from e2e.localcluster.apiserver.http.streaming.remotecommand import (
    container_running,
    parse_options,
    resolve_container,
)


def pod(*names: str, inits: tuple[str, ...] = (), node: str = "n1", running: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"metadata": {"name": "p", "namespace": "default"},
            "spec": {"nodeName": node, "containers": [{"name": n} for n in names],
                     "initContainers": [{"name": n} for n in inits]},
            "status": {"containerStatuses": [{"name": n, "state": {"running": {}} if n in running else
                                              {"waiting": {"reason": "ContainerCreating"}}} for n in names]}}


def test_exec_options_keep_every_command_word_in_order() -> None:
    q = MultiDict([("command", "sh"), ("command", "-c"), ("command", "echo hi"), ("stdout", "true"),
                   ("stderr", "true"), ("container", "c")])
    opts = parse_options("exec", q)
    assert opts.command == ("sh", "-c", "echo hi") and opts.container == "c"
    assert (opts.stdin, opts.stdout, opts.stderr, opts.tty) == (False, True, True, False)


def test_a_terminal_has_no_separate_stderr() -> None:
    opts = parse_options("exec", MultiDict([("command", "sh"), ("stdout", "true"), ("stderr", "true"),
                                            ("tty", "true")]))
    assert opts.tty and not opts.stderr


@pytest.mark.parametrize(("sub", "query", "message"), [
    ("exec", [("stdout", "true")], "at least one command"),
    ("exec", [("command", "ls")], "at least 1 of stdin, stdout, stderr"),
    ("attach", [], "at least 1 of stdin, stdout, stderr"),
])
def test_requests_without_a_command_or_a_stream_are_a_400(sub: str, query: list[tuple[str, str]],
                                                           message: str) -> None:
    with pytest.raises(ApiError) as err:
        parse_options(sub, MultiDict(query))
    assert err.value.code == 400 and message in err.value.message


def test_the_only_container_is_the_default_and_several_need_a_name() -> None:
    assert resolve_container(pod("main"), "") == "main"
    with pytest.raises(ApiError) as err:
        resolve_container(pod("a", "b", inits=("setup",)), "")
    assert err.value.message == ("a container name must be specified for pod p, choose one of: [a b] or one of "
                                 "the init containers: [setup]")


def test_an_unknown_container_or_a_pod_without_a_node_is_a_400() -> None:
    with pytest.raises(ApiError) as err:
        resolve_container(pod("main"), "x")
    assert (err.value.code, err.value.message) == (400, "container x is not valid for pod p")
    with pytest.raises(ApiError) as err:
        resolve_container(pod("main", node=""), "main")
    assert err.value.message == "pod p does not have a host assigned"


def test_a_container_runs_only_when_its_status_says_running() -> None:
    assert container_running(pod("a", "b", running=("a",)), "a")
    assert not container_running(pod("a", "b", running=("a",)), "b")
    assert not container_running(pod("a"), "ghost")
