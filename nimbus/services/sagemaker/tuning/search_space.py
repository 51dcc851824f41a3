"""A tuning job's ParameterRanges as Optuna distributions, with SageMaker's scaling types:

- Linear: values drawn uniformly between MinValue and MaxValue;
- Logarithmic: uniformly in log space (ranges above 0);
- ReverseLogarithmic: ``1 - x`` drawn in log space, dense near 1 (continuous ranges in [0, 1));
- Auto: Logarithmic for a continuous range above 0 spanning two orders of magnitude or more,
  Linear otherwise.

Every value reaches the training job as a string, as SageMaker passes hyperparameters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # Optuna takes seconds to import: loaded when a tuning job is created or runs
    from optuna.distributions import BaseDistribution

MAX_PARAMETERS = 30
AUTO_LOG_SPAN = 100.0  # max / min from which Auto scaling is Logarithmic


class InvalidRange(ValueError):
    """A range SageMaker refuses; the message says which and why."""


@dataclass(frozen=True)
class Parameter:
    """One tuned hyperparameter: the distribution the optimiser draws from, and how a drawn value
    becomes the hyperparameter's string (and back, for the trials of a parent tuning job)."""

    name: str
    distribution: BaseDistribution
    reverse: bool = False  # ReverseLogarithmic: the distribution draws 1 - value

    def hyperparameter(self, drawn: Any) -> str:
        from optuna.distributions import CategoricalDistribution, IntDistribution

        if isinstance(self.distribution, CategoricalDistribution):
            return str(drawn)
        if isinstance(self.distribution, IntDistribution):
            return str(int(drawn))
        return repr(float(1.0 - drawn if self.reverse else drawn))

    def drawn(self, value: str) -> Any | None:
        """The distribution's value for a hyperparameter string; None when it lies outside the range."""
        from optuna.distributions import CategoricalDistribution, IntDistribution

        distribution = self.distribution
        try:
            if isinstance(distribution, CategoricalDistribution):
                return value if value in distribution.choices else None
            number: float = int(value) if isinstance(distribution, IntDistribution) else float(value)
        except ValueError:
            return None
        number = 1.0 - number if self.reverse else number
        inside = distribution.low <= number <= distribution.high  # type: ignore[attr-defined]
        return number if inside else None


def search_space(ranges: dict[str, Any]) -> list[Parameter]:
    """The Parameters of a ParameterRanges structure; InvalidRange for what SageMaker refuses."""
    integers = ranges.get("IntegerParameterRanges") or []
    continuous = ranges.get("ContinuousParameterRanges") or []
    categorical = ranges.get("CategoricalParameterRanges") or []
    if ranges.get("AutoParameters"):
        raise InvalidRange("Nimbus does not run Autotune: AutoParameters are not supported.")
    parameters = [_integer(item) for item in integers]
    parameters += [_continuous(item) for item in continuous]
    parameters += [_categorical(item) for item in categorical]
    if not parameters:
        raise InvalidRange("ParameterRanges must hold at least one range to tune.")
    if len(parameters) > MAX_PARAMETERS:
        raise InvalidRange(f"A tuning job searches at most {MAX_PARAMETERS} hyperparameters.")
    names = [parameter.name for parameter in parameters]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise InvalidRange(f"Hyperparameter {repeated[0]} appears in more than one range.")
    return parameters


def _bounds(item: dict[str, Any], kind: type[float] | type[int]) -> tuple[Any, Any]:
    name = item["Name"]
    try:
        low, high = kind(item["MinValue"]), kind(item["MaxValue"])
    except ValueError:
        what = "integers" if kind is int else "numbers"
        raise InvalidRange(f"MinValue and MaxValue of {name} must be {what}.") from None
    if not (math.isfinite(low) and math.isfinite(high)):
        raise InvalidRange(f"MinValue and MaxValue of {name} must be finite.")
    if low > high:
        raise InvalidRange(f"MinValue of {name} ({low}) must not be greater than its MaxValue ({high}).")
    return low, high


def _integer(item: dict[str, Any]) -> Parameter:
    from optuna.distributions import IntDistribution

    low, high = _bounds(item, int)
    scaling = item.get("ScalingType") or "Auto"
    if scaling == "ReverseLogarithmic":
        raise InvalidRange(f"ReverseLogarithmic scaling is for continuous ranges only ({item['Name']}).")
    if scaling == "Logarithmic" and low <= 0:
        raise InvalidRange(f"Logarithmic scaling needs a range above 0 ({item['Name']}).")
    return Parameter(item["Name"], IntDistribution(low, high, log=scaling == "Logarithmic"))


def _continuous(item: dict[str, Any]) -> Parameter:
    from optuna.distributions import FloatDistribution

    low, high = _bounds(item, float)
    name, scaling = item["Name"], item.get("ScalingType") or "Auto"
    if scaling == "Auto":
        scaling = "Logarithmic" if low > 0 and high / low >= AUTO_LOG_SPAN else "Linear"
    if scaling == "Logarithmic":
        if low <= 0:
            raise InvalidRange(f"Logarithmic scaling needs a range above 0 ({name}).")
        return Parameter(name, FloatDistribution(low, high, log=True))
    if scaling == "ReverseLogarithmic":
        if low < 0 or high >= 1:
            raise InvalidRange(f"ReverseLogarithmic scaling needs a range within 0 <= x < 1 ({name}).")
        return Parameter(name, FloatDistribution(1.0 - high, 1.0 - low, log=True), reverse=True)
    return Parameter(name, FloatDistribution(low, high))


def _categorical(item: dict[str, Any]) -> Parameter:
    from optuna.distributions import CategoricalDistribution

    values = list(item.get("Values") or [])
    if not values:
        raise InvalidRange(f"The categorical range {item['Name']} needs at least one value.")
    if len(set(values)) != len(values):
        raise InvalidRange(f"The values of the categorical range {item['Name']} must be distinct.")
    return Parameter(item["Name"], CategoricalDistribution(values))
