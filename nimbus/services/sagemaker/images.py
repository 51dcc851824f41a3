"""Which container images Nimbus can run: an image URI names a built-in algorithm's runtime."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from nimbus.errors import AwsError

# what sagemaker.image_uris.retrieve("xgboost", <region>, "1.7-1") returns, in any account and region
_XGBOOST = re.compile(
    r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/sagemaker-xgboost:(?P<version>1\.7-1)(-cpu-py3)?$"
)
# what sagemaker.image_uris.retrieve("linear-learner" / "kmeans", <region>) returns
_BUILTIN = re.compile(
    r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/(?P<algorithm>linear-learner|kmeans):(1|latest)$"
)
RUNNABLE = (
    "the SageMaker XGBoost 1.7-1 algorithm image "
    "(<account>.dkr.ecr.<region>.amazonaws.com/sagemaker-xgboost:1.7-1), "
    "the Linear Learner image (<account>.dkr.ecr.<region>.amazonaws.com/linear-learner:1) "
    "and the K-Means image (<account>.dkr.ecr.<region>.amazonaws.com/kmeans:1)"
)


@dataclass(frozen=True)
class Runtime:
    """How to run an image: the command inside the sandbox, and how its log lines carry metrics."""

    name: str
    command: tuple[str, ...]
    metric_pattern: re.Pattern[str]  # groups: channel, metric, value
    # a printed metric's name -> its name in the algorithm's MetricDefinitions, where they differ
    renames: dict[str, str] = field(default_factory=dict)

    def metrics(self, line: str) -> dict[str, float]:
        """``train:rmse`` style names (as the algorithm's MetricDefinitions call them) and values."""
        return {
            f"{m['channel']}:{self.renames.get(m['metric'], m['metric'])}": float(m["value"])
            for m in self.metric_pattern.finditer(line)
        }


XGBOOST = Runtime(
    name="xgboost",
    command=("python", "-m", "nimbus.engines.learn.xgboost_algorithm"),
    metric_pattern=re.compile(
        r"#011(?P<channel>\w+)-(?P<metric>[\w@:.\-]+?):(?P<value>[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?|nan|inf)"
    ),
)


# "#quality_metric: host=algo-1, epoch=3, train msd <loss>=1.25", the epoch part optional
QUALITY_METRIC = re.compile(
    r"#quality_metric: host=\S+?,( epoch=\d+,)? (?P<channel>train|validation|test) (?P<metric>\w+) "
    r"<(loss|score)>=(?P<value>[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?|nan|inf)"
)
LINEAR_LEARNER = Runtime(
    name="linear-learner",
    command=("python", "-m", "nimbus.engines.learn.linear_learner_algorithm"),
    metric_pattern=QUALITY_METRIC,
    renames={
        "binary_classification_cross_entropy_objective": "objective_loss",
        "multiclass_cross_entropy_objective": "objective_loss",
        "squared_loss_objective": "objective_loss",
    },
)
KMEANS = Runtime(
    name="kmeans",
    command=("python", "-m", "nimbus.engines.learn.kmeans_algorithm"),
    metric_pattern=QUALITY_METRIC,
)
BUILTIN = {"linear-learner": LINEAR_LEARNER, "kmeans": KMEANS}


def runtime_for(image: str) -> Runtime:
    """The runtime for a training image URI, or a ValidationException naming what Nimbus can run."""
    if _XGBOOST.match(image):
        return XGBOOST
    builtin = _BUILTIN.match(image)
    if builtin:
        return BUILTIN[builtin["algorithm"]]
    raise AwsError(
        "ValidationException",
        f"Nimbus cannot run the training image {image!r}: it runs {RUNNABLE}.",
        400,
    )
