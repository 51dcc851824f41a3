"""Bootstrap actions, the API side: RunJobFlow's BootstrapActions are checked here and kept in the
cluster's request, where the runner finds them; ListBootstrapActions."""

from __future__ import annotations

import re
from typing import Any

from nimbus.services.emr import emr
from nimbus.services.emr.errors import validation_error
from nimbus.services.emr.instance_groups import listed_cluster, page
from nimbus.services.registry import RequestContext

MAX_BOOTSTRAP_ACTIONS = 16  # EMR's limit per cluster
_S3_SCRIPT = re.compile(r"^s3n?://[^/]+/(.*[^/])$")  # a bucket and a key that is not a folder


def check_bootstrap_actions(actions: list[dict[str, Any]]) -> None:
    if len(actions) > MAX_BOOTSTRAP_ACTIONS:
        raise validation_error(
            f"A cluster has at most {MAX_BOOTSTRAP_ACTIONS} bootstrap actions; the request names "
            f"{len(actions)}."
        )
    for action in actions:
        name, path = action["Name"], action["ScriptBootstrapAction"]["Path"]
        if not name.strip():
            raise validation_error("A bootstrap action needs a Name.")
        if path.startswith("file:"):
            raise validation_error(
                f"Bootstrap action {name!r}: Nimbus runs bootstrap scripts from S3 only (s3://bucket/key), "
                f"not from a node's file system ({path!r})."
            )
        if not _S3_SCRIPT.match(path):
            raise validation_error(
                f"Bootstrap action {name!r}: the Path {path!r} is not an S3 URI naming a bucket and a key "
                "(s3://bucket/key)."
            )


@emr.operation
def list_bootstrap_actions(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """In the order RunJobFlow named them, the order they run in."""
    cluster = listed_cluster(ctx, request["ClusterId"])
    actions = [
        {
            "Name": action["Name"],
            "ScriptPath": action["ScriptBootstrapAction"]["Path"],
            "Args": action["ScriptBootstrapAction"].get("Args") or [],
        }
        for action in cluster.request.get("BootstrapActions") or []
    ]
    return page(actions, request.get("Marker"), "BootstrapActions")
