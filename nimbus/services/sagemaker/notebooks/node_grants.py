"""Notebook requests between nodes: an instance's Jupyter server runs on one node, the holder of its
lease (runner.py). Another node's proxy that receives a request for the instance checks the person's
session itself, then forwards the request (HTTP or a websocket) to that node with a grant signed with
the install's shared key (storage.sessions.sign, the key every node reads from the shared data
directory, as for forwarded endpoint invocations) naming the instance, the method, the path with its
query and the body's SHA-256, valid for a minute. The owner trusts the grant in place of a session and
never forwards further."""

from __future__ import annotations

import hashlib
import time

from nimbus.storage import Storage
from nimbus.storage.session_tokens import InvalidToken

GRANT = "x-nimbus-grant"  # lower case, as the proxy reads headers
PURPOSE = "sagemaker:notebook-proxy"
GRANT_SECONDS = 60


def grant(storage: Storage, instance: tuple[str, str], method: str, target: str, body: bytes) -> str:
    """A grant for one request to the instance (region, name): ``target`` is its path and query."""
    return storage.sessions.sign(
        _claims(instance, method, target, body) | {"expires": time.time() + GRANT_SECONDS}
    )


def granted(
    storage: Storage, token: str, instance: tuple[str, str], method: str, target: str, body: bytes
) -> bool:
    """Whether ``token`` is a node's unexpired grant for exactly this request."""
    try:
        claims = storage.sessions.verify(token)
    except InvalidToken:
        return False
    expires = claims.pop("expires", 0)
    return expires >= time.time() and claims == _claims(instance, method, target, body)


def _claims(instance: tuple[str, str], method: str, target: str, body: bytes) -> dict[str, object]:
    return {
        "purpose": PURPOSE,
        "instance": list(instance),
        "method": method,
        "target": target,
        "sha256": hashlib.sha256(body).hexdigest(),
    }
