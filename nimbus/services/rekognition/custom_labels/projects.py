"""CreateProject, DescribeProjects, DeleteProject."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from nimbus.services.registry import RequestContext
from nimbus.services.rekognition import rekognition
from nimbus.services.rekognition.custom_labels.records import (
    DATASETS,
    PROJECTS,
    VERSIONS,
    find_project,
    project_arn,
    resource_in_use,
)
from nimbus.services.rekognition.errors import invalid_parameter
from nimbus.services.rekognition.pagination import page_start

DEFAULT_MAX_RESULTS = 100


@rekognition.operation
def create_project(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Custom Labels projects only: Feature CONTENT_MODERATION (adapters) is refused, and Tags are
    not kept."""
    if request.get("Feature", "CUSTOM_LABELS") != "CUSTOM_LABELS":
        raise invalid_parameter("Nimbus has no custom moderation adapters: Feature must be CUSTOM_LABELS.")
    now = datetime.now(UTC)
    arn = project_arn(ctx, request["ProjectName"], int(now.timestamp() * 1000))
    row = {"arn": arn, "account_id": ctx.caller.account_id, "region": ctx.region}
    try:
        with ctx.storage.database.engine.begin() as connection:
            connection.execute(insert(PROJECTS).values(**row, name=request["ProjectName"], created_at=now))
    except IntegrityError:
        raise resource_in_use(f"The project {request['ProjectName']} already exists.") from None
    return {"ProjectArn": arn}


@rekognition.operation
def describe_projects(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    features = set(request.get("Features") or ["CUSTOM_LABELS"])
    query = select(PROJECTS).where(
        PROJECTS.c.account_id == ctx.caller.account_id, PROJECTS.c.region == ctx.region
    )
    if request.get("ProjectNames"):
        query = query.where(PROJECTS.c.name.in_(request["ProjectNames"]))
    with ctx.storage.database.engine.connect() as connection:
        projects = connection.execute(query.order_by(PROJECTS.c.created_at, PROJECTS.c.arn)).all()
        if "CUSTOM_LABELS" not in features:
            projects = []
        start = page_start(request.get("NextToken"), len(projects))
        end = start + request.get("MaxResults", DEFAULT_MAX_RESULTS)
        datasets = connection.execute(
            select(DATASETS)
            .where(DATASETS.c.project_arn.in_([project.arn for project in projects[start:end]]))
            .order_by(DATASETS.c.created_at)
        ).all()
    output: dict[str, Any] = {
        "ProjectDescriptions": [
            {
                "ProjectArn": project.arn,
                "CreationTimestamp": project.created_at,
                "Status": "CREATED",
                "Feature": "CUSTOM_LABELS",
                "Datasets": [
                    {
                        "CreationTimestamp": dataset.created_at,
                        "DatasetType": dataset.dataset_type,
                        "DatasetArn": dataset.arn,
                        "Status": dataset.status,
                        **({"StatusMessage": dataset.status_message} if dataset.status_message else {}),
                        **(
                            {"StatusMessageCode": dataset.status_message_code}
                            if dataset.status_message_code
                            else {}
                        ),
                    }
                    for dataset in datasets
                    if dataset.project_arn == project.arn
                ],
            }
            for project in projects[start:end]
        ]
    }
    if end < len(projects):
        output["NextToken"] = str(end)
    return output


@rekognition.operation
def delete_project(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Deletes the project and its datasets at once (Status DELETING is the last thing it reports);
    refused while it still has model versions, as AWS."""
    with ctx.storage.database.engine.begin() as connection:
        project = find_project(ctx, connection, request["ProjectArn"])
        if connection.execute(select(VERSIONS.c.arn).where(VERSIONS.c.project_arn == project.arn)).first():
            raise resource_in_use("Delete the project's model versions before the project.")
        connection.execute(delete(DATASETS).where(DATASETS.c.project_arn == project.arn))
        connection.execute(delete(PROJECTS).where(PROJECTS.c.arn == project.arn))
    return {"Status": "DELETING"}
