"""The resource ARNs a request acts on: the reference's ARN templates of the action's resource
types, their ``${Placeholders}`` filled from the parsed input.

A placeholder takes the input member of its name (``${TrainingJobName}``, ``${CollectionId}``, case
aside), the member it is documented as (``${BucketName}`` is ``Bucket``, ``${ObjectName}`` is ``Key``,
``${ClusterId}`` is EMR's ``JobFlowId``), or the name without ``WithPath``. An input member that is
itself an ARN of the resource type (``RoleArn``, ``PolicyArn``, SNS's ``TopicArn``) is taken whole;
SQS's ``${QueueName}`` is the last segment of ``QueueUrl``. A list fills one ARN
per value (DeleteObjects, TerminateJobFlows). A resource type that cannot be filled is left out;
an action with none filled acts on ``*`` (S3's ListAllMyBuckets on ``arn:aws:s3:::*``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from nimbus.gateway.authz.actions import IamAction, ResourceType

ALL_OF_S3 = "arn:aws:s3:::*"
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9]+)\}")
PLACEHOLDER_MEMBERS = {
    "BucketName": ("Bucket",),
    "ObjectName": ("Key",),
    "ClusterId": ("JobFlowId", "JobFlowIds"),
}


def resource_arns(
    action: IamAction, request: Mapping[str, Any], region: str, account: str, implied: Mapping[str, str]
) -> list[str]:
    """``implied``: placeholders the caller stands for when the input leaves them out (IAM's
    operations on "the calling user" when UserName is not given)."""
    found: list[str] = []
    for resource_type in action.resource_types:
        for arn in _fill(resource_type, request, region, account, implied):
            if arn not in found:
                found.append(arn)
    if not found and action.prefix == "s3" and not action.resource_types:
        # S3's account-wide actions (ListAllMyBuckets) are granted by "arn:aws:s3:::*" as well as
        # "*", as AWS's own S3 policy examples rely on, and by no one bucket's ARN
        return [ALL_OF_S3]
    return found or ["*"]


def _fill(
    resource_type: ResourceType,
    request: Mapping[str, Any],
    region: str,
    account: str,
    implied: Mapping[str, str],
) -> list[str]:
    template = resource_type.arn
    whole = _arn_member(template, request)
    if whole:
        return whole
    fixed = {"Partition": "aws", "Region": region, "Account": account}
    arns = [template]
    for name in _PLACEHOLDER.findall(template):
        values = [fixed[name]] if name in fixed else _member_values(name, request)
        if not values and name in implied:
            values = [implied[name]]
        if not values:
            return []
        arns = [arn.replace("${" + name + "}", value, 1) for arn in arns for value in values]
    return arns


def _arn_member(template: str, request: Mapping[str, Any]) -> list[str]:
    """Input members that are ARNs of this template's kind (same service and resource word)."""
    parts = template.split(":", 5)
    if len(parts) != 6:
        return []
    word = re.split(r"[/:$]", parts[5], maxsplit=1)[0]
    found = []
    for name, value in request.items():
        if name.lower().endswith("arn") and isinstance(value, str):  # RoleArn, resourceArn, StreamARN
            given = value.split(":", 5)
            if len(given) == 6 and given[2] == parts[2] and _same_kind(word, parts[5], given[5]):
                found.append(value)
    return found


def _same_kind(word: str, template: str, resource: str) -> bool:
    """Whether an ARN's resource part is of the template's kind: the same resource word
    (``role/...``), or for a template that is only a name (an SNS topic's ``${TopicName}``), a name."""
    if word:
        return resource.startswith((word + "/", word + ":"))
    return template.count("/") == resource.count("/") and template.count(":") == resource.count(":")


def _member_values(placeholder: str, request: Mapping[str, Any]) -> list[str]:
    if placeholder == "QueueName" and isinstance(request.get("QueueUrl"), str):  # SQS names queues by URL
        return [request["QueueUrl"].rstrip("/").rsplit("/", 1)[-1]]
    names = [placeholder, *PLACEHOLDER_MEMBERS.get(placeholder, ()), placeholder.removesuffix("WithPath")]
    wanted = {name.lower() for name in names}
    for value in _members(request, wanted):
        if isinstance(value, str) and value:
            return [value]
        if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
            return list(value)
    return [value for value in _nested(request, wanted) if isinstance(value, str) and value]


def _members(request: Mapping[str, Any], wanted: set[str]) -> Iterator[Any]:
    for name, value in request.items():
        if name.lower() in wanted:
            yield value


def _nested(value: Any, wanted: set[str]) -> Iterator[Any]:
    """Members of the structures nested in the input (DeleteObjects' Delete.Objects[].Key)."""
    inner = value.values() if isinstance(value, Mapping) else value if isinstance(value, list) else ()
    for item in inner:
        if isinstance(item, Mapping):
            yield from _members(item, wanted)
        yield from _nested(item, wanted)
