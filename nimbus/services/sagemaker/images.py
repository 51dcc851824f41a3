"""Which container images Nimbus can run: an image URI names a built-in algorithm's runtime."""

from __future__ import annotations

import re
from dataclasses import dataclass

from nimbus.errors import AwsError

# what sagemaker.image_uris.retrieve("xgboost", <region>, "1.7-1") returns, in any account and region
_XGBOOST = re.compile(
    r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/sagemaker-xgboost:(?P<version>1\.7-1)(-cpu-py3)?$"
)
RUNNABLE = (
    "the SageMaker XGBoost 1.7-1 algorithm image "
    "(<account>.dkr.ecr.<region>.amazonaws.com/sagemaker-xgboost:1.7-1)"
)


@dataclass(frozen=True)
class Runtime:
    """How to run an image: the command inside the sandbox, and how its log lines carry metrics."""

    name: str
    command: tuple[str, ...]
    metric_pattern: re.Pattern[str]  # groups: channel, metric, value

    def metrics(self, line: str) -> dict[str, float]:
        """``train:rmse`` style names (as the algorithm's MetricDefinitions call them) and values."""
        return {
            f"{m['channel']}:{m['metric']}": float(m["value"]) for m in self.metric_pattern.finditer(line)
        }


XGBOOST = Runtime(
    name="xgboost",
    command=("python", "-m", "nimbus.engines.learn.xgboost_algorithm"),
    metric_pattern=re.compile(
        r"#011(?P<channel>\w+)-(?P<metric>[\w@:.\-]+?):(?P<value>[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?|nan|inf)"
    ),
)


def runtime_for(image: str) -> Runtime:
    """The runtime for a training image URI, or a ValidationException naming what Nimbus can run."""
    if _XGBOOST.match(image):
        return XGBOOST
    raise AwsError(
        "ValidationException",
        f"Nimbus cannot run the training image {image!r}: it runs {RUNNABLE}.",
        400,
    )
