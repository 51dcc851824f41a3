"""The tuning runner: a thread of the server process per tuning job. It asks the job's Optuna study for
hyperparameter values, launches each set as a training job (``<tuning job>-<NNN>-<hex>``) through the
training runner, keeps at most MaxParallelTrainingJobs of them running, feeds the objective values
they print to the study (early stopping stops the weak ones), reads each finished job's final
objective from its FinalMetricDataList, and ends when the budget, a completion criterion, the time
limit or StopHyperParameterTuningJob says so.

At start, tuning jobs an earlier Nimbus process left running are failed (their training jobs are).
"""

from __future__ import annotations

import queue
import secrets
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nimbus.engines.learn.builtin_io import TUNING_OBJECTIVE_METRIC
from nimbus.services.job_runners import RunnerPerStorage
from nimbus.services.leases import LeasedStops
from nimbus.services.sagemaker.job_records import find_job, insert_job
from nimbus.services.sagemaker.job_table import JobKey
from nimbus.services.sagemaker.jobs import TrainingRunner, training_runner
from nimbus.services.sagemaker.tuning.records import (
    TUNING_JOBS,
    better,
    insert_trial,
    objective,
    set_not_improving,
    settle_trial,
    training_definition,
    trials,
)
from nimbus.services.sagemaker.tuning.search_space import Parameter, search_space
from nimbus.services.sagemaker.tuning.strategies import add_parent_trial, grid_size, make_study
from nimbus.storage import Storage

if TYPE_CHECKING:
    import optuna

POLL_S = 0.25
DEFAULT_MAX_JOBS = 500
# members of a training job definition that each training job gets as they are
COPIED = (
    "RoleArn",
    "InputDataConfig",
    "VpcConfig",
    "OutputDataConfig",
    "ResourceConfig",
    "StoppingCondition",
    "EnableNetworkIsolation",
    "EnableInterContainerTrafficEncryption",
    "EnableManagedSpotTraining",
    "CheckpointConfig",
    "RetryStrategy",
    "Environment",
)


@dataclass
class Running:
    """A launched training job the search still waits for."""

    trial: optuna.Trial
    steps: int = 0  # objective values it has printed
    pruned: bool = False


class TuningRunner:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._stops = LeasedStops(storage, TUNING_JOBS.lease_kind)  # stops asked on any node reach it

    def submit(self, key: JobKey) -> None:
        self._stops.start(key)
        threading.Thread(target=self._run, args=(key,), name=f"tuning-{key[2]}", daemon=True).start()

    def stop(self, key: JobKey) -> None:
        self._stops.stop(key)

    def _run(self, key: JobKey) -> None:
        try:
            Search(self.storage, key, self._stops[key]).run()
        except Exception as error:  # a bug in Nimbus must still end the job, never leave it running
            TUNING_JOBS.move(
                self.storage, key, "Failed", failure_reason=f"InternalServerError: {error!r}"[:1024]
            )
        finally:
            self._stops.finish(key)


class Search:
    """One tuning job's search, from its first training job to its end."""

    def __init__(self, storage: Storage, key: JobKey, stop: threading.Event) -> None:
        job = TUNING_JOBS.find(storage, key)
        assert job is not None
        self.storage, self.key, self.stop, self.job = storage, key, stop, job
        request: dict[str, Any] = job.request
        self.config = request["HyperParameterTuningJobConfig"]
        self.definition = training_definition(request)
        self.metric = objective(request)
        self.parameters = search_space(
            self.definition.get("HyperParameterRanges") or self.config["ParameterRanges"]
        )
        limits = self.config["ResourceLimits"]
        self.parallel = limits["MaxParallelTrainingJobs"]
        self.budget = training_budget(self.config, self.parameters)
        runtime = limits.get("MaxRuntimeInSeconds")
        self.deadline = time.monotonic() + runtime if runtime else None
        static = self.definition.get("StaticHyperParameters") or {}
        self.study = make_study(self.config, self.metric, self.parameters, static, self.budget, self.parallel)
        self.training: TrainingRunner = training_runner(storage)
        self.printed: queue.Queue[tuple[str, float]] = queue.Queue()
        self.running: dict[str, Running] = {}
        self.launched = 0
        self.best: float | None = None
        self.not_improving = 0

    def run(self) -> None:
        self._warm_start()
        ending: str | None = None
        while True:
            self._feed_printed_values()
            self._collect_finished()
            if ending is None:
                ending = self._ending()
                if ending is not None and ending != "Completed-let-finish":
                    for name in list(self.running):
                        self.training.stop(self._training_key(name))
            while ending is None and len(self.running) < self.parallel and self.launched < self.budget:
                self._launch()
            if not self.running and (ending is not None or self.launched >= self.budget):
                break
            time.sleep(POLL_S)
        TUNING_JOBS.move(self.storage, self.key, "Stopped" if ending == "Stopped" else "Completed")

    def _ending(self) -> str | None:
        """Why the search ends now: "Stopped" (asked to stop), "Completed" (time limit: running jobs
        stop), "Completed-let-finish" (a completion criterion: running jobs finish), or None."""
        if self.stop.is_set():
            return "Stopped"
        if self.deadline is not None and time.monotonic() > self.deadline:
            return "Completed"
        criteria = self.config.get("TuningJobCompletionCriteria") or {}
        target = criteria.get("TargetObjectiveMetricValue")
        if target is not None and self.best is not None and not better(target, self.best, self.metric):
            return "Completed-let-finish"
        patience = (criteria.get("BestObjectiveNotImproving") or {}).get(
            "MaxNumberOfTrainingJobsNotImproving"
        )
        if patience is not None and self.not_improving >= patience:
            return "Completed-let-finish"
        return None

    def _training_key(self, name: str) -> JobKey:
        return self.key[0], self.key[1], name

    def _launch(self) -> None:
        trial = self.study.ask({parameter.name: parameter.distribution for parameter in self.parameters})
        tuned = {
            parameter.name: parameter.hyperparameter(trial.params[parameter.name])
            for parameter in self.parameters
        }
        self.launched += 1
        name = f"{self.key[2]}-{self.launched:03d}-{secrets.token_hex(4)}"
        insert_job(
            self.storage,
            self._training_key(name),
            self.job.caller_arn,
            training_request(self.definition, name, tuned, self.metric["MetricName"])
            | {"Tags": self.job.request.get("Tags") or []},
            TUNING_JOBS.arn(self.key),
        )
        insert_trial(self.storage, self.key, name, self.launched, tuned)
        self.running[name] = Running(trial)
        self.training.submit(self._training_key(name), lambda found, job=name: self._printed(job, found))

    def _printed(self, name: str, found: dict[str, float]) -> None:
        """Called from the training job's thread with each line's metrics."""
        if self.metric["MetricName"] in found:
            self.printed.put((name, found[self.metric["MetricName"]]))

    def _feed_printed_values(self) -> None:
        """Reports each printed objective value to the study as the next step; early stopping may
        stop the job now."""
        while True:
            try:
                name, value = self.printed.get_nowait()
            except queue.Empty:
                return
            running = self.running.get(name)
            if running is None or running.pruned:
                continue
            running.steps += 1
            running.trial.report(value, running.steps)
            if running.trial.should_prune():
                running.pruned = True
                self.training.stop(self._training_key(name))

    def _collect_finished(self) -> None:
        from optuna.trial import TrialState  # Optuna takes seconds to import: not at start

        for name, running in list(self.running.items()):
            job = find_job(self.storage, self._training_key(name))
            if job is None or job.status in ("InProgress", "Stopping"):
                continue
            del self.running[name]
            values = [m["Value"] for m in job.final_metrics if m["MetricName"] == self.metric["MetricName"]]
            value = values[-1] if values else None
            settle_trial(self.storage, self.key, name, value)
            if running.pruned:
                self.study.tell(running.trial, state=TrialState.PRUNED)
            elif value is None or job.status == "Failed":
                self.study.tell(running.trial, state=TrialState.FAIL)
            else:
                self.study.tell(running.trial, value)
            self._count_improvement(value if job.status == "Completed" else None)

    def _count_improvement(self, value: float | None) -> None:
        if value is not None and better(value, self.best, self.metric):
            self.best, self.not_improving = value, 0
        else:
            self.not_improving += 1
        set_not_improving(self.storage, self.key, self.not_improving)

    def _warm_start(self) -> None:
        """Each parent's trials with an objective join the study, and its best counts as the best so far."""
        warm = self.job.request.get("WarmStartConfig")
        if not warm:
            return
        for parent in warm["ParentHyperParameterTuningJobs"]:
            key = (self.key[0], self.key[1], parent["HyperParameterTuningJobName"])
            for trial in trials(self.storage, key):
                if trial.objective_value is None:
                    continue
                static = parent_static(self.storage, key)
                add_parent_trial(
                    self.study, self.parameters, static | trial.tuned_hyperparameters, trial.objective_value
                )
                if trial.status == "Completed" and better(trial.objective_value, self.best, self.metric):
                    self.best = trial.objective_value


def parent_static(storage: Storage, key: JobKey) -> dict[str, str]:
    parent = TUNING_JOBS.find(storage, key)
    assert parent is not None  # checked at creation
    return dict(training_definition(parent.request).get("StaticHyperParameters") or {})


def training_budget(config: dict[str, Any], parameters: list[Parameter]) -> int:
    """How many training jobs the search launches at most: MaxNumberOfTrainingJobs (500 when not
    given), and for Grid no more than the grid has points."""
    limit = config["ResourceLimits"].get("MaxNumberOfTrainingJobs") or DEFAULT_MAX_JOBS
    return min(limit, grid_size(parameters)) if config["Strategy"] == "Grid" else limit


def training_request(
    definition: dict[str, Any], name: str, tuned: dict[str, str], metric: str
) -> dict[str, Any]:
    """The CreateTrainingJob request of one trial: the definition's static hyperparameters, the tuned
    values and the objective metric's name (``_tuning_objective_metric``, as AWS adds it)."""
    algorithm = definition["AlgorithmSpecification"]
    request: dict[str, Any] = {name: definition[name] for name in COPIED if name in definition}
    request.update(
        {
            "TrainingJobName": name,
            "HyperParameters": {
                **(definition.get("StaticHyperParameters") or {}),
                **tuned,
                TUNING_OBJECTIVE_METRIC: metric,
            },
            "AlgorithmSpecification": {
                key: algorithm[key]
                for key in ("TrainingImage", "TrainingInputMode", "MetricDefinitions")
                if key in algorithm
            },
        }
    )
    if "ResourceConfig" not in request:
        resources = definition.get("HyperParameterTuningResourceConfig") or {}
        request["ResourceConfig"] = {
            "InstanceType": resources.get("InstanceType", "ml.m5.large"),
            "InstanceCount": resources.get("InstanceCount", 1),
            "VolumeSizeInGB": resources.get("VolumeSizeInGB", 30),
        }
    return request


tuning_runner: RunnerPerStorage[TuningRunner] = RunnerPerStorage(
    TuningRunner, TUNING_JOBS.fail_interrupted, leased=True
)
"""This process's TuningRunner for a storage, made on first use after interrupted tuning jobs failed."""
