"""Hyperparameter tuning through Nimbus's API: the Bayesian strategy against Random search on the same
budget, several seeds each (the tuning job's RandomSeed), on a real objective: the built-in XGBoost's
validation log loss on the Wisconsin breast cancer data (UCI; shipped with scikit-learn), seven
hyperparameters searched (learning rate, depth, child weight, subsample, gamma, L1 and L2, three of
them on a log scale).

Reports, per strategy, the mean and spread of the best objective after N and N/2 training jobs, and
the tuning job's wall time.

    .venv/bin/python bench/tuning_bench.py [--jobs 20] [--seeds 5] [--parallel 2]
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from s3_bench import Server, start_nimbus
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

sys.path.append(str(Path(__file__).resolve().parent.parent / "tests" / "e2e"))  # roles.py, as the tests
from roles import execution_role

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
OBJECTIVE = "validation:logloss"
RANGES = {
    "ContinuousParameterRanges": [
        {"Name": "eta", "MinValue": "0.001", "MaxValue": "1", "ScalingType": "Logarithmic"},
        {"Name": "min_child_weight", "MinValue": "0.1", "MaxValue": "20", "ScalingType": "Logarithmic"},
        {"Name": "subsample", "MinValue": "0.3", "MaxValue": "1", "ScalingType": "Linear"},
        {"Name": "gamma", "MinValue": "0", "MaxValue": "5", "ScalingType": "Linear"},
        {"Name": "alpha", "MinValue": "0.001", "MaxValue": "10", "ScalingType": "Logarithmic"},
        {"Name": "lambda", "MinValue": "0.001", "MaxValue": "10", "ScalingType": "Logarithmic"},
    ],
    "IntegerParameterRanges": [
        {"Name": "max_depth", "MinValue": "1", "MaxValue": "10", "ScalingType": "Linear"}
    ],
}


def upload_data(server: Server, bucket: str) -> None:
    features, labels = load_breast_cancer(return_X_y=True)
    train_x, valid_x, train_y, valid_y = train_test_split(features, labels, test_size=0.3, random_state=0)
    s3 = server.client("s3")
    s3.create_bucket(Bucket=bucket)
    for channel, x, y in (("train", train_x, train_y), ("validation", valid_x, valid_y)):
        buffer = io.StringIO()
        np.savetxt(buffer, np.column_stack([y, x]), delimiter=",", fmt="%.10g")
        s3.put_object(Bucket=bucket, Key=f"{channel}/data.csv", Body=buffer.getvalue().encode())


def tune(server: Server, bucket: str, strategy: str, seed: int, jobs: int, parallel: int) -> dict[str, Any]:
    client = server.client("sagemaker")
    name = f"{strategy[:5].lower()}-{seed}-{uuid.uuid4().hex[:6]}"
    channels = [
        {
            "ChannelName": channel,
            "ContentType": "text/csv",
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/{channel}/"}},
        }
        for channel in ("train", "validation")
    ]
    started = time.monotonic()
    client.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name,
        HyperParameterTuningJobConfig={
            "Strategy": strategy,
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": OBJECTIVE},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": jobs, "MaxParallelTrainingJobs": parallel},
            "ParameterRanges": RANGES,
            "RandomSeed": seed,
        },
        TrainingJobDefinition={
            "StaticHyperParameters": {"objective": "binary:logistic", "num_round": "50"},
            "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
            "RoleArn": execution_role(client),
            "InputDataConfig": channels,
            "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/output"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
            "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        },
    )
    while client.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)[
        "HyperParameterTuningJobStatus"
    ] in ("InProgress", "Stopping"):
        time.sleep(1)
    seconds = time.monotonic() - started
    summaries = client.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name, SortBy="CreationTime", SortOrder="Ascending", MaxResults=100
    )["TrainingJobSummaries"]
    values = [s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for s in summaries]
    assert len(values) == jobs, f"{name}: {len(values)} of {jobs} jobs reported an objective"
    return {"best": min(values), "best_half": min(values[: jobs // 2]), "seconds": seconds}


def spread(values: list[float]) -> str:
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--parallel", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tuning-bench-") as work:
        server = start_nimbus(Path(work))
        try:
            bucket = f"tuning-{uuid.uuid4().hex[:8]}"
            upload_data(server, bucket)
            results = {
                strategy: [
                    tune(server, bucket, strategy, seed, args.jobs, args.parallel)
                    for seed in range(args.seeds)
                ]
                for strategy in ("Bayesian", "Random")
            }
        finally:
            server.stop()
    cores = len(os.sched_getaffinity(0))
    when = f"{datetime.now(UTC):%Y-%m-%d}, {platform.machine()}, {cores} cores"
    print(f"## Hyperparameter tuning: Bayesian vs Random ({when})\n")
    print(
        f"XGBoost built-in, {OBJECTIVE} (lower is better) on breast cancer (30% held out), "
        f"7 hyperparameters, {args.jobs} training jobs per tuning job, {args.parallel} in parallel, "
        f"{args.seeds} seeds (RandomSeed 0-{args.seeds - 1}); mean ± standard deviation over the seeds.\n"
    )
    half, full = args.jobs // 2, args.jobs
    print(f"| strategy | best after {half} jobs | best after {full} jobs | wall time per tuning job |")
    print("| --- | --- | --- | --- |")
    for strategy, runs in results.items():
        half = spread([run["best_half"] for run in runs])
        best = spread([run["best"] for run in runs])
        seconds = statistics.mean(run["seconds"] for run in runs)
        print(f"| {strategy} | {half} | {best} | {seconds:.0f} s |")
    wins = sum(
        bayes["best"] < rand["best"]
        for bayes, rand in zip(results["Bayesian"], results["Random"], strict=True)
    )
    print(f"\nBayesian found the better job on {wins} of {args.seeds} seeds.")


if __name__ == "__main__":
    main()
