"""Tags of SageMaker's resources: AddTags, DeleteTags, ListTags, and the ``aws:ResourceTag/*`` keys
policies test. Jobs and notebook instances keep theirs in their create request, models, endpoint
configurations and endpoints in a ``tags`` column; both as SageMaker lists them (``Key``, ``Value``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table, func, select, update

from nimbus.services.registry import RequestContext
from nimbus.services.resource_tags import tag_condition_keys
from nimbus.services.sagemaker import sagemaker
from nimbus.services.sagemaker.errors import validation_error
from nimbus.services.sagemaker.job_lists import offset_token, token_offset
from nimbus.storage import Storage
from nimbus.storage.labeling_schema import LabelingJobRecord
from nimbus.storage.notebook_schema import NotebookInstanceRecord
from nimbus.storage.processing_schema import ProcessingJobRecord
from nimbus.storage.sagemaker_hosting_schema import (
    SageMakerEndpointConfigRecord,
    SageMakerEndpointRecord,
    SageMakerModelRecord,
)
from nimbus.storage.training_schema import TrainingJobRecord
from nimbus.storage.transform_schema import TransformJobRecord
from nimbus.storage.tuning_schema import TuningJobRecord

DEFAULT_PAGE_SIZE = 50
MAX_TAGS = 50  # per resource, as SageMaker allows
# an ARN's resource type -> the table whose rows keep the create request (and its Tags)
TABLES: dict[str, Table] = {
    "training-job": TrainingJobRecord.__table__,
    "hyper-parameter-tuning-job": TuningJobRecord.__table__,
    "processing-job": ProcessingJobRecord.__table__,
    "transform-job": TransformJobRecord.__table__,
    "notebook-instance": NotebookInstanceRecord.__table__,
    "labeling-job": LabelingJobRecord.__table__,
}
# an ARN's resource type -> the table whose rows keep their tags in a ``tags`` column
HOSTING: dict[str, Table] = {
    "model": SageMakerModelRecord.__table__,
    "endpoint-config": SageMakerEndpointConfigRecord.__table__,
    "endpoint": SageMakerEndpointRecord.__table__,
}
_HOSTING_NAMES = frozenset(table.name for table in HOSTING.values())


def resource_tag_keys(storage: Storage, arn: str) -> dict[str, str]:
    """``aws:ResourceTag/*`` and ``sagemaker:ResourceTag/*`` of the resources whose tags Nimbus keeps."""
    with storage.database.engine.connect() as connection:
        tags = {tag["Key"]: tag["Value"] for tag in _tags(connection, arn) or []}
    return tag_condition_keys(tags) | tag_condition_keys(tags, "sagemaker:resourcetag/")


def _row(connection: Connection, arn: str) -> tuple[Table, Any, Any] | None:
    """(table, its row's WHERE clause, the row) of the resource ``arn`` names, or None (no such
    resource, or one whose tags Nimbus does not keep)."""
    parts = arn.split(":", 5)
    if len(parts) != 6:
        return None
    region, account_id, resource = parts[3:]
    kind, _, name = resource.partition("/")
    table = HOSTING.get(kind, TABLES.get(kind))
    if table is None:
        return None
    where = (
        (table.c.account_id == account_id)
        & (table.c.region == region)
        & (func.lower(table.c.name) == name.lower())
    )
    row = connection.execute(select(table).where(where)).first()
    return None if row is None else (table, where, row)


def _tags(connection: Connection, arn: str) -> list[dict[str, str]] | None:
    found = _row(connection, arn)
    if found is None:
        return None
    table, _, row = found
    stored = row.tags if table.name in _HOSTING_NAMES else (row.request or {}).get("Tags")
    return list(stored or [])


def _write(connection: Connection, arn: str, tags: list[dict[str, str]]) -> None:
    found = _row(connection, arn)
    assert found is not None
    table, where, row = found
    values = {"tags": tags} if table.name in _HOSTING_NAMES else {"request": {**row.request, "Tags": tags}}
    connection.execute(update(table).where(where).values(**values))


sagemaker.resource_tags(resource_tag_keys)


def _existing(ctx: RequestContext, connection: Connection, arn: str) -> list[dict[str, str]]:
    kind = arn.split(":", 5)[-1].partition("/")[0]
    if kind not in TABLES and kind not in HOSTING:
        kept = ", ".join([*TABLES, *HOSTING])
        raise validation_error(f"Nimbus keeps no tags for {kind} resources ({kept} only).")
    tags = _tags(connection, arn)
    if tags is None or arn.split(":", 5)[4] != ctx.caller.account_id:
        raise validation_error(f"Resource {arn} does not exist.")
    return tags


@sagemaker.operation
def add_tags(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Tags jobs, notebook instances, labeling jobs, models, endpoint configurations and endpoints;
    other resources answer a ValidationException."""
    arn = request["ResourceArn"]
    with ctx.storage.database.engine.begin() as connection:
        added = {tag["Key"]: tag["Value"] for tag in request["Tags"]}
        kept = [tag for tag in _existing(ctx, connection, arn) if tag["Key"] not in added]
        tags = kept + [{"Key": key, "Value": value} for key, value in added.items()]
        if len(tags) > MAX_TAGS:
            raise validation_error(
                f"A resource can have at most {MAX_TAGS} tags; {arn} would have {len(tags)}."
            )
        _write(connection, arn, tags)
    return {"Tags": request["Tags"]}


@sagemaker.operation
def delete_tags(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Removes the keys given from the resource's tags (a key it does not have is no error)."""
    arn = request["ResourceArn"]
    removed = set(request["TagKeys"])
    with ctx.storage.database.engine.begin() as connection:
        tags = _existing(ctx, connection, arn)
        _write(connection, arn, [tag for tag in tags if tag["Key"] not in removed])
    return {}


@sagemaker.operation
def list_tags(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Tags of training, tuning, processing, transform and labeling jobs, notebook instances, models,
    endpoint configurations and endpoints: those given at creation (a tuning job's are also its
    training jobs') and by AddTags. Other resources answer a ValidationException."""
    arn = request["ResourceArn"]
    with ctx.storage.database.engine.connect() as connection:
        tags = _existing(ctx, connection, arn)
    offset = token_offset(request.get("NextToken"))
    size = request.get("MaxResults") or DEFAULT_PAGE_SIZE
    output: dict[str, Any] = {"Tags": tags[offset : offset + size]}
    if len(tags) > offset + size:
        output["NextToken"] = offset_token(offset + size)
    return output
