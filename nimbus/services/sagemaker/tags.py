"""ListTags: the tags a resource was created with (the SDK's Estimator.attach reads a training job's)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, func, select

from nimbus.services.registry import RequestContext
from nimbus.services.resource_tags import tag_condition_keys
from nimbus.services.sagemaker import sagemaker
from nimbus.services.sagemaker.errors import validation_error
from nimbus.services.sagemaker.job_lists import offset_token, token_offset
from nimbus.storage import Storage
from nimbus.storage.labeling_schema import LabelingJobRecord
from nimbus.storage.notebook_schema import NotebookInstanceRecord
from nimbus.storage.processing_schema import ProcessingJobRecord
from nimbus.storage.training_schema import TrainingJobRecord
from nimbus.storage.transform_schema import TransformJobRecord
from nimbus.storage.tuning_schema import TuningJobRecord

DEFAULT_PAGE_SIZE = 50
# an ARN's resource type -> the table whose rows keep the create request (and its Tags)
TABLES: dict[str, Table] = {
    "training-job": TrainingJobRecord.__table__,
    "hyper-parameter-tuning-job": TuningJobRecord.__table__,
    "processing-job": ProcessingJobRecord.__table__,
    "transform-job": TransformJobRecord.__table__,
    "notebook-instance": NotebookInstanceRecord.__table__,
    "labeling-job": LabelingJobRecord.__table__,
}


def resource_tag_keys(storage: Storage, arn: str) -> dict[str, str]:
    """``aws:ResourceTag/*`` and ``sagemaker:ResourceTag/*`` of the resources whose tags Nimbus keeps."""
    found = _create_request(storage, arn)
    tags = {tag["Key"]: tag["Value"] for tag in (found or {}).get("Tags") or []}
    return tag_condition_keys(tags) | tag_condition_keys(tags, "sagemaker:resourcetag/")


def _create_request(storage: Storage, arn: str) -> dict[str, Any] | None:
    """The create request kept with the resource ``arn`` names, or None (no such resource, or one
    whose tags Nimbus does not keep)."""
    _, _, _, region, account_id, resource = arn.split(":", 5)
    kind, _, name = resource.partition("/")
    table = TABLES.get(kind)
    if table is None:
        return None
    query = select(table.c.request).where(
        table.c.account_id == account_id, table.c.region == region, func.lower(table.c.name) == name.lower()
    )
    with storage.database.engine.connect() as connection:
        return connection.scalar(query)


sagemaker.resource_tags(resource_tag_keys)


@sagemaker.operation
def list_tags(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Tags of training, tuning, processing and transform jobs and notebook instances: those given
    at creation (a tuning job's are also its training jobs'). Other resources answer a
    ValidationException."""
    arn = request["ResourceArn"]
    account_id, resource = arn.split(":", 5)[4:]
    kind = resource.partition("/")[0]
    if kind not in TABLES:
        raise validation_error(f"Nimbus keeps no tags for {kind} resources ({', '.join(TABLES)} only).")
    found = _create_request(ctx.storage, arn)
    if found is None or account_id != ctx.caller.account_id:
        raise validation_error(f"Resource {arn} does not exist.")
    tags = list(found.get("Tags") or [])
    offset = token_offset(request.get("NextToken"))
    size = request.get("MaxResults") or DEFAULT_PAGE_SIZE
    output: dict[str, Any] = {"Tags": tags[offset : offset + size]}
    if len(tags) > offset + size:
        output["NextToken"] = offset_token(offset + size)
    return output
