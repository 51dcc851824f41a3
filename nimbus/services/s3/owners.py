"""The owner S3 reports in listings: a stable canonical id per account."""

from __future__ import annotations

import hashlib

from nimbus.services.registry import RequestContext

DISPLAY_NAME = "nimbus"


def canonical_id(account_id: str) -> str:
    return hashlib.sha256(f"nimbus-canonical-user:{account_id}".encode()).hexdigest()


def owner(ctx: RequestContext) -> dict[str, str]:
    return {"ID": canonical_id(ctx.caller.account_id), "DisplayName": DISPLAY_NAME}
