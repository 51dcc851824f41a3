"""CreateDataset, DescribeDataset, ListDatasetEntries, DistributeDatasetEntries, DeleteDataset.

A dataset is created at once (CREATE_COMPLETE, or CREATE_FAILED with a CLIENT_ERROR message when the
manifest is not one): Nimbus reads the manifest in the request, where AWS does it in the background.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select, update

from nimbus.errors import AwsError
from nimbus.services.registry import RequestContext
from nimbus.services.rekognition import rekognition
from nimbus.services.rekognition.custom_labels.records import (
    DATASETS,
    VERSIONS,
    entry_labels,
    find_dataset,
    find_project,
    parse_manifest,
    resource_in_use,
    split_for_testing,
)
from nimbus.services.rekognition.errors import invalid_parameter
from nimbus.services.rekognition.images import invalid_s3_object
from nimbus.services.rekognition.pagination import page_start
from nimbus.services.s3.records import find_object
from nimbus.storage.objects import StorageError

MAX_MANIFEST_BYTES = 1024**3
DEFAULT_MAX_RESULTS = 100


@rekognition.operation
def create_dataset(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """From a Ground Truth manifest in S3 (image-level classification labels are what training uses),
    from another dataset (a copy of its entries), or empty. The manifest is read in the request, so
    the dataset is CREATE_COMPLETE (or CREATE_FAILED, saying which line is wrong) at once. Tags are
    not kept."""
    source = request.get("DatasetSource") or {}
    status, message, entries = "CREATE_COMPLETE", None, []
    if source.get("GroundTruthManifest"):
        try:
            entries = parse_manifest(_manifest_text(ctx, source["GroundTruthManifest"].get("S3Object") or {}))
        except ValueError as error:
            status, message = "CREATE_FAILED", str(error)
    now = datetime.now(UTC)
    with ctx.storage.database.engine.begin() as connection:
        project = find_project(ctx, connection, request["ProjectArn"])
        if source.get("DatasetArn"):
            entries = list(find_dataset(ctx, connection, source["DatasetArn"]).entries)
        kind = request["DatasetType"]
        taken = connection.execute(
            select(DATASETS.c.arn).where(
                DATASETS.c.project_arn == project.arn, DATASETS.c.dataset_type == kind
            )
        ).first()
        if taken is not None:
            raise AwsError(
                "ResourceAlreadyExistsException", f"The project already has a {kind} dataset.", 400
            )
        arn = f"{project.arn.rsplit('/', 1)[0]}/dataset/{kind.lower()}/{int(now.timestamp() * 1000)}"
        connection.execute(
            insert(DATASETS).values(
                arn=arn,
                project_arn=project.arn,
                dataset_type=kind,
                status=status,
                status_message=message,
                status_message_code="CLIENT_ERROR" if message else "SUCCESS",
                entries=entries,
                created_at=now,
                updated_at=now,
            )
        )
    return {"DatasetArn": arn}


def _manifest_text(ctx: RequestContext, s3_object: dict[str, Any]) -> str:
    bucket, key = s3_object.get("Bucket"), s3_object.get("Name")
    if not bucket or not key:
        raise invalid_s3_object()
    try:
        record = find_object(ctx, bucket, key)
    except AwsError:
        raise invalid_s3_object() from None
    if record.size > MAX_MANIFEST_BYTES:
        raise invalid_parameter("The manifest file is larger than 1 GB.")
    try:
        with ctx.storage.objects.open_object(bucket, key) as handle:
            return handle.read().decode("utf-8", errors="replace")
    except (StorageError, OSError):
        raise invalid_s3_object() from None


@rekognition.operation
def describe_dataset(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.connect() as connection:
        dataset = find_dataset(ctx, connection, request["DatasetArn"])
    labels = [entry_labels(json.loads(line)) for line in dataset.entries]
    description: dict[str, Any] = {
        "CreationTimestamp": dataset.created_at,
        "LastUpdatedTimestamp": dataset.updated_at,
        "Status": dataset.status,
        "StatusMessageCode": dataset.status_message_code,
        "DatasetStats": {
            "LabeledEntries": sum(1 for found in labels if found),
            "TotalEntries": len(labels),
            "TotalLabels": len({label for found in labels for label in found}),
            "ErrorEntries": 0,
        },
    }
    if dataset.status_message:
        description["StatusMessage"] = dataset.status_message
    return {"DatasetDescription": description}


@rekognition.operation
def list_dataset_entries(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """No entry ever has errors (a bad manifest fails the whole dataset), so HasErrors=true lists none."""
    with ctx.storage.database.engine.connect() as connection:
        dataset = find_dataset(ctx, connection, request["DatasetArn"])
    wanted = set(request.get("ContainsLabels") or ())
    kept = []
    for line in dataset.entries:
        entry = json.loads(line)
        labels = set(entry_labels(entry))
        if (
            (wanted and not labels & wanted)
            or ("Labeled" in request and bool(labels) != request["Labeled"])
            or request.get("SourceRefContains", "") not in entry["source-ref"]
            or request.get("HasErrors")
        ):
            continue
        kept.append(line)
    start = page_start(request.get("NextToken"), len(kept))
    end = start + request.get("MaxResults", DEFAULT_MAX_RESULTS)
    output: dict[str, Any] = {"DatasetEntries": kept[start:end]}
    if end < len(kept):
        output["NextToken"] = str(end)
    return output


@rekognition.operation
def list_dataset_labels(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Image-level labels only: BoundingBoxCount is always 0."""
    with ctx.storage.database.engine.connect() as connection:
        dataset = find_dataset(ctx, connection, request["DatasetArn"])
    counts = Counter(label for line in dataset.entries for label in set(entry_labels(json.loads(line))))
    names = sorted(counts)
    start = page_start(request.get("NextToken"), len(names))
    end = start + request.get("MaxResults", DEFAULT_MAX_RESULTS)
    output: dict[str, Any] = {
        "DatasetLabelDescriptions": [
            {"LabelName": name, "LabelStats": {"EntryCount": counts[name], "BoundingBoxCount": 0}}
            for name in names[start:end]
        ]
    }
    if end < len(names):
        output["NextToken"] = str(end)
    return output


@rekognition.operation
def update_dataset_entries(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Applied at once (UPDATE_COMPLETE on return): a line whose source-ref the dataset holds
    replaces that entry, any other line is added."""
    try:
        changes = parse_manifest(bytes(request["Changes"]["GroundTruth"]).decode("utf-8", errors="replace"))
    except ValueError as error:
        raise invalid_parameter(str(error)) from None
    with ctx.storage.database.engine.begin() as connection:
        dataset = find_dataset(ctx, connection, request["DatasetArn"])
        by_image = {json.loads(line)["source-ref"]: line for line in dataset.entries}
        by_image.update((json.loads(line)["source-ref"], line) for line in changes)
        connection.execute(
            update(DATASETS)
            .where(DATASETS.c.arn == dataset.arn)
            .values(entries=list(by_image.values()), status="UPDATE_COMPLETE", updated_at=datetime.now(UTC))
        )
    return {}


@rekognition.operation
def distribute_dataset_entries(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Moves about one entry in five of each label from the TRAIN dataset to the empty TEST dataset
    of the same project (the same entries every time)."""
    arns = [dataset["Arn"] for dataset in request["Datasets"]]
    with ctx.storage.database.engine.begin() as connection:
        datasets = {row.dataset_type: row for row in (find_dataset(ctx, connection, arn) for arn in arns)}
        train, test = datasets.get("TRAIN"), datasets.get("TEST")
        if len(arns) != 2 or train is None or test is None or train.project_arn != test.project_arn:
            raise invalid_parameter("Give the TRAIN and the TEST dataset of one project.")
        if test.entries:
            raise invalid_parameter("The TEST dataset must be empty.")
        training, testing = split_for_testing(list(train.entries))
        now = datetime.now(UTC)
        for dataset, entries in ((train, training), (test, testing)):
            connection.execute(
                update(DATASETS)
                .where(DATASETS.c.arn == dataset.arn)
                .values(entries=entries, status="UPDATE_COMPLETE", updated_at=now)
            )
    return {}


@rekognition.operation
def delete_dataset(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.begin() as connection:
        dataset = find_dataset(ctx, connection, request["DatasetArn"])
        training = connection.execute(
            select(VERSIONS.c.arn).where(
                VERSIONS.c.project_arn == dataset.project_arn, VERSIONS.c.status == "TRAINING_IN_PROGRESS"
            )
        ).first()
        if training is not None:
            raise resource_in_use("A model version is training on this dataset.")
        connection.execute(delete(DATASETS).where(DATASETS.c.arn == dataset.arn))
    return {}
