"""Rekognition pages: the image lab (labels, faces, text, moderation drawn on the image), face
collections (index, search by image, delete), and Custom Labels projects with their evaluation."""

from __future__ import annotations

import base64
import io
import json
from dataclasses import asdict, dataclass, field
from typing import Any

import PIL.Image
from botocore.exceptions import ClientError
from starlette.responses import Response

from nimbus.console.web import ConsoleRequest, Done, Page, get, post, secured, url

PAGE_SIZE = 100
DEFAULT_MIN_CONFIDENCE = 50.0
SEARCH_THRESHOLD = 80.0
HEADER_BYTES = 64 * 1024
ANALYSES = {
    "labels": "Labels and objects",
    "faces": "Faces",
    "text": "Text",
    "moderation": "Moderation labels",
}


@dataclass
class Shape:
    """Something to draw on the image: a box, a polygon, points; coordinates are fractions of it."""

    kind: str  # label, face, text, match: how it is drawn
    label: str
    confidence: float
    box: dict[str, float] | None = None
    polygon: list[dict[str, float]] = field(default_factory=list)
    points: list[dict[str, float]] = field(default_factory=list)


@dataclass
class Picture:
    """The image a request names, as the API takes it and as the page shows it."""

    image: dict[str, Any]
    src: str
    name: str
    size: tuple[int, int] | None = None  # pixels (width, height), to crop faces from; None if unread


def _picture(ctx: ConsoleRequest, prefix: str = "") -> Picture:
    """The uploaded file, or else the S3 object named in the form (fields named with ``prefix``)."""
    chosen = ctx.upload(prefix + "image")
    if chosen is not None:
        name, content_type, body = chosen
        src = f"data:{content_type or 'image/jpeg'};base64,{base64.b64encode(body).decode()}"
        return Picture({"Bytes": body}, src, name, _pixel_size(body))
    bucket, key = ctx.field(prefix + "bucket").strip(), ctx.field(prefix + "key").strip()
    if not bucket or not key:
        raise ClientError(
            {
                "Error": {
                    "Code": "InvalidParameterException",
                    "Message": "Upload an image or name an S3 object.",
                }
            },
            "console",
        )
    s3 = ctx.client("s3")
    src = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=3600)
    try:  # JPEG and PNG say their size in their first bytes
        head = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{HEADER_BYTES - 1}")["Body"].read()
    except ClientError:
        head = b""  # Rekognition will say what is wrong with the object
    return Picture(
        {"S3Object": {"Bucket": bucket, "Name": key}}, src, f"s3://{bucket}/{key}", _pixel_size(head)
    )


def _pixel_size(head: bytes) -> tuple[int, int] | None:
    try:
        with PIL.Image.open(io.BytesIO(head)) as image:
            return image.size
    except (OSError, ValueError, PIL.Image.DecompressionBombError):
        return None


def lab(ctx: ConsoleRequest) -> Page:
    data = {"analyses": ANALYSES, "result": None, "comparison": None}
    return Page("rekognition_lab.html", data, title="Rekognition lab")


def analyze(ctx: ConsoleRequest) -> Page:
    analysis = ctx.field("analysis")
    if analysis not in ANALYSES:
        analysis = "labels"
    min_confidence = float(ctx.field("min_confidence") or DEFAULT_MIN_CONFIDENCE)
    picture = _picture(ctx)
    rekognition = ctx.client("rekognition")
    request: dict[str, Any] = {"Image": picture.image}
    if analysis == "labels":
        request["MinConfidence"] = min_confidence
        response = rekognition.detect_labels(**request)
        shapes = _label_shapes(response)
    elif analysis == "faces":
        request["Attributes"] = ["ALL"]
        response = rekognition.detect_faces(**request)
        shapes = _face_shapes(response.get("FaceDetails", []))
    elif analysis == "text":
        response = rekognition.detect_text(**request)
        shapes = _text_shapes(response)
    else:
        request["MinConfidence"] = min_confidence
        response = rekognition.detect_moderation_labels(**request)
        shapes = []
    response.pop("ResponseMetadata", None)
    shown_request = {**request, "Image": _shown(picture)}
    result = {
        "analysis": analysis,
        "image": picture.src,
        "name": picture.name,
        "min_confidence": min_confidence,
        "size": picture.size,
        "shapes": [asdict(shape) for shape in shapes],
        "request": shown_request,
        "response": response,
    }
    data = {"analyses": ANALYSES, "result": result, "comparison": None}
    return Page("rekognition_lab.html", data, title="Rekognition lab")


def _label_shapes(response: dict[str, Any]) -> list[Shape]:
    return [
        Shape("label", label["Name"], instance["Confidence"], box=instance["BoundingBox"])
        for label in response.get("Labels", [])
        for instance in label.get("Instances", [])
    ]


def _face_shapes(faces: list[dict[str, Any]]) -> list[Shape]:
    return [
        Shape(
            "face",
            f"face {number}",
            face["Confidence"],
            box=face["BoundingBox"],
            points=[{"X": mark["X"], "Y": mark["Y"]} for mark in face.get("Landmarks", [])],
        )
        for number, face in enumerate(faces, 1)
    ]


def _text_shapes(response: dict[str, Any]) -> list[Shape]:
    return [
        Shape("text", found["DetectedText"], found["Confidence"], polygon=found["Geometry"]["Polygon"])
        for found in response.get("TextDetections", [])
        if found["Type"] == "LINE"
    ]


def compare(ctx: ConsoleRequest) -> Page:
    """CompareFaces: the source's largest face and each face of the target, boxed and cropped
    from the images given here (Rekognition keeps no image to show a face from)."""
    source, target = _picture(ctx, "source_"), _picture(ctx, "target_")
    threshold = float(ctx.field("similarity") or SEARCH_THRESHOLD)
    response = ctx.client("rekognition").compare_faces(
        SourceImage=source.image, TargetImage=target.image, SimilarityThreshold=threshold
    )
    response.pop("ResponseMetadata", None)
    source_face = response.get("SourceImageFace", {})
    matches = [
        Shape("match", "similar", match["Similarity"], box=match["Face"]["BoundingBox"])
        for match in response.get("FaceMatches", [])
    ]
    unmatched = [
        Shape("face", "unmatched face", face["Confidence"], box=face["BoundingBox"])
        for face in response.get("UnmatchedFaces", [])
    ]
    comparison = {
        "source": asdict(source),
        "target": asdict(target),
        "source_shapes": [
            asdict(Shape("face", "source face", source_face["Confidence"], box=source_face["BoundingBox"]))
        ]
        if source_face
        else [],
        "target_shapes": [asdict(shape) for shape in matches + unmatched],
        "threshold": threshold,
        "request": {
            "SourceImage": _shown(source),
            "TargetImage": _shown(target),
            "SimilarityThreshold": threshold,
        },
        "response": response,
    }
    for picture in comparison["source"], comparison["target"]:
        picture.pop("image")  # the bytes: the page has them as its image's data URL
    data = {"analyses": ANALYSES, "result": None, "comparison": comparison}
    return Page("rekognition_lab.html", data, title="Rekognition lab")


def _shown(picture: Picture) -> dict[str, Any]:
    """An image as the request JSON shows it: an uploaded file by its name, not its bytes."""
    return {"Bytes": f"<{picture.name}>"} if "Bytes" in picture.image else picture.image


# ---- face collections -----------------------------------------------------------------------------


def collections(ctx: ConsoleRequest) -> Page:
    parameters: dict[str, Any] = {"MaxResults": PAGE_SIZE}
    if ctx.query("token"):
        parameters["NextToken"] = ctx.query("token")
    listed = ctx.client("rekognition").list_collections(**parameters)
    rows = zip(listed.get("CollectionIds", []), listed.get("FaceModelVersions", []), strict=False)
    data = {
        "collections": [{"CollectionId": cid, "FaceModelVersion": version} for cid, version in rows],
        "next": ctx.with_query(token=listed["NextToken"]) if listed.get("NextToken") else None,
    }
    return Page("rekognition_collections.html", data, title="Face collections")


def create_collection(ctx: ConsoleRequest) -> Done:
    collection = ctx.field("collection").strip()
    ctx.client("rekognition").create_collection(CollectionId=collection)
    return Done(url(f"/rekognition/collections/{collection}"), f"Collection {collection} created.")


def delete_collection(ctx: ConsoleRequest) -> Done:
    collection = ctx.path("collection")
    ctx.client("rekognition").delete_collection(CollectionId=collection)
    return Done(url("/rekognition/collections"), f"Collection {collection} deleted.")


def collection(ctx: ConsoleRequest, search: dict[str, Any] | None = None) -> Page:
    collection_id = ctx.path("collection")
    rekognition = ctx.client("rekognition")
    described = rekognition.describe_collection(CollectionId=collection_id)
    described.pop("ResponseMetadata", None)
    faces, following = ctx.one_page(
        rekognition.list_faces, "Faces", "NextToken", CollectionId=collection_id, MaxResults=PAGE_SIZE
    )
    users = rekognition.list_users(CollectionId=collection_id, MaxResults=PAGE_SIZE).get("Users", [])
    kept = ctx.console.face_thumbnails
    data = {
        "collection_id": collection_id,
        "collection": described,
        "faces": faces,
        # faces indexed before Nimbus kept crops have none: the page shows a placeholder for them
        "thumbnails": {
            face["FaceId"]: url(f"/rekognition/collections/{collection_id}/faces/{face['FaceId']}/thumbnail")
            for face in faces
            if kept.has(described["CollectionARN"], face["FaceId"])
        },
        "users": users,
        "next": following,
        "search": search,
    }
    return Page("rekognition_collection.html", data, title=f"Collection {collection_id}")


def face_thumbnail(ctx: ConsoleRequest) -> Response:
    """The crop Nimbus kept of an indexed face, for a caller the API lets describe the collection and
    list the face."""
    collection_id, face_id = ctx.path("collection"), ctx.path("face")
    rekognition = ctx.client("rekognition")
    arn = rekognition.describe_collection(CollectionId=collection_id)["CollectionARN"]
    listed = rekognition.list_faces(CollectionId=collection_id, FaceIds=[face_id], MaxResults=1)
    jpeg = ctx.console.face_thumbnails.get(arn, face_id) if listed.get("Faces") else None
    if jpeg is None:
        return secured(Response("No thumbnail is kept for this face.", 404, media_type="text/plain"))
    # a face's crop never changes: the browser may keep it for the session
    return secured(
        Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})
    )


def index_faces(ctx: ConsoleRequest) -> Done:
    collection_id = ctx.path("collection")
    picture = _picture(ctx)
    request: dict[str, Any] = {"CollectionId": collection_id, "Image": picture.image}
    if ctx.field("external_image_id").strip():
        request["ExternalImageId"] = ctx.field("external_image_id").strip()
    indexed = ctx.client("rekognition").index_faces(**request)
    faces = [record["Face"]["FaceId"] for record in indexed.get("FaceRecords", [])]
    note = f"Indexed {len(faces)} face(s) from {picture.name}."
    if indexed.get("UnindexedFaces"):
        note += f" {len(indexed['UnindexedFaces'])} not indexed."
    return Done(url(f"/rekognition/collections/{collection_id}"), note, {"FaceIds": faces})


def search_faces(ctx: ConsoleRequest) -> Page:
    collection_id = ctx.path("collection")
    picture = _picture(ctx)
    found = ctx.client("rekognition").search_faces_by_image(
        CollectionId=collection_id, Image=picture.image, FaceMatchThreshold=SEARCH_THRESHOLD, MaxFaces=10
    )
    box = found.get("SearchedFaceBoundingBox")
    shapes = (
        [Shape("match", "searched face", found.get("SearchedFaceConfidence", 0.0), box=box)] if box else []
    )
    search = {
        "image": picture.src,
        "name": picture.name,
        "shapes": [asdict(shape) for shape in shapes],
        "matches": found.get("FaceMatches", []),
        "threshold": SEARCH_THRESHOLD,
    }
    return collection(ctx, search)


def delete_faces(ctx: ConsoleRequest) -> Done:
    collection_id, faces = ctx.path("collection"), ctx.fields("face")
    if faces:
        ctx.client("rekognition").delete_faces(CollectionId=collection_id, FaceIds=faces)
    return Done(url(f"/rekognition/collections/{collection_id}"), f"Deleted {len(faces)} face(s).")


# ---- Custom Labels --------------------------------------------------------------------------------


def projects(ctx: ConsoleRequest) -> Page:
    found, following = ctx.one_page(
        ctx.client("rekognition").describe_projects, "ProjectDescriptions", "NextToken", MaxResults=PAGE_SIZE
    )
    data = {"projects": found, "next": following}
    return Page("rekognition_projects.html", data, title="Custom Labels projects")


def project(ctx: ConsoleRequest, test: dict[str, Any] | None = None) -> Page:
    arn = ctx.query("arn") or ctx.field("arn")
    rekognition = ctx.client("rekognition")
    versions = rekognition.describe_project_versions(ProjectArn=arn, MaxResults=PAGE_SIZE).get(
        "ProjectVersionDescriptions", []
    )
    evaluations = {version["ProjectVersionArn"]: _evaluation(ctx, version) for version in versions}
    data = {"arn": arn, "versions": versions, "evaluations": evaluations, "test": test}
    return Page("rekognition_project.html", data, title=arn.split("/")[1] if "/" in arn else arn)


def _evaluation(ctx: ConsoleRequest, version: dict[str, Any]) -> dict[str, Any] | None:
    """The evaluation summary the training wrote to S3 (per-label metrics, confusion matrix)."""
    location = version.get("EvaluationResult", {}).get("Summary", {}).get("S3Object")
    if not location:
        return None
    try:
        body = ctx.client("s3").get_object(Bucket=location["Bucket"], Key=location["Name"])["Body"].read()
        summary: dict[str, Any] = json.loads(body)
    except (ClientError, ValueError):
        return None
    return summary


def start_model(ctx: ConsoleRequest) -> Done:
    arn = ctx.field("version_arn")
    ctx.client("rekognition").start_project_version(ProjectVersionArn=arn, MinInferenceUnits=1)
    return Done(url("/rekognition/custom-labels/project", arn=ctx.field("arn")), "Starting the model.")


def stop_model(ctx: ConsoleRequest) -> Done:
    arn = ctx.field("version_arn")
    ctx.client("rekognition").stop_project_version(ProjectVersionArn=arn)
    return Done(url("/rekognition/custom-labels/project", arn=ctx.field("arn")), "Stopping the model.")


def test_model(ctx: ConsoleRequest) -> Page:
    picture = _picture(ctx)
    found = ctx.client("rekognition").detect_custom_labels(
        ProjectVersionArn=ctx.field("version_arn"), Image=picture.image, MinConfidence=0
    )
    labels = found.get("CustomLabels", [])
    shapes = [
        Shape("label", label["Name"], label["Confidence"], box=label["Geometry"]["BoundingBox"])
        for label in labels
        if label.get("Geometry")
    ]
    test = {"image": picture.src, "labels": labels, "shapes": [asdict(shape) for shape in shapes]}
    return project(ctx, test)


ROUTES = [
    get("/rekognition", lab),
    post("/rekognition", analyze),
    post("/rekognition/compare", compare),
    get("/rekognition/collections", collections),
    post("/rekognition/collections/create", create_collection),
    get("/rekognition/collections/{collection}", collection),
    post("/rekognition/collections/{collection}/delete", delete_collection),
    post("/rekognition/collections/{collection}/index", index_faces),
    post("/rekognition/collections/{collection}/search", search_faces),
    post("/rekognition/collections/{collection}/delete-faces", delete_faces),
    get("/rekognition/collections/{collection}/faces/{face}/thumbnail", face_thumbnail),
    get("/rekognition/custom-labels", projects),
    get("/rekognition/custom-labels/project", project),
    post("/rekognition/custom-labels/project/start", start_model),
    post("/rekognition/custom-labels/project/stop", stop_model),
    post("/rekognition/custom-labels/project/test", test_model),
]
