"""IAM authorization: how long the gateway's decision takes, and how often it agrees with an
independent evaluator.

1. The authorization step in-process (the same call the gateway makes), for an IAM user with an
   inline policy, two managed policies and a group's policy, on S3 GetObject of a bucket with a
   bucket policy, and on SageMaker CreateTrainingJob (which also checks iam:PassRole): p50/p99 per
   decision with the principal cached (every request after its first), and resolved afresh.
2. The evaluator alone vs npm's @cloud-copilot/iam-simulate on the same generated cases (time per
   decision; the oracle runs in Node, one process, cases streamed over a pipe), and their agreement.

Run: `bench/run.sh iam [--decisions N] [--cases N]`. Prints Markdown.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "unit"))
sys.path.insert(0, str(REPO))

from nimbus.gateway.authz.facts import RequestFacts  # noqa: E402
from nimbus.gateway.authz.step import Authorizer  # noqa: E402
from nimbus.gateway.catalog import default_catalog  # noqa: E402
from nimbus.protocol.http import Headers, HttpRequest  # noqa: E402
from nimbus.services.registry import Caller, RequestContext  # noqa: E402
from nimbus.storage import Storage  # noqa: E402


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _setup(storage: Storage) -> tuple[Authorizer, Any]:
    catalog = default_catalog()
    root = storage.credentials.root()
    ctx = RequestContext(
        "bench",
        "us-east-1",
        Caller(root.access_key_id, root.account_id, root.user_id, root.arn),
        storage,
        datetime.now(UTC),
    )
    iam, s3 = catalog.services["iam"].operations, catalog.services["s3"].operations
    iam["CreateUser"](ctx, {"UserName": "analyst"})
    sagemaker_trust = {
        "Effect": "Allow",
        "Principal": {"Service": "sagemaker.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }
    iam["CreateRole"](ctx, {"RoleName": "trainer", "AssumeRolePolicyDocument": _policy(sagemaker_trust)})
    iam["PutUserPolicy"](
        ctx,
        {
            "UserName": "analyst",
            "PolicyName": "own",
            "PolicyDocument": _policy(
                {
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:PutObject"],
                    "Resource": "arn:aws:s3:::data/${aws:username}/*",
                },
                {"Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"},
            ),
        },
    )
    for name, statement in (
        (
            "readers",
            {
                "Effect": "Allow",
                "Action": ["s3:Get*", "s3:List*"],
                "Resource": "*",
                "Condition": {"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}},
            },
        ),
        (
            "trainers",
            {
                "Effect": "Allow",
                "Action": ["sagemaker:CreateTrainingJob", "iam:PassRole"],
                "Resource": "*",
                "Condition": {"StringEqualsIfExists": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            },
        ),
        (
            "streams",  # one action decided on the stream's tags, one that never reads them
            {
                "Effect": "Allow",
                "Action": "kinesis:DescribeStreamSummary",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:ResourceTag/team": "red"}},
            },
        ),
        ("stream-readers", {"Effect": "Allow", "Action": "kinesis:DescribeStream", "Resource": "*"}),
    ):
        arn = iam["CreatePolicy"](ctx, {"PolicyName": name, "PolicyDocument": _policy(statement)})["Policy"][
            "Arn"
        ]
        iam["AttachUserPolicy"](ctx, {"UserName": "analyst", "PolicyArn": arn})
    iam["CreateGroup"](ctx, {"GroupName": "staff"})
    iam["PutGroupPolicy"](
        ctx,
        {
            "GroupName": "staff",
            "PolicyName": "no-secrets",
            "PolicyDocument": _policy(
                {"Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::data/secrets/*"},
            ),
        },
    )
    iam["AddUserToGroup"](ctx, {"GroupName": "staff", "UserName": "analyst"})
    s3["CreateBucket"](ctx, {"Bucket": "data"})
    s3["PutBucketPolicy"](
        ctx,
        {
            "Bucket": "data",
            "Policy": _policy(
                {
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": "arn:aws:s3:::data/*",
                    "Condition": {"Bool": {"aws:SecureTransport": "true"}, "Null": {"aws:SourceIp": "true"}},
                },
            ),
        },
    )
    catalog.services["kinesis"].operations["CreateStream"](
        ctx, {"StreamName": "events", "ShardCount": 1, "Tags": {"team": "red"}}
    )
    user = iam["GetUser"](ctx, {"UserName": "analyst"})["User"]
    credential = storage.credentials.create("analyst", user["UserId"], user["Arn"])
    return Authorizer(storage, catalog.services), credential


def _timed(call: Callable[[], None], count: int) -> list[tuple[float, float]]:
    """(wall ms, this thread's CPU ms) per call: on a busy machine the wall time includes the time
    the thread waited for a core, the CPU time does not."""
    times = []
    for _ in range(count):
        wall, cpu = time.perf_counter_ns(), time.thread_time_ns()
        call()
        times.append(((time.perf_counter_ns() - wall) / 1e6, (time.thread_time_ns() - cpu) / 1e6))
    return times


def _p(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * fraction) - 1)]


def _row(what: str, times: list[tuple[float, float]]) -> str:
    wall, cpu = [t[0] for t in times], [t[1] for t in times]
    return (
        f"| {what} | {len(times):,} | {statistics.median(wall):.3f} ms | {_p(wall, 0.99):.3f} ms "
        f"| {statistics.median(cpu):.3f} ms | {_p(cpu, 0.99):.3f} ms |"
    )


def decisions(count: int) -> list[str]:
    catalog = default_catalog()
    with tempfile.TemporaryDirectory() as folder:
        storage = Storage.open(Path(folder), f"sqlite:///{folder}/nimbus.db")
        authorizer, credential = _setup(storage)
        http = HttpRequest(
            "GET", "/data/analyst/report.csv", "", Headers([("user-agent", "bench")]), client="127.0.0.1"
        )
        facts = RequestFacts(http, "header-v4", None, "us-east-1", datetime.now(UTC), "127.0.0.1", False)
        s3, sagemaker, kinesis = (catalog.services[name] for name in ("s3", "sagemaker", "kinesis"))
        get = {"Bucket": "data", "Key": "analyst/report.csv"}
        train = {
            "TrainingJobName": "job",
            "RoleArn": f"arn:aws:iam::{credential.account_id}:role/trainer",
            "AlgorithmSpecification": {"TrainingImage": "xgboost", "TrainingInputMode": "File"},
        }

        def cached(service: Any, operation: str, request: dict[str, Any]) -> Callable[[], None]:
            return lambda: authorizer.authorize(
                service, operation, request, facts, authorizer.identity(credential, None, "")
            )

        def fresh() -> None:
            authorizer.identities.invalidate()
            cached(s3, "GetObject", get)()

        for warm in (cached(s3, "GetObject", get), cached(sagemaker, "CreateTrainingJob", train)):
            _timed(warm, 200)
        rows = [
            _row(
                "S3 GetObject, user cached (inline + 2 managed + group policy, bucket policy)",
                _timed(cached(s3, "GetObject", get), count),
            ),
            _row(
                "SageMaker CreateTrainingJob + iam:PassRole, user cached",
                _timed(cached(sagemaker, "CreateTrainingJob", train), count),
            ),
            _row(
                "Kinesis DescribeStream, user cached (no policy tests a resource tag: no tag read)",
                _timed(cached(kinesis, "DescribeStream", {"StreamName": "events"}), count),
            ),
            _row(
                "Kinesis DescribeStreamSummary, user cached, aws:ResourceTag condition (one tag read)",
                _timed(cached(kinesis, "DescribeStreamSummary", {"StreamName": "events"}), count),
            ),
            _row("S3 GetObject, user resolved afresh (database reads)", _timed(fresh, max(count // 20, 100))),
        ]
        storage.close()
    header = "| decision | n | wall p50 | wall p99 | CPU p50 | CPU p99 |"
    return [header, "| --- | ---: | ---: | ---: | ---: | ---: |", *rows]


def oracle(count: int) -> list[str]:
    import test_policy_oracle as cases_module
    from hypothesis import HealthCheck, given, settings

    running = cases_module.Oracle()
    nimbus_ms: list[float] = []
    oracle_ms: list[float] = []
    disagreements: list[dict[str, Any]] = []

    @settings(max_examples=count, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(case=cases_module.cases())
    def compare(case: dict[str, Any]) -> None:
        if cases_module._names_own_session(case):
            case = {**case, "session": None}
        started = time.perf_counter()
        expected = running.decide(case)
        oracle_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        decided = cases_module.nimbus_decision(case)
        nimbus_ms.append((time.perf_counter() - started) * 1000)
        if (decided == "allowed") != (expected == "allowed"):
            disagreements.append({**case, "principal": case["principal"].arn})

    compare()
    running.close()
    lines = [
        "| evaluator | cases | p50 per decision | p99 per decision |",
        "| --- | ---: | ---: | ---: |",
        f"| Nimbus (parse + evaluate, in-process) | {len(nimbus_ms):,} "
        f"| {statistics.median(nimbus_ms):.3f} ms | {_p(nimbus_ms, 0.99):.3f} ms |",
        f"| @cloud-copilot/iam-simulate (Node, incl. the pipe) | {len(oracle_ms):,} "
        f"| {statistics.median(oracle_ms):.3f} ms | {_p(oracle_ms, 0.99):.3f} ms |",
        "",
        f"Disagreements (allowed vs denied): {len(disagreements)} of {len(nimbus_ms):,} cases.",
    ]
    return lines + ([f"First: `{json.dumps(disagreements[0])}`"] if disagreements else [])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--decisions", type=int, default=20000)
    parser.add_argument("--cases", type=int, default=10000)
    args = parser.parse_args()
    print("### The authorization step, in-process\n")
    print("\n".join(decisions(args.decisions)))
    print("\n### Nimbus's evaluator vs @cloud-copilot/iam-simulate\n")
    print("\n".join(oracle(args.cases)))


if __name__ == "__main__":
    main()
