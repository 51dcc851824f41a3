"""Custom Labels rows: ARNs as AWS writes them, lookups that answer AWS's errors, and dataset entries
(SageMaker Ground Truth manifest lines) with their image-level labels."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection, Row

from nimbus.errors import AwsError
from nimbus.services.registry import RequestContext
from nimbus.storage.rekognition_jobs_schema import DatasetRecord, ProjectRecord, ProjectVersionRecord

PROJECTS = ProjectRecord.__table__
DATASETS = DatasetRecord.__table__
VERSIONS = ProjectVersionRecord.__table__
TEST_SHARE = 5  # auto-splitting keeps one image in five of each label for testing, as AWS's 80/20
CLASSIFICATION = "groundtruth/image-classification"


def resource_not_found(what: str) -> AwsError:
    return AwsError("ResourceNotFoundException", f"The resource {what} does not exist", 400)


def resource_in_use(message: str) -> AwsError:
    return AwsError("ResourceInUseException", message, 400)


def project_arn(ctx: RequestContext, name: str, created_ms: int) -> str:
    return f"arn:aws:rekognition:{ctx.region}:{ctx.caller.account_id}:project/{name}/{created_ms}"


def project_name(arn: str) -> str:
    return arn.split(":project/", 1)[1].split("/", 1)[0]


def _owned(ctx: RequestContext, table: Any, arn: str) -> Any:
    # an ARN names its account and region: another caller's resource is simply not found
    return table.c.arn == arn, table.c.arn.startswith(
        f"arn:aws:rekognition:{ctx.region}:{ctx.caller.account_id}:"
    )


def find_project(ctx: RequestContext, connection: Connection, arn: str) -> Row[Any]:
    found = connection.execute(select(PROJECTS).where(*_owned(ctx, PROJECTS, arn))).first()
    if found is None:
        raise resource_not_found(arn)
    return found


def find_dataset(ctx: RequestContext, connection: Connection, arn: str) -> Row[Any]:
    found = connection.execute(select(DATASETS).where(*_owned(ctx, DATASETS, arn))).first()
    if found is None:
        raise resource_not_found(arn)
    return found


def find_version(ctx: RequestContext, connection: Connection, arn: str) -> Row[Any]:
    found = connection.execute(select(VERSIONS).where(*_owned(ctx, VERSIONS, arn))).first()
    if found is None:
        raise resource_not_found(arn)
    return found


def entry_labels(entry: dict[str, Any]) -> list[str]:
    """The image-level labels of a manifest line: each ``<attribute>`` whose ``<attribute>-metadata``
    is a Ground Truth classification (single label: class-name; multi-label: class-map)."""
    labels = []
    for name, value in entry.items():
        metadata = entry.get(f"{name}-metadata")
        if not isinstance(metadata, dict) or not str(metadata.get("type", "")).startswith(CLASSIFICATION):
            continue
        if "class-name" in metadata:
            labels.append(str(metadata["class-name"]))
        elif isinstance(value, list):
            class_map = metadata.get("class-map") or {}
            labels += [str(class_map[str(index)]) for index in value if str(index) in class_map]
    return labels


def parse_manifest(text: str) -> list[str]:
    """The manifest's lines, each checked to be a JSON object with a ``source-ref``; ValueError names
    the first line that is not."""
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            raise ValueError(f"Line {number} of the manifest is not JSON.") from None
        if not isinstance(entry, dict) or not str(entry.get("source-ref", "")).startswith("s3://"):
            raise ValueError(f"Line {number} of the manifest has no source-ref S3 URI.")
        entries.append(json.dumps(entry, separators=(",", ":")))
    return entries


def split_for_testing(entries: list[str]) -> tuple[list[str], list[str]]:
    """(training, testing): about one entry in five of each label is held out for testing, the same
    ones every time (ordered by a hash of the image's URI)."""
    by_label: dict[str, list[str]] = {}
    for line in entries:
        labels = entry_labels(json.loads(line))
        by_label.setdefault(labels[0] if labels else "", []).append(line)
    training, testing = [], []
    for lines in by_label.values():
        ordered = sorted(
            lines, key=lambda line: hashlib.sha256(json.loads(line)["source-ref"].encode()).digest()
        )
        for position, line in enumerate(ordered):
            (testing if position % TEST_SHARE == TEST_SHARE - 1 else training).append(line)
    return training, testing
