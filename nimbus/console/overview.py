"""Overview: what this Nimbus serves, how many resources the user can see, and their recent calls.

Counts read one page of each list (never a full scan): a count that reaches a page's end shows
as "100+". A list the user may not call shows as not allowed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from botocore.awsrequest import AWSRequest
from botocore.exceptions import ClientError

from nimbus.console.api import USER_AGENT
from nimbus.console.web import ConsoleRequest, Page, get


@dataclass(frozen=True)
class Count:
    label: str
    service: str
    operation: str
    parameters: dict[str, Any]
    items: str  # the member that lists the resources
    more: str  # the member that says there is another page
    page: str  # the console page that lists them


ACTIVE_CLUSTERS = ["STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING", "TERMINATING"]
COUNTS = (
    Count("Buckets", "s3", "list_buckets", {"MaxBuckets": 1000}, "Buckets", "ContinuationToken", "/s3"),
    Count(
        "Face collections",
        "rekognition",
        "list_collections",
        {"MaxResults": 1000},
        "CollectionIds",
        "NextToken",
        "/rekognition/collections",
    ),
    Count("Lex bots", "lexv2-models", "list_bots", {"maxResults": 1000}, "botSummaries", "nextToken", "/lex"),
    Count(
        "Training jobs",
        "sagemaker",
        "list_training_jobs",
        {"MaxResults": 100},
        "TrainingJobSummaries",
        "NextToken",
        "/sagemaker",
    ),
    Count(
        "Endpoints",
        "sagemaker",
        "list_endpoints",
        {"MaxResults": 100},
        "Endpoints",
        "NextToken",
        "/sagemaker/endpoints",
    ),
    Count(
        "Active EMR clusters",
        "emr",
        "list_clusters",
        {"ClusterStates": ACTIVE_CLUSTERS},
        "Clusters",
        "Marker",
        "/emr",
    ),
    Count("Log groups", "logs", "describe_log_groups", {"limit": 50}, "logGroups", "nextToken", "/logs"),
    Count("SNS topics", "sns", "list_topics", {}, "Topics", "NextToken", "/sns"),
    Count("SQS queues", "sqs", "list_queues", {"MaxResults": 1000}, "QueueUrls", "NextToken", "/sqs"),
    Count(
        "Kinesis streams",
        "kinesis",
        "list_streams",
        {"Limit": 1000},
        "StreamNames",
        "HasMoreStreams",
        "/kinesis",
    ),
    Count(
        "ECR repositories",
        "ecr",
        "describe_repositories",
        {"maxResults": 1000},
        "repositories",
        "nextToken",
        "/ecr",
    ),
    Count("IAM users", "iam", "list_users", {"MaxItems": 1000}, "Users", "IsTruncated", "/iam/users"),
)


def overview(ctx: ConsoleRequest) -> Page:
    health = ctx.console.api.send(AWSRequest("GET", f"{ctx.origin}/_nimbus/health").prepare())
    with_console = ctx.query("console") == "1"
    calls = _recent_calls(ctx, False, with_console)
    errors = _recent_calls(ctx, True, with_console)
    data = {
        "with_console": with_console,
        "health": json.loads(health.body),
        "arn": ctx.session.arn,
        "account_id": ctx.session.account_id,
        "counts": [_count(ctx, count) for count in COUNTS],
        "calls": calls[:25],
        "errors": errors[:25],
    }
    return Page("overview.html", data, title="Overview")


def _count(ctx: ConsoleRequest, count: Count) -> dict[str, Any]:
    answer = {"label": count.label, "page": count.page}
    try:
        listed = getattr(ctx.client(count.service), count.operation)(**count.parameters)
    except ClientError as error:
        return {**answer, "count": None, "error": error.response.get("Error", {}).get("Code", "Error")}
    return {**answer, "count": len(listed.get(count.items, [])), "more": bool(listed.get(count.more))}


def _recent_calls(ctx: ConsoleRequest, errors_only: bool, with_console: bool) -> list[dict[str, Any]]:
    """The user's latest calls; the console's own (its page reads) only when asked for."""
    query = urlencode(
        {"errors": "1" if errors_only else "", "hide-client": "" if with_console else USER_AGENT}
    )
    answer = ctx.console.api.signed("GET", f"{ctx.origin}/_nimbus/recent-calls?{query}", ctx.session.sign_in)
    if answer.status != 200:
        return []
    calls: list[dict[str, Any]] = json.loads(answer.body)["Calls"]
    return calls


ROUTES = [get("/", overview)]
