"""Ground Truth's built-in task types: which of AWS's pre-annotation and consolidation Lambda ARNs
name each, what a worker's answer holds (the answerContent of AWS's worker task templates), and the
output manifest's ``<label-attribute-name>`` and ``-metadata`` members AWS writes for it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nimbus.services.sagemaker.labeling import consolidation
from nimbus.services.sagemaker.labeling.consolidation import Box

# the accounts of AWS's built-in Ground Truth Lambdas, by region (CreateLabelingJob's
# PreHumanTaskLambdaArn and AnnotationConsolidationLambdaArn documentation)
LAMBDA_ACCOUNTS = {
    "us-east-1": "432418664414",
    "us-east-2": "266458841044",
    "us-west-2": "081040173940",
    "ca-central-1": "918755190332",
    "eu-west-1": "568282634449",
    "eu-west-2": "487402164563",
    "eu-central-1": "203001061592",
    "ap-northeast-1": "477331159723",
    "ap-northeast-2": "845288260483",
    "ap-south-1": "565803892007",
    "ap-southeast-1": "377565633583",
    "ap-southeast-2": "454466003867",
}

Answer = dict[str, Any]
Output = tuple[Any, dict[str, Any]]  # the label attribute's value, its metadata's own members


@dataclass(frozen=True)
class TaskType:
    name: str  # the Lambdas' name after PRE- / ACS-
    manifest_type: str  # the metadata's "type"
    is_image: bool  # its data objects are images (``source-ref``), not texts (``source`` or ``source-ref``)
    check: Callable[[Answer, list[str]], Answer]  # a worker's answerContent, checked; ValueError if bad
    output: Callable[[list[Answer], list[str], tuple[int, int, int] | None], Output]


def _label(value: Any, labels: list[str]) -> str:
    if value not in labels:
        raise ValueError(f"{value!r} is not one of the job's labels ({', '.join(labels)}).")
    return str(value)


def _member(answer: Answer, name: str) -> Any:
    if not isinstance(answer.get(name), dict):
        raise ValueError(f"The answer must be {{{name!r}: {{...}}}}, as the task's template answers.")
    return answer[name]


def _check_class(element: str) -> Callable[[Answer, list[str]], Answer]:
    def check(answer: Answer, labels: list[str]) -> Answer:
        return {element: {"label": _label(_member(answer, element).get("label"), labels)}}

    return check


def _classification(element: str) -> Callable[[list[Answer], list[str], Any], Output]:
    def output(answers: list[Answer], labels: list[str], _: Any) -> Output:
        name, confidence = consolidation.majority([answer[element]["label"] for answer in answers])
        return labels.index(name), {"class-name": name, "confidence": round(confidence, 2)}

    return output


MULTI_SELECT = "crowd-image-classifier-multi-select"


def _check_multi_label(answer: Answer, labels: list[str]) -> Answer:
    chosen = _member(answer, MULTI_SELECT).get("labels")
    if not isinstance(chosen, list):
        raise ValueError(f"{MULTI_SELECT}.labels must be a list of the job's labels.")
    return {MULTI_SELECT: {"labels": sorted({_label(label, labels) for label in chosen}, key=labels.index)}}


def _multi_label(answers: list[Answer], labels: list[str], _: Any) -> Output:
    kept = consolidation.label_sets([answer[MULTI_SELECT]["labels"] for answer in answers])
    ids = sorted(labels.index(label) for label in kept)
    return ids, {
        "class-map": {str(index): labels[index] for index in ids},
        "confidence-map": {str(index): round(kept[labels[index]], 2) for index in ids},
    }


def _number(box: dict[str, Any], name: str) -> float:
    value = box.get(name)
    if not isinstance(value, int | float) or value < 0:
        raise ValueError(f"Each bounding box needs {name} as a number of pixels (0 or more).")
    return float(value)


def _check_boxes(answer: Answer, labels: list[str]) -> Answer:
    drawn = _member(answer, "boundingBox").get("boundingBoxes")
    if not isinstance(drawn, list) or not all(isinstance(box, dict) for box in drawn):
        raise ValueError("boundingBox.boundingBoxes must be a list of {label, left, top, width, height}.")
    checked = []
    for box in drawn:
        sizes = {name: _number(box, name) for name in ("left", "top", "width", "height")}
        if sizes["width"] == 0 or sizes["height"] == 0:
            raise ValueError("A bounding box must be at least one pixel wide and high.")
        checked.append({"label": _label(box.get("label"), labels), **sizes})
    return {"boundingBox": {"boundingBoxes": checked}}


def _boxes(answers: list[Answer], labels: list[str], size: tuple[int, int, int] | None) -> Output:
    assert size is not None  # image tasks measure the image
    drawn = [[Box(**box) for box in answer["boundingBox"]["boundingBoxes"]] for answer in answers]
    kept = consolidation.boxes(drawn)
    width, height, depth = size
    annotations = [
        {
            "class_id": labels.index(box.label),
            "left": round(box.left),
            "top": round(box.top),
            "width": round(box.width),
            "height": round(box.height),
        }
        for box, _ in kept
    ]
    ids = sorted({labels.index(box.label) for box, _ in kept})
    value = {"image_size": [{"width": width, "height": height, "depth": depth}], "annotations": annotations}
    return value, {
        "objects": [{"confidence": confidence} for _, confidence in kept],
        "class-map": {str(index): labels[index] for index in ids},
    }


ENTITIES = "crowd-entity-annotation"


def _check_entities(answer: Answer, labels: list[str]) -> Answer:
    marked = _member(answer, ENTITIES).get("entities")
    if not isinstance(marked, list) or not all(isinstance(entity, dict) for entity in marked):
        raise ValueError(f"{ENTITIES}.entities must be a list of {{startOffset, endOffset, label}}.")
    checked = []
    for entity in marked:
        start, end = entity.get("startOffset"), entity.get("endOffset")
        if not isinstance(start, int) or not isinstance(end, int) or not 0 <= start < end:
            raise ValueError("Each entity needs startOffset < endOffset, character offsets in the text.")
        checked.append({"startOffset": start, "endOffset": end, "label": _label(entity.get("label"), labels)})
    return {ENTITIES: {"entities": checked}}


def _entities(answers: list[Answer], labels: list[str], _: Any) -> Output:
    marked = [
        [
            (entity["startOffset"], entity["endOffset"], entity["label"])
            for entity in answer[ENTITIES]["entities"]
        ]
        for answer in answers
    ]
    kept = consolidation.spans(marked)
    entities = [{"startOffset": start, "endOffset": end, "label": label} for (start, end, label), _ in kept]
    value = {"annotations": {"entities": entities, "labels": [{"label": label} for label in labels]}}
    return value, {"entities": [{"confidence": round(confidence, 2)} for _, confidence in kept]}


TASK_TYPES = {
    task.name: task
    for task in (
        TaskType(
            "ImageMultiClass",
            "groundtruth/image-classification",
            True,
            _check_class("crowd-image-classifier"),
            _classification("crowd-image-classifier"),
        ),
        TaskType(
            "ImageMultiClassMultiLabel",
            "groundtruth/image-classification-multilabel",
            True,
            _check_multi_label,
            _multi_label,
        ),
        TaskType("BoundingBox", "groundtruth/object-detection", True, _check_boxes, _boxes),
        TaskType(
            "TextMultiClass",
            "groundtruth/text-classification",
            False,
            _check_class("crowd-classifier"),
            _classification("crowd-classifier"),
        ),
        TaskType("NamedEntityRecognition", "groundtruth/text-span", False, _check_entities, _entities),
    )
}


def task_type_of(region: str, pre_lambda: str, consolidation_lambda: str) -> TaskType:
    """The built-in task type the two Lambda ARNs name; ValueError saying why when they name none."""
    account = LAMBDA_ACCOUNTS.get(region)
    if account is None:
        raise ValueError(f"Ground Truth's built-in task types are not offered in {region}.")
    prefix = f"arn:aws:lambda:{region}:{account}:function:"
    pre = _lambda_type("PreHumanTaskLambdaArn", pre_lambda, prefix + "PRE-")
    consolidating = _lambda_type("AnnotationConsolidationLambdaArn", consolidation_lambda, prefix + "ACS-")
    if pre != consolidating:
        raise ValueError(
            f"PreHumanTaskLambdaArn is for {pre} but AnnotationConsolidationLambdaArn is for {consolidating}."
        )
    return TASK_TYPES[pre]


def _lambda_type(member: str, arn: str, prefix: str) -> str:
    kind = arn.removeprefix(prefix)
    if not arn.startswith(prefix) or kind not in TASK_TYPES:
        raise ValueError(
            f"{member} {arn!r} is not one of the built-in task types' Lambdas ({prefix}<type>, the type "
            f"one of {', '.join(TASK_TYPES)}): Nimbus runs no custom Lambdas."
        )
    return kind
