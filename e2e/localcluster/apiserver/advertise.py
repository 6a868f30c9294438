"""The address pods reach the API server at (kube-apiserver's --advertise-address), and listening there.

Pods cannot reach the host's loopback, and kube refuses loopback addresses in Endpoints, so a server that pods
talk to also listens on a routable address: in `up` mode the node bridge's (10.244.0.1 by default), which is
then the `kubernetes` Service's endpoint (controllers/kubernetes_service.py).

Guarantees:
1. `advertise_socket(address, port)` returns a listening TCP socket bound to address:port even while no
   interface holds the address yet (IP_FREEBIND: the bridge is made by the node agent after the server
   starts); connections arrive once the address exists.
2. A bad address raises `ValueError` before anything is bound: the same check the `kubernetes` Service's
   Endpoints get (not loopback, unspecified, link-local or multicast).
"""

from __future__ import annotations

import socket

from e2e.localcluster.apiserver.controllers.kubernetes_service import check_endpoint_address

_IP_FREEBIND = getattr(socket, "IP_FREEBIND", 15)  # linux/in.h


def advertise_socket(address: str, port: int, *, backlog: int = 128) -> socket.socket:
    check_endpoint_address(address)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_IP, _IP_FREEBIND, 1)
        sock.bind((address, port))
        sock.listen(backlog)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock
