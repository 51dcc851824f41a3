"""Notebook instance lifecycle configurations: their on-create and on-start scripts."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError

from nimbus.services.registry import RequestContext
from nimbus.services.sagemaker import sagemaker
from nimbus.services.sagemaker.errors import validation_error
from nimbus.services.sagemaker.job_lists import list_jobs
from nimbus.services.sagemaker.notebooks.records import (
    INSTANCES,
    LIFECYCLE_CONFIGS,
    InstanceKey,
    find_lifecycle_config,
    lifecycle_config_arn,
    where,
)


def _key(ctx: RequestContext, name: str) -> InstanceKey:
    return ctx.caller.account_id, ctx.region, name


def _scripts(request: dict[str, Any], name: str) -> list[dict[str, str]]:
    """The OnCreate / OnStart list, each Content checked to be base64 as AWS requires."""
    scripts = request.get(name) or []
    for script in scripts:
        try:
            base64.b64decode(script["Content"], validate=True)
        except (binascii.Error, ValueError):
            raise validation_error(f"{name} Content must be base64-encoded.") from None
    return [{"Content": script["Content"]} for script in scripts]


def _found(ctx: RequestContext, name: str) -> Row[Any]:
    config = find_lifecycle_config(ctx.storage, _key(ctx, name))
    if config is None:
        raise validation_error(f"Unable to describe Notebook Instance Lifecycle Config '{name}'.")
    return config


@sagemaker.operation
def create_notebook_instance_lifecycle_config(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    key = _key(ctx, request["NotebookInstanceLifecycleConfigName"])
    now = datetime.now(UTC)
    row = {
        "account_id": key[0],
        "region": key[1],
        "name": key[2],
        "on_create": _scripts(request, "OnCreate"),
        "on_start": _scripts(request, "OnStart"),
        "created_at": now,
        "last_modified": now,
    }
    try:
        with ctx.storage.database.engine.begin() as connection:
            connection.execute(insert(LIFECYCLE_CONFIGS), row)
    except IntegrityError:
        raise validation_error(
            f"Unable to create Notebook Instance Lifecycle Config {lifecycle_config_arn(key)}: "
            "it already exists."
        ) from None
    return {"NotebookInstanceLifecycleConfigArn": lifecycle_config_arn(key)}


@sagemaker.operation
def describe_notebook_instance_lifecycle_config(
    ctx: RequestContext, request: dict[str, Any]
) -> dict[str, Any]:
    config = _found(ctx, request["NotebookInstanceLifecycleConfigName"])
    return {
        **_summary(config),
        "OnCreate": config.on_create,
        "OnStart": config.on_start,
    }


def _summary(config: Row[Any]) -> dict[str, Any]:
    return {
        "NotebookInstanceLifecycleConfigName": config.name,
        "NotebookInstanceLifecycleConfigArn": lifecycle_config_arn(
            (config.account_id, config.region, config.name)
        ),
        "CreationTime": config.created_at,
        "LastModifiedTime": config.last_modified,
    }


@sagemaker.operation
def list_notebook_instance_lifecycle_configs(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    ordered = {"SortBy": "CreationTime", "SortOrder": "Descending", **request}
    return list_jobs(ctx, LIFECYCLE_CONFIGS, ordered, _summary, "NotebookInstanceLifecycleConfigs")


@sagemaker.operation
def update_notebook_instance_lifecycle_config(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """The scripts given replace the configuration's; instances run them at their next start."""
    config = _found(ctx, request["NotebookInstanceLifecycleConfigName"])
    values: dict[str, Any] = {"last_modified": datetime.now(UTC)}
    for member, column in (("OnCreate", "on_create"), ("OnStart", "on_start")):
        if member in request:
            values[column] = _scripts(request, member)
    key = _key(ctx, config.name)
    with ctx.storage.database.engine.begin() as connection:
        connection.execute(update(LIFECYCLE_CONFIGS).where(*where(LIFECYCLE_CONFIGS, key)).values(**values))
    return {}


@sagemaker.operation
def delete_notebook_instance_lifecycle_config(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """A configuration an instance still names cannot be deleted."""
    config = _found(ctx, request["NotebookInstanceLifecycleConfigName"])
    key = _key(ctx, config.name)
    named = INSTANCES.c.request["LifecycleConfigName"].as_string() == config.name
    with ctx.storage.database.engine.begin() as connection:
        user = connection.scalar(
            select(INSTANCES.c.name).where(
                INSTANCES.c.account_id == key[0], INSTANCES.c.region == key[1], named
            )
        )
        if user is not None:
            raise validation_error(
                f"Notebook Instance Lifecycle Config {config.name} is used by the notebook instance {user}."
            )
        connection.execute(delete(LIFECYCLE_CONFIGS).where(*where(LIFECYCLE_CONFIGS, key)))
    return {}
