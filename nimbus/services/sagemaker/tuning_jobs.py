"""Hyperparameter tuning jobs: create, describe, list, stop, and the training jobs they launched."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Row

from nimbus.services.registry import RequestContext
from nimbus.services.sagemaker import sagemaker
from nimbus.services.sagemaker.errors import resource_not_found, validation_error
from nimbus.services.sagemaker.images import training_runtime
from nimbus.services.sagemaker.job_lists import list_jobs, offset_token, token_offset
from nimbus.services.sagemaker.job_table import JobKey
from nimbus.services.sagemaker.jobs import training_runner
from nimbus.services.sagemaker.training_jobs import check_training_request
from nimbus.services.sagemaker.tuning.records import (
    TUNING_JOBS,
    best_trial,
    counters,
    objective,
    training_definition,
    trial_summary,
    trials,
)
from nimbus.services.sagemaker.tuning.runner import training_request, tuning_runner
from nimbus.services.sagemaker.tuning.search_space import InvalidRange, search_space
from nimbus.services.sagemaker.tuning.strategies import hyperband_resources

DEFAULT_PAGE_SIZE = 10
FINAL = ("Completed", "Failed", "Stopped")


def _key(ctx: RequestContext, name: str) -> JobKey:
    return ctx.caller.account_id, ctx.region, name


def _missing(name: str) -> Exception:
    return resource_not_found(f"Amazon SageMaker can't find a tuning job with name {name}")


@sagemaker.operation
def create_hyper_parameter_tuning_job(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """One training job definition (TrainingJobDefinition, or TrainingJobDefinitions with one entry);
    no Autotune and no convergence detection. MaxParallelTrainingJobs is capped by this machine's CPUs
    (DescribeHyperParameterTuningJob's ResourceLimits says what the job runs with). The Bayesian
    strategy is Optuna's TPE sampler; early stopping (Auto) is the median stopping rule; Hyperband's
    resource is the number of objective values a training job has printed. Without
    MaxNumberOfTrainingJobs a job launches at most 500 (Grid: one per combination)."""
    runner = tuning_runner(ctx.storage)
    request = _with_capped_parallelism(request, training_runner(ctx.storage).cpus)
    _check(request)
    _check_warm_start(ctx, request)
    key = _key(ctx, request["HyperParameterTuningJobName"])
    TUNING_JOBS.insert(ctx.storage, key, ctx.caller.arn, request, not_improving=0)
    runner.submit(key)
    return {"HyperParameterTuningJobArn": TUNING_JOBS.arn(key)}


def _with_capped_parallelism(request: dict[str, Any], cpus: int) -> dict[str, Any]:
    config = request["HyperParameterTuningJobConfig"]
    limits = config["ResourceLimits"]
    capped = {**limits, "MaxParallelTrainingJobs": min(limits["MaxParallelTrainingJobs"], cpus)}
    return {**request, "HyperParameterTuningJobConfig": {**config, "ResourceLimits": capped}}


def _check(request: dict[str, Any]) -> None:
    """What SageMaker refuses, and what Nimbus cannot run, is refused before anything is stored."""
    config = request["HyperParameterTuningJobConfig"]
    definitions = request.get("TrainingJobDefinitions") or []
    if ("TrainingJobDefinition" in request) == bool(definitions):
        raise validation_error("Give exactly one of TrainingJobDefinition and TrainingJobDefinitions.")
    if len(definitions) > 1:
        raise validation_error("Nimbus tunes one training job definition per tuning job.")
    if request.get("Autotune"):
        raise validation_error("Nimbus does not run Autotune: give the strategy, ranges and limits.")
    definition = training_definition(request)
    if not (definition.get("TuningObjective") or config.get("HyperParameterTuningJobObjective")):
        raise validation_error("HyperParameterTuningJobObjective is required.")
    ranges = definition.get("HyperParameterRanges") or config.get("ParameterRanges")
    if not ranges:
        raise validation_error("ParameterRanges is required.")
    try:
        parameters = search_space(ranges)
    except InvalidRange as error:
        raise validation_error(str(error)) from None
    static = definition.get("StaticHyperParameters") or {}
    both = sorted({parameter.name for parameter in parameters} & set(static))
    if both:
        raise validation_error(f"The hyperparameter {both[0]} is both static and tuned.")
    _check_strategy(config, ranges, static)
    metric = objective(request)["MetricName"]
    _check_metric(definition, metric)
    check_training_request(training_request(definition, "check", {}, metric))


def _check_strategy(config: dict[str, Any], ranges: dict[str, Any], static: dict[str, str]) -> None:
    strategy = config["Strategy"]
    numeric = ranges.get("IntegerParameterRanges") or ranges.get("ContinuousParameterRanges")
    if strategy == "Grid" and numeric:
        raise validation_error("The Grid strategy searches categorical ranges only.")
    if config.get("StrategyConfig") and strategy != "Hyperband":
        raise validation_error("StrategyConfig is for the Hyperband strategy only.")
    if strategy == "Hyperband":
        if config.get("TrainingJobEarlyStoppingType", "Off") != "Off":
            raise validation_error(
                "TrainingJobEarlyStoppingType must be Off with Hyperband: it stops weak jobs itself."
            )
        try:
            hyperband_resources(config, static)
        except ValueError as error:
            raise validation_error(str(error)) from None
    convergence = (config.get("TuningJobCompletionCriteria") or {}).get("ConvergenceDetected") or {}
    if convergence.get("CompleteOnConvergence") == "Enabled":
        raise validation_error("Nimbus does not detect convergence: CompleteOnConvergence must be Disabled.")


def _check_metric(definition: dict[str, Any], metric: str) -> None:
    """The objective must be a metric the training jobs print: one of the MetricDefinitions, or one
    of a built-in algorithm's ``<channel>:<metric>``."""
    algorithm = definition["AlgorithmSpecification"]
    runtime = training_runtime(algorithm, definition.get("StaticHyperParameters") or {})
    names = [item["Name"] for item in algorithm.get("MetricDefinitions") or []]
    if runtime.metric_pattern is None and metric not in names:
        raise validation_error(
            f"The objective metric {metric} is not among the MetricDefinitions "
            f"({', '.join(names) or 'none'})."
        )
    if runtime.metric_pattern is not None and not metric.partition(":")[2]:
        raise validation_error(
            f"The objective metric {metric} is not one the {runtime.name} algorithm emits: "
            "name it <channel>:<metric>, such as validation:rmse."
        )


def _check_warm_start(ctx: RequestContext, request: dict[str, Any]) -> None:
    warm = request.get("WarmStartConfig")
    if not warm:
        return
    if request["HyperParameterTuningJobConfig"]["Strategy"] == "Grid":
        raise validation_error("The Grid strategy cannot warm start.")
    metric = objective(request)
    definition = training_definition(request)
    for parent in warm["ParentHyperParameterTuningJobs"]:
        name = parent["HyperParameterTuningJobName"]
        job = TUNING_JOBS.find(ctx.storage, _key(ctx, name))
        if job is None:
            raise _missing(name)
        if job.status not in FINAL:
            raise validation_error(f"The parent tuning job {name} is {job.status}: it must have ended.")
        if objective(job.request) != metric:
            raise validation_error(f"The parent tuning job {name} has another objective metric.")
        if warm["WarmStartType"] == "IdenticalDataAndAlgorithm" and not _same_data_and_algorithm(
            training_definition(job.request), definition
        ):
            raise validation_error(
                f"IdenticalDataAndAlgorithm: the parent tuning job {name} used another training image or "
                "other input data."
            )


def _same_data_and_algorithm(parent: dict[str, Any], child: dict[str, Any]) -> bool:
    def sources(definition: dict[str, Any]) -> list[Any]:
        return [(c["ChannelName"], c["DataSource"]) for c in definition.get("InputDataConfig") or []]

    image = "TrainingImage"
    return parent["AlgorithmSpecification"].get(image) == child["AlgorithmSpecification"].get(
        image
    ) and sorted(sources(parent), key=str) == sorted(sources(child), key=str)


@sagemaker.operation
def describe_hyper_parameter_tuning_job(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """TuningJobCompletionDetails has no ConvergenceDetectedTime (Nimbus detects no convergence);
    ConsumedResources is the job's wall time."""
    tuning_runner(ctx.storage)
    key = _key(ctx, request["HyperParameterTuningJobName"])
    job = TUNING_JOBS.find(ctx.storage, key)
    if job is None:
        raise _missing(key[2])
    rows = trials(ctx.storage, key)
    metric = objective(job.request)
    output: dict[str, Any] = {
        name: job.request[name]
        for name in ("HyperParameterTuningJobConfig", "TrainingJobDefinition", "TrainingJobDefinitions")
        if name in job.request
    }
    ended = job.tuning_end or datetime.now(UTC)
    output.update(
        {
            "HyperParameterTuningJobName": job.name,
            "HyperParameterTuningJobArn": TUNING_JOBS.arn(key),
            "HyperParameterTuningJobStatus": job.status,
            "CreationTime": job.created_at,
            "LastModifiedTime": job.last_modified,
            **counters(rows),
            "TuningJobCompletionDetails": {"NumberOfTrainingJobsObjectiveNotImproving": job.not_improving},
            "ConsumedResources": {"RuntimeInSeconds": int((ended - job.created_at).total_seconds())},
        }
    )
    best = best_trial(rows, metric)
    optional: dict[str, Any] = {
        "HyperParameterTuningEndTime": job.tuning_end,
        "FailureReason": job.failure_reason,
        "BestTrainingJob": trial_summary(best, metric) if best is not None else None,
        "WarmStartConfig": job.request.get("WarmStartConfig"),
    }
    if job.request.get("WarmStartConfig"):
        overall = best_trial(rows + _parent_trials(ctx, job.request), metric)
        optional["OverallBestTrainingJob"] = trial_summary(overall, metric) if overall is not None else None
    output.update({name: value for name, value in optional.items() if value is not None})
    return output


def _parent_trials(ctx: RequestContext, request: dict[str, Any]) -> list[Row[Any]]:
    parents = request["WarmStartConfig"]["ParentHyperParameterTuningJobs"]
    return [
        row
        for parent in parents
        for row in trials(ctx.storage, _key(ctx, parent["HyperParameterTuningJobName"]))
    ]


@sagemaker.operation
def list_hyper_parameter_tuning_jobs(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    tuning_runner(ctx.storage)
    ordered = {"SortBy": "Name", "SortOrder": "Ascending", **request}

    def summary(job: Row[Any]) -> dict[str, Any]:
        key = (job.account_id, job.region, job.name)
        config = job.request["HyperParameterTuningJobConfig"]
        found: dict[str, Any] = {
            "HyperParameterTuningJobName": job.name,
            "HyperParameterTuningJobArn": TUNING_JOBS.arn(key),
            "HyperParameterTuningJobStatus": job.status,
            "Strategy": config["Strategy"],
            "CreationTime": job.created_at,
            "LastModifiedTime": job.last_modified,
            **counters(trials(ctx.storage, key)),
            "ResourceLimits": config["ResourceLimits"],
        }
        return found | ({"HyperParameterTuningEndTime": job.tuning_end} if job.tuning_end else {})

    return list_jobs(ctx, TUNING_JOBS.table, ordered, summary, "HyperParameterTuningJobSummaries")


@sagemaker.operation
def list_training_jobs_for_hyper_parameter_tuning_job(
    ctx: RequestContext, request: dict[str, Any]
) -> dict[str, Any]:
    tuning_runner(ctx.storage)
    key = _key(ctx, request["HyperParameterTuningJobName"])
    job = TUNING_JOBS.find(ctx.storage, key)
    if job is None:
        raise _missing(key[2])
    metric = objective(job.request)
    rows = trials(ctx.storage, key)
    if request.get("StatusEquals"):
        rows = [row for row in rows if row.status == request["StatusEquals"]]
    sort_by = request.get("SortBy") or "Name"
    if sort_by == "FinalObjectiveMetricValue":
        rows = [row for row in rows if row.objective_value is not None]
    column = {
        "Name": "training_job",
        "CreationTime": "created_at",
        "Status": "status",
        "FinalObjectiveMetricValue": "objective_value",
    }[sort_by]
    rows.sort(key=lambda row: (getattr(row, column), row.training_job))
    if request.get("SortOrder") == "Descending":
        rows.reverse()
    offset = token_offset(request.get("NextToken"))
    size = request.get("MaxResults") or DEFAULT_PAGE_SIZE
    output: dict[str, Any] = {
        "TrainingJobSummaries": [trial_summary(row, metric) for row in rows[offset : offset + size]]
    }
    if len(rows) > offset + size:
        output["NextToken"] = offset_token(offset + size)
    return output


@sagemaker.operation
def stop_hyper_parameter_tuning_job(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """The running training jobs are stopped as StopTrainingJob stops them; the tuning job is Stopped
    once they all have."""
    runner = tuning_runner(ctx.storage)
    key = _key(ctx, request["HyperParameterTuningJobName"])
    job = TUNING_JOBS.find(ctx.storage, key)
    if job is None:
        raise _missing(key[2])
    if not TUNING_JOBS.move(ctx.storage, key, "Stopping"):
        raise validation_error(
            f"The hyperparameter tuning job {job.name} is in status {job.status}; only InProgress jobs "
            "can be stopped."
        )
    runner.stop(key)
    return {}


# At start, tuning jobs a restart interrupted are marked Failed (Stopped when they were being stopped).
sagemaker.on_startup(tuning_runner)
