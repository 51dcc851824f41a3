"""Recommendation job rows: the job table, the status as Inference Recommender spells it, and the
DeploymentRecommendation that DescribeModel reports from a model's latest job."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from nimbus.services.sagemaker.errors import resource_not_found
from nimbus.services.sagemaker.job_table import JobTable
from nimbus.storage import Storage
from nimbus.storage.recommendation_schema import RecommendationJobRecord

RECOMMENDATION_JOBS = JobTable(
    RecommendationJobRecord.__table__, "inference-recommendations-job", "completion_time"
)
# DeploymentRecommendation lists this many real-time recommendations at most (botocore's model)
DEPLOYMENT_RECOMMENDATIONS = 3


def wire_status(status: str) -> str:
    """The job table's status (InProgress) as Inference Recommender spells it (IN_PROGRESS)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", status).upper()


def table_status(status: str) -> str:
    """IN_PROGRESS -> InProgress."""
    return "".join(part.capitalize() for part in status.split("_"))


def deployment_recommendation(
    storage: Storage, account_id: str, region: str, model_name: str
) -> dict[str, Any]:
    """From the model's latest recommendation job: its status, and its best instance types when it
    completed; NOT_APPLICABLE when no job recommended for the model."""
    table = RECOMMENDATION_JOBS.table
    with storage.database.engine.connect() as connection:
        job = connection.execute(
            select(table.c.status, table.c.recommendations)
            .where(
                table.c.account_id == account_id, table.c.region == region, table.c.model_name == model_name
            )
            .order_by(table.c.created_at.desc())
            .limit(1)
        ).first()
    if job is None:
        return {"RecommendationStatus": "NOT_APPLICABLE"}
    if job.status in ("InProgress", "Stopping"):
        return {"RecommendationStatus": "IN_PROGRESS"}
    if job.status != "Completed":
        return {"RecommendationStatus": "FAILED"}
    best = [
        {
            "RecommendationId": item["RecommendationId"],
            "InstanceType": item["EndpointConfiguration"]["InstanceType"],
            "Environment": {
                p["Key"]: p["Value"] for p in item["ModelConfiguration"].get("EnvironmentParameters", [])
            },
        }
        for item in job.recommendations[:DEPLOYMENT_RECOMMENDATIONS]
    ]
    return {"RecommendationStatus": "COMPLETED", "RealTimeInferenceRecommendations": best}


def recommendation_report(storage: Storage, account_id: str, region: str, name: str) -> dict[str, Any]:
    """The job's report: its status, and how each candidate's figures were obtained."""
    job = RECOMMENDATION_JOBS.find(storage, (account_id, region, name))
    if job is None:
        raise resource_not_found(f"Inference recommendations job {name} does not exist.")
    return {
        "JobName": job.name,
        "Status": wire_status(job.status),
        "FailureReason": job.failure_reason,
        **job.report,
    }
