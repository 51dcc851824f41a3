"""Access keys of IAM users (two at most each, as in AWS). They live in the credentials file with the
root key, so ``nimbus keys`` and the API manage the same keys, and a change applies at once."""

from __future__ import annotations

from typing import Any

from nimbus.errors import AwsError
from nimbus.services.iam import iam
from nimbus.services.iam.records import arn, find, page
from nimbus.services.iam.users import caller_user_name
from nimbus.services.registry import RequestContext
from nimbus.storage.credentials import Credential

MAX_KEYS_PER_USER = 2


def _owner(ctx: RequestContext, request: dict[str, Any]) -> str | None:
    """The user whose keys are meant: the named one (which must exist), else the caller's own."""
    name = request.get("UserName")
    if not name:
        return caller_user_name(ctx)
    with ctx.storage.database.engine.connect() as connection:
        return str(find(connection, ctx, "user", name).name)


def _keys(ctx: RequestContext, user_name: str | None) -> list[Credential]:
    keys = ctx.storage.credentials.list()
    return (
        [key for key in keys if key.is_root]
        if user_name is None
        else [key for key in keys if key.user_name == user_name]
    )


def _metadata(key: Credential) -> dict[str, Any]:
    return {
        "UserName": key.user_name,
        "AccessKeyId": key.access_key_id,
        "Status": key.status,
        "CreateDate": key.created_at.replace(microsecond=0),
    }


def _owned_key(ctx: RequestContext, request: dict[str, Any]) -> Credential:
    user_name = _owner(ctx, request)
    for key in _keys(ctx, user_name):
        if key.access_key_id == request["AccessKeyId"]:
            return key
    raise AwsError("NoSuchEntity", f"The Access Key with id {request['AccessKeyId']} cannot be found.", 404)


@iam.operation
def create_access_key(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """The root user's key is the one `nimbus env` prints; it gets no more through the API."""
    user_name = _owner(ctx, request)
    if user_name is None:
        raise AwsError(
            "InvalidInput", "Nimbus keeps one root access key; create keys for IAM users instead.", 400
        )
    with ctx.storage.database.engine.connect() as connection:
        user = find(connection, ctx, "user", user_name)
    try:
        key = ctx.storage.credentials.create(
            user.name,
            user.user_id,
            arn(user.account_id, "user", user.path, user.name),
            limit=MAX_KEYS_PER_USER,
        )
    except LookupError:
        raise AwsError(
            "LimitExceeded", f"Cannot exceed quota for AccessKeysPerUser: {MAX_KEYS_PER_USER}", 409
        ) from None
    return {"AccessKey": {**_metadata(key), "SecretAccessKey": key.secret_access_key}}


@iam.operation
def list_access_keys(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    keys = _keys(ctx, _owner(ctx, request))
    return page(keys, request, "AccessKeyMetadata", _metadata, key=lambda key: key.access_key_id)


@iam.operation
def update_access_key(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    key = _owned_key(ctx, request)
    if key.is_root:
        raise AwsError("InvalidInput", "The root access key of `nimbus env` cannot be deactivated.", 400)
    ctx.storage.credentials.set_status(key.access_key_id, request["Status"])
    return {}


@iam.operation
def delete_access_key(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    key = _owned_key(ctx, request)
    if key.is_root:
        raise AwsError("InvalidInput", "The root access key of `nimbus env` cannot be deleted.", 400)
    ctx.storage.credentials.delete(key.access_key_id)
    return {}
