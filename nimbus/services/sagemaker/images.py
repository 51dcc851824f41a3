"""Which container images Nimbus can run: an image URI (as ``sagemaker.image_uris.retrieve`` gives it,
in any account and region) names a built-in algorithm or a framework that runs the user's script."""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass, field
from typing import Any

from nimbus.errors import AwsError

_IMAGE = re.compile(
    r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/(?P<repository>[a-z0-9._/-]+):(?P<tag>[\w.-]+)$"
)
# repository -> (family, the tags Nimbus runs)
_REPOSITORIES = {
    "sagemaker-xgboost": ("xgboost", re.compile(r"^1\.7-1(-cpu-py3)?$")),
    "linear-learner": ("linear-learner", re.compile(r"^(1|latest)$")),
    "kmeans": ("kmeans", re.compile(r"^(1|latest)$")),
    "pca": ("pca", re.compile(r"^(1|latest)$")),
    "knn": ("knn", re.compile(r"^(1|latest)$")),
    "randomcutforest": ("randomcutforest", re.compile(r"^(1|latest)$")),
    "sagemaker-scikit-learn": ("sklearn", re.compile(r"^\d+\.\d+-\d+(-cpu-py3)?$")),
    "pytorch-training": ("pytorch", re.compile(r"^\d+\.\d+(\.\d+)?-(cpu|gpu)-py\d+(-.+)?$")),
    "pytorch-inference": ("pytorch", re.compile(r"^\d+\.\d+(\.\d+)?-(cpu|gpu)-py\d+(-.+)?$")),
}
FRAMEWORKS = ("sklearn", "xgboost", "pytorch")
RUNNABLE = (
    "the built-in algorithm images sagemaker-xgboost:1.7-1, linear-learner:1, kmeans:1, pca:1, "
    "knn:1 and randomcutforest:1, "
    "and in script mode the framework images sagemaker-scikit-learn:<version>-cpu-py3, "
    "sagemaker-xgboost:1.7-1 and (where torch is installed) pytorch-training / pytorch-inference "
    "(<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>), "
    "and any image pushed to Nimbus's registry (see `nimbus env`), which runs in a container"
)
PROGRAM_HYPERPARAMETER = "sagemaker_program"
PROGRAM_VARIABLE = "SAGEMAKER_PROGRAM"


@dataclass(frozen=True)
class Runtime:
    """How to run a training image: the command inside the sandbox, and how its log lines carry
    metrics (a built-in's own lines, or the job's MetricDefinitions for a script)."""

    name: str
    command: tuple[str, ...]
    metric_pattern: re.Pattern[str] | None = None  # groups: channel, metric, value
    # a printed metric's name -> its name in the algorithm's MetricDefinitions, where they differ
    renames: dict[str, str] = field(default_factory=dict)
    definitions: tuple[tuple[str, re.Pattern[str]], ...] = ()

    def metrics(self, line: str) -> dict[str, float]:
        """Metric names (``train:rmse`` for a built-in, the definition's Name for a script) and values."""
        found: dict[str, float] = {}
        if self.metric_pattern is not None:
            found.update(
                {
                    f"{m['channel']}:{self.renames.get(m['metric'], m['metric'])}": float(m["value"])
                    for m in self.metric_pattern.finditer(line)
                }
            )
        for name, regex in self.definitions:
            match = regex.search(line)
            if match:
                try:
                    found[name] = float(match.group(1) if regex.groups else match.group(0))
                except ValueError:
                    continue  # the regex matched something that is not a number: no data point
        return found


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
PCA = Runtime(name="pca", command=("python", "-m", "nimbus.engines.learn.pca_algorithm"))
KNN = Runtime(
    name="knn",
    command=("python", "-m", "nimbus.engines.learn.knn_algorithm"),
    metric_pattern=QUALITY_METRIC,
)
RANDOM_CUT_FOREST = Runtime(
    name="randomcutforest",
    command=("python", "-m", "nimbus.engines.learn.rcf_algorithm"),
    metric_pattern=QUALITY_METRIC,
)
BUILTIN = {
    "xgboost": XGBOOST,
    "linear-learner": LINEAR_LEARNER,
    "kmeans": KMEANS,
    "pca": PCA,
    "knn": KNN,
    "randomcutforest": RANDOM_CUT_FOREST,
}
SCRIPT_COMMAND = ("python", "-m", "nimbus.engines.learn.script_mode")


def _refused(image: str, why: str) -> AwsError:
    return AwsError("ValidationException", f"Nimbus cannot run the image {image!r}: {why}", 400)


def image_family(image: str) -> str:
    """``xgboost``, ``sklearn``, ``kmeans``... for an image Nimbus runs; else a ValidationException
    naming the images it can."""
    match = _IMAGE.match(image)
    known = _REPOSITORIES.get(match["repository"].rsplit("/", 1)[-1]) if match else None
    if match is None or known is None or not known[1].match(match["tag"]):
        raise _refused(image, f"it runs {RUNNABLE}.")
    family = known[0]
    if family == "pytorch" and importlib.util.find_spec("torch") is None:
        raise _refused(image, "PyTorch is not installed in this Nimbus.")
    return family


def training_runtime(algorithm: dict[str, Any], hyperparameters: dict[str, str]) -> Runtime:
    """The runtime of a job's AlgorithmSpecification: its image's built-in algorithm, or script mode
    when the hyperparameters name the user's program (``sagemaker_program``)."""
    image = algorithm["TrainingImage"]
    family = image_family(image)
    definitions = algorithm.get("MetricDefinitions") or []
    if family in FRAMEWORKS and (family != "xgboost" or PROGRAM_HYPERPARAMETER in hyperparameters):
        if PROGRAM_HYPERPARAMETER not in hyperparameters:
            raise _refused(image, "script mode needs the sagemaker_program hyperparameter (the entry point).")
        return Runtime(
            name=f"{family}-script",
            command=SCRIPT_COMMAND,
            definitions=tuple((d["Name"], _metric_regex(d["Regex"])) for d in definitions),
        )
    if definitions:
        raise AwsError(
            "ValidationException",
            "MetricDefinitions cannot be given for a built-in algorithm: it reports its own metrics.",
            400,
        )
    return BUILTIN[family]


def image_runtime(algorithm: dict[str, Any]) -> Runtime:
    """The runtime of the user's own image: its container with ``train`` as argument (or the job's
    ContainerEntrypoint and ContainerArguments), metrics by the job's MetricDefinitions."""
    definitions = algorithm.get("MetricDefinitions") or []
    arguments = algorithm.get("ContainerArguments") or (
        [] if algorithm.get("ContainerEntrypoint") else ["train"]
    )
    return Runtime(
        name="container",
        command=tuple(arguments),
        definitions=tuple((d["Name"], _metric_regex(d["Regex"])) for d in definitions),
    )


def _metric_regex(regex: str) -> re.Pattern[str]:
    try:
        return re.compile(regex)
    except re.error as error:
        raise AwsError(
            "ValidationException", f"MetricDefinitions Regex {regex!r} is invalid: {error}", 400
        ) from None


def serving_framework(image: str, environment: dict[str, str]) -> str | None:
    """The framework whose handlers serve the user's inference script, or None for a built-in
    algorithm's model (the worker then tells the algorithm from the artifact's files)."""
    family = image_family(image)
    if family not in FRAMEWORKS or (family == "xgboost" and PROGRAM_VARIABLE not in environment):
        return None
    if family == "sklearn" and PROGRAM_VARIABLE not in environment:
        raise _refused(image, "the scikit-learn container needs SAGEMAKER_PROGRAM (the inference script).")
    return family
