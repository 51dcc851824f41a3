"""SageMaker's tuning strategies as Optuna studies (Optuna is pinned in pyproject.toml):

- Bayesian: Optuna's Tree-structured Parzen Estimator, after a few random draws; with parallel
  training jobs, the draws in flight count as "constant liars" so the parallel jobs try different
  values;
- Random: independent uniform draws (on each range's scale);
- Grid: every combination of the categorical values, each once;
- Hyperband: random draws, with Optuna's Hyperband pruner stopping weak training jobs early from
  the objective values they print (one value = one unit of resource, such as an epoch).

``TrainingJobEarlyStoppingType: Auto`` stops a training job whose objective is worse than the median
of the earlier jobs' at the same step (Optuna's median pruner), as AWS documents its early stopping.
Warm start adds a parent job's finished trials to the study, so the optimiser starts from them.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from nimbus.services.sagemaker.tuning.search_space import Parameter

if TYPE_CHECKING:  # Optuna takes seconds to import: loaded when a tuning job runs
    import optuna
    from optuna.pruners import BasePruner
    from optuna.samplers import BaseSampler

BAYESIAN_RANDOM_DRAWS = 10  # at most; at most half the budget for small ones
EARLY_STOPPING_STARTUP_JOBS = 3  # jobs that run to the end before early stopping compares with them
EPOCH_HYPERPARAMETERS = ("epochs", "numepochs", "n-epochs", "n_epochs", "num_epochs")


def grid_size(parameters: list[Parameter]) -> int:
    return math.prod(len(parameter.distribution.choices) for parameter in parameters)  # type: ignore[attr-defined]


def hyperband_resources(config: dict[str, Any], static: dict[str, str]) -> tuple[int, int]:
    """(MinResource, MaxResource); MaxResource from the static epoch hyperparameter when not given,
    as AWS infers it. ValueError when neither says it."""
    given = (config.get("StrategyConfig") or {}).get("HyperbandStrategyConfig") or {}
    low = given.get("MinResource", 1)
    high = given.get("MaxResource")
    for name in EPOCH_HYPERPARAMETERS:
        if high is None and name in static:
            try:
                high = int(static[name])
            except ValueError:
                continue
    if high is None:
        raise ValueError(
            "Hyperband needs StrategyConfig.HyperbandStrategyConfig.MaxResource, or a static "
            f"hyperparameter it can take it from ({', '.join(EPOCH_HYPERPARAMETERS)})."
        )
    if high < low:
        raise ValueError(f"MaxResource ({high}) must not be less than MinResource ({low}).")
    return low, high


def make_study(
    config: dict[str, Any],
    metric: dict[str, str],
    parameters: list[Parameter],
    static: dict[str, str],
    budget: int,
    parallel: int,
) -> optuna.Study:
    """The study of a tuning job's config; ``metric`` is its objective ({Type, MetricName})."""
    import optuna
    from optuna.pruners import HyperbandPruner, MedianPruner, NopPruner
    from optuna.samplers import GridSampler, RandomSampler, TPESampler

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    direction = "maximize" if metric["Type"] == "Maximize" else "minimize"
    seed = config.get("RandomSeed")
    strategy = config["Strategy"]
    sampler: BaseSampler
    pruner: BasePruner = NopPruner()
    if strategy == "Bayesian":
        startup = max(1, min(BAYESIAN_RANDOM_DRAWS, budget // 2))
        sampler = TPESampler(seed=seed, n_startup_trials=startup, constant_liar=parallel > 1)
    elif strategy == "Grid":
        grid = {parameter.name: _choices(parameter) for parameter in parameters}
        sampler = GridSampler(grid, seed=seed)
    else:
        sampler = RandomSampler(seed=seed)
    if strategy == "Hyperband":
        low, high = hyperband_resources(config, static)
        pruner = HyperbandPruner(min_resource=low, max_resource=high)
    elif config.get("TrainingJobEarlyStoppingType") == "Auto":
        pruner = MedianPruner(n_startup_trials=EARLY_STOPPING_STARTUP_JOBS, n_warmup_steps=1)
    return optuna.create_study(direction=direction, sampler=sampler, pruner=pruner)


def _choices(parameter: Parameter) -> list[Any]:
    from optuna.distributions import CategoricalDistribution

    assert isinstance(parameter.distribution, CategoricalDistribution)
    return list(parameter.distribution.choices)


def add_parent_trial(
    study: optuna.Study, parameters: list[Parameter], hyperparameters: dict[str, str], value: float
) -> bool:
    """Adds a parent job's finished trial to the study; False when one of its values is outside this
    job's ranges (a transfer-learning parent may have searched elsewhere)."""
    drawn = {
        parameter.name: parameter.drawn(hyperparameters.get(parameter.name, "")) for parameter in parameters
    }
    if any(value is None for value in drawn.values()):
        return False
    import optuna

    study.add_trial(
        optuna.trial.create_trial(
            params=drawn,
            distributions={parameter.name: parameter.distribution for parameter in parameters},
            value=value,
        )
    )
    return True
