"""Connections into a container's own network namespace: Nimbus reaches a model server on the
container's loopback port 8080, whether the container has a network (bridge) or none at all
(network isolation), with no port published on the host. The socket is made by a short-lived
thread that enters the namespace (setns), so no other thread of Nimbus ever leaves the host's."""

from __future__ import annotations

import ctypes
import http.client
import os
import socket
import threading

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def connect_in_namespace(pid: int, port: int, timeout: float) -> socket.socket:
    """A TCP connection to 127.0.0.1:``port`` inside the network namespace of process ``pid``;
    OSError when the namespace is gone or nothing listens there."""
    made: list[socket.socket] = []
    failed: list[BaseException] = []

    def connect() -> None:
        try:
            descriptor = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
            try:
                if _libc.setns(descriptor, CLONE_NEWNET) != 0:
                    error = ctypes.get_errno()
                    raise OSError(error, f"setns into the network namespace of {pid}: {os.strerror(error)}")
            finally:
                os.close(descriptor)
            made.append(socket.create_connection(("127.0.0.1", port), timeout=timeout))
        except BaseException as error:  # handed to the calling thread
            failed.append(error)

    thread = threading.Thread(target=connect, name=f"netns-connect-{pid}", daemon=True)
    thread.start()
    thread.join()
    if failed:
        raise failed[0]
    return made[0]


class NamespaceConnection(http.client.HTTPConnection):
    """An HTTP connection to 127.0.0.1:``port`` in the network namespace of process ``pid`` (it
    reconnects there too, when a kept-alive connection was closed)."""

    def __init__(self, pid: int, port: int, timeout: float) -> None:
        super().__init__("127.0.0.1", port, timeout=timeout)
        self.pid = pid

    def connect(self) -> None:
        self.sock = connect_in_namespace(self.pid, self.port, self.timeout)
