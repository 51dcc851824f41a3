"""DetectCustomLabels: a RUNNING model version's labels for an image."""

from __future__ import annotations

from typing import Any

from nimbus.engines.vision import custom_labels as custom_label_engine
from nimbus.errors import AwsError
from nimbus.services.registry import RequestContext
from nimbus.services.rekognition import rekognition
from nimbus.services.rekognition.custom_labels.records import find_version
from nimbus.services.rekognition.custom_labels.versions import running_model
from nimbus.services.rekognition.images import load_image


@rekognition.operation
def detect_custom_labels(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Image-level labels only (no Geometry). Without MinConfidence, each label is given when its
    confidence reaches the label's assumed threshold (where its F1 score on the TEST images was
    highest, as in AWS; the summary file lists them)."""
    arn = request["ProjectVersionArn"]
    with ctx.storage.database.engine.connect() as connection:
        version = find_version(ctx, connection, arn)
    if version.status != "RUNNING":
        raise AwsError("ResourceNotReadyException", f"ProjectVersion arn: {arn} is not running", 400)
    image = load_image(ctx, request["Image"], custom_label_engine.LONGEST_SIDE)
    labels = running_model(ctx.storage, arn).predict(
        custom_label_engine.image_features(image), request.get("MinConfidence")
    )
    return {
        "CustomLabels": [
            {"Name": name, "Confidence": confidence}
            for name, confidence in labels[: request.get("MaxResults")]
        ]
    }
