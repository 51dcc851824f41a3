"""Notebook instances: create, describe, list, start, stop, update, delete, and the presigned URL that
opens one's JupyterLab through Nimbus's own port."""

from __future__ import annotations

import secrets
import shutil
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError

from nimbus.services.registry import RequestContext
from nimbus.services.sagemaker import sagemaker
from nimbus.services.sagemaker.errors import validation_error
from nimbus.services.sagemaker.job_lists import list_jobs
from nimbus.services.sagemaker.notebooks.access import notebook_path, url_token
from nimbus.services.sagemaker.notebooks.records import (
    INSTANCES,
    InstanceKey,
    find_instance,
    find_lifecycle_config,
    instance_arn,
    move,
    where,
)
from nimbus.services.sagemaker.notebooks.runner import notebook_runner

DEFAULT_SESSION_S = 43200
# members DescribeNotebookInstance reports as they were given (or updated)
ECHOED = (
    "InstanceType",
    "SubnetId",
    "RoleArn",
    "KmsKeyId",
    "DirectInternetAccess",
    "VolumeSizeInGB",
    "RootAccess",
    "PlatformIdentifier",
    "InstanceMetadataServiceConfiguration",
    "IpAddressType",
)
# UpdateNotebookInstance members that replace the instance's settings as they are
UPDATABLE = (
    "InstanceType",
    "RoleArn",
    "LifecycleConfigName",
    "VolumeSizeInGB",
    "RootAccess",
    "PlatformIdentifier",
    "InstanceMetadataServiceConfiguration",
    "IpAddressType",
)


def _key(ctx: RequestContext, name: str) -> InstanceKey:
    return ctx.caller.account_id, ctx.region, name


def _found(ctx: RequestContext, name: str) -> Row[Any]:
    instance = find_instance(ctx.storage, _key(ctx, name))
    if instance is None:
        raise validation_error("RecordNotFound")
    return instance


def _check(ctx: RequestContext, request: dict[str, Any]) -> None:
    if request.get("DefaultCodeRepository") or request.get("AdditionalCodeRepositories"):
        raise validation_error("Nimbus cannot clone code repositories into a notebook instance (no network).")
    if request.get("AcceleratorTypes"):
        raise validation_error(
            "Nimbus has no Elastic Inference accelerators: AcceleratorTypes is not supported."
        )
    config = request.get("LifecycleConfigName")
    if config and find_lifecycle_config(ctx.storage, _key(ctx, config)) is None:
        raise validation_error(f"Unable to describe Notebook Instance Lifecycle Config '{config}'.")


@sagemaker.operation
def create_notebook_instance(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """The instance is a sandboxed JupyterLab server on this machine (docs/sagemaker.md); its kernels
    act as the RoleArn (container credentials; none once its trust policy stops naming
    sagemaker.amazonaws.com, and the instance's jupyter.log says why). The server shares the host's
    network and may reach the internet whatever DirectInternetAccess says; SubnetId, SecurityGroupIds,
    KmsKeyId and VolumeSizeInGB are recorded, not applied. Not served: code repositories and
    accelerators."""
    runner = notebook_runner(ctx.storage)
    _check(ctx, request)
    key = _key(ctx, request["NotebookInstanceName"])
    if find_instance(ctx.storage, key) is not None:
        raise validation_error(f"Cannot create a duplicate Notebook Instance ({instance_arn(key)})")
    now = datetime.now(UTC)
    settings = {name: value for name, value in request.items() if name != "NotebookInstanceName"}
    row = {
        "account_id": key[0],
        "region": key[1],
        "name": key[2],
        "request": {"DirectInternetAccess": "Enabled", "RootAccess": "Enabled", **settings},
        "status": "Pending",
        "failure_reason": None,
        "token_secret": secrets.token_hex(32),
        "created_at": now,
        "last_modified": now,
        "started_once": False,
    }
    try:
        with ctx.storage.database.engine.begin() as connection:
            connection.execute(insert(INSTANCES), row)
    except IntegrityError:
        raise validation_error(f"Cannot create a duplicate Notebook Instance ({instance_arn(key)})") from None
    runner.start(key)
    return {"NotebookInstanceArn": instance_arn(key)}


@sagemaker.operation
def describe_notebook_instance(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Url is the instance's path under this Nimbus's address (open it with
    CreatePresignedNotebookInstanceUrl); there is no NetworkInterfaceId."""
    notebook_runner(ctx.storage)
    instance = _found(ctx, request["NotebookInstanceName"])
    output: dict[str, Any] = {name: instance.request[name] for name in ECHOED if name in instance.request}
    output.update(_summary(ctx, instance))
    output.pop("NotebookInstanceLifecycleConfigName", None)
    if instance.request.get("LifecycleConfigName"):
        output["NotebookInstanceLifecycleConfigName"] = instance.request["LifecycleConfigName"]
    if instance.request.get("SecurityGroupIds"):
        output["SecurityGroups"] = instance.request["SecurityGroupIds"]
    if instance.failure_reason and instance.status == "Failed":
        output["FailureReason"] = instance.failure_reason
    return output


def _summary(ctx: RequestContext, instance: Row[Any]) -> dict[str, Any]:
    key = (instance.account_id, instance.region, instance.name)
    summary = {
        "NotebookInstanceName": instance.name,
        "NotebookInstanceArn": instance_arn(key),
        "NotebookInstanceStatus": instance.status,
        "Url": f"{ctx.host}{notebook_path(key[1], key[2])}",
        "CreationTime": instance.created_at,
        "LastModifiedTime": instance.last_modified,
    }
    config = instance.request.get("LifecycleConfigName")
    return summary | ({"NotebookInstanceLifecycleConfigName": config} if config else {})


@sagemaker.operation
def list_notebook_instances(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """DefaultCodeRepositoryContains and AdditionalCodeRepositoryEquals match no instance (Nimbus
    attaches no repositories)."""
    notebook_runner(ctx.storage)
    config = INSTANCES.c.request["LifecycleConfigName"].as_string()
    filters = {
        "NotebookInstanceLifecycleConfigNameContains": lambda value: config.contains(value, autoescape=True),
        "DefaultCodeRepositoryContains": lambda value: INSTANCES.c.name.is_(None),
        "AdditionalCodeRepositoryEquals": lambda value: INSTANCES.c.name.is_(None),
    }
    ordered = {"SortBy": "Name", "SortOrder": "Descending", **request}
    return list_jobs(ctx, INSTANCES, ordered, lambda row: _summary(ctx, row), "NotebookInstances", filters)


def _moved(ctx: RequestContext, name: str, status: str, allowed: tuple[str, ...]) -> InstanceKey:
    """Move the instance to ``status`` from one of ``allowed``, or refuse as SageMaker does; its key."""
    instance = _found(ctx, name)
    key = _key(ctx, instance.name)
    if not move(ctx.storage, key, status, allowed):
        raise validation_error(
            f"Status ({instance.status}) not in ([{', '.join(allowed)}]). Unable to transition."
        )
    return key


@sagemaker.operation
def start_notebook_instance(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """The home folder is as the last run left it; the on-start script runs again."""
    runner = notebook_runner(ctx.storage)
    runner.start(_moved(ctx, request["NotebookInstanceName"], "Pending", ("Stopped", "Failed")))
    return {}


@sagemaker.operation
def stop_notebook_instance(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """The Jupyter server and its kernels are killed; the home folder stays."""
    runner = notebook_runner(ctx.storage)
    runner.stop(_moved(ctx, request["NotebookInstanceName"], "Stopping", ("InService", "Pending")))
    return {}


@sagemaker.operation
def update_notebook_instance(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """A stopped (or failed) instance's settings change at once; the next start uses them."""
    notebook_runner(ctx.storage)
    instance = _found(ctx, request["NotebookInstanceName"])
    _check(ctx, request)
    if instance.status not in ("Stopped", "Failed"):
        raise validation_error(f"Status ({instance.status}) not in ([Stopped, Failed]). Unable to update.")
    settings = dict(instance.request) | {name: request[name] for name in UPDATABLE if name in request}
    if request.get("DisassociateLifecycleConfig"):
        settings.pop("LifecycleConfigName", None)
    with ctx.storage.database.engine.begin() as connection:
        connection.execute(
            update(INSTANCES)
            .where(*where(INSTANCES, _key(ctx, instance.name)))
            .values(request=settings, last_modified=datetime.now(UTC))
        )
    return {}


@sagemaker.operation
def delete_notebook_instance(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """The home folder is deleted with it, at once; its presigned URLs and sessions stop working."""
    runner = notebook_runner(ctx.storage)
    instance = _found(ctx, request["NotebookInstanceName"])
    key = _key(ctx, instance.name)
    if not move(ctx.storage, key, "Deleting", ("Stopped", "Failed")):
        raise validation_error(f"Status ({instance.status}) not in ([Stopped, Failed]). Unable to delete.")
    shutil.rmtree(runner.folder(key), ignore_errors=True)
    with ctx.storage.database.engine.begin() as connection:
        connection.execute(delete(INSTANCES).where(*where(INSTANCES, key)))
    return {}


@sagemaker.operation
def create_presigned_notebook_instance_url(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """The URL is under this Nimbus's address (``/_nimbus/notebooks/<region>/<name>/``), valid for
    five minutes; opening it starts a session (a cookie) of SessionExpirationDurationInSeconds."""
    notebook_runner(ctx.storage)
    instance = _found(ctx, request["NotebookInstanceName"])
    session = request.get("SessionExpirationDurationInSeconds") or DEFAULT_SESSION_S
    token = url_token(instance.token_secret, ctx.region, instance.name, session)
    return {"AuthorizedUrl": f"http://{ctx.host}{notebook_path(ctx.region, instance.name)}?authToken={token}"}


# At start: the instances of nodes that stopped (this one before a restart, or a dead one) start again
# here, in the background; a live node's are left alone.
sagemaker.on_startup(notebook_runner)
