"""The node's half of port-forward: kubelet's and containerd's error texts, and refusals before any dial."""

from __future__ import annotations

import errno
import socket

import pytest

from e2e.localcluster.node.pods import PodRunner
from e2e.localcluster.node.portforward import PodPorts, connect_failure, forward_error, reason_of, socket_in_netns


class NoPods:
    def runner_for(self, namespace: str, name: str) -> PodRunner | None:
        return None


def test_the_error_names_port_sandbox_and_an_empty_uid_as_the_cri_streaming_server_passes_them() -> None:
    assert forward_error(8000, "lcn-default-web-1a2b3c4d", "boom") == (
        "error forwarding port 8000 to pod lcn-default-web-1a2b3c4d, uid : boom")


def test_a_failed_dial_reads_as_containerds_with_both_loopback_addresses() -> None:
    assert connect_failure("ns1", 8000, "connection refused", "cannot assign requested address") == (
        'failed to execute portforward in network namespace "/var/run/netns/ns1": failed to connect to '
        'localhost:8000 inside namespace "ns1", IPv4: dial tcp4 127.0.0.1:8000: connect: connection refused '
        "IPv6 dial tcp6 [::1]:8000: connect: cannot assign requested address ")


@pytest.mark.parametrize(("exc", "text"), [
    (ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed ('127.0.0.1', 9)"), "connection refused"),
    (OSError(errno.ENETUNREACH, "x"), "network is unreachable"),
    (TimeoutError(), "i/o timeout"),
    (OSError("no errno"), "no errno"),
])
def test_socket_errors_read_as_gos_lower_case_text(exc: BaseException, text: str) -> None:
    assert reason_of(exc) == text


async def test_a_pod_this_node_does_not_run_is_refused_without_a_dial() -> None:
    with pytest.raises(OSError, match=r"^error forwarding port 80 to pod default/web, uid : the pod's sandbox "
                                      "does not run on this node$"):
        await PodPorts(NoPods()).open_port("default", "web", 80)


async def test_a_namespace_that_is_gone_is_an_os_error() -> None:
    with pytest.raises(FileNotFoundError):
        await socket_in_netns("/var/run/netns/no-such-namespace-here", socket.AF_INET)
