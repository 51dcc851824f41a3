"""Rekognition image analysis through boto3 against a real server, on real photos (scikit-image's
bundled astronaut, camera man, cat, coffee cup and motorcycle; a cyclist from COCO val2017, see
photos/README.md) and text rendered with DejaVu fonts."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from botocore.exceptions import ClientError
from conftest import NimbusServer, error_code
from PIL import Image, ImageDraw, ImageFont
from skimage import data

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
# where the astronaut's face is in skimage's 512x512 photo (relative): it must fall inside the box
ASTRONAUT_FACE_CENTRE = (0.44, 0.24)
CYCLIST = Path(__file__).with_name("photos") / "coco_val2017_000000261888.jpg"
# COCO's own box of the bicycle in that photo (its annotation, 640x426 pixels), relative
CYCLIST_BICYCLE = {"Left": 339 / 640, "Top": 252 / 426, "Width": 189 / 640, "Height": 145 / 426}


def encoded(pixels: np.ndarray, image_format: str = "JPEG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, image_format)
    return buffer.getvalue()


def group_photo() -> tuple[np.ndarray, list[tuple[float, float]]]:
    """A 1600x1000 picture holding real faces at group-photo sizes, and their centres (relative):
    the astronaut's face shrunk to about 22 and 45 pixels wide, and the camera man (turned well
    to the side) at about 60, on scikit-image's grass photo."""
    canvas = Image.fromarray(data.grass()).convert("RGB").resize((1600, 1000))
    astronaut, camera_man = data.astronaut(), np.stack([data.camera()] * 3, axis=-1)
    centres = []
    # photo, its face's width (pixels) and centre (relative), the face width wanted, where it goes
    for photo, face_width, (face_x, face_y), wanted, corner in (
        (astronaut, 95, (0.44, 0.23), 22, (300, 400)),
        (astronaut, 95, (0.44, 0.23), 45, (800, 300)),
        (camera_man, 61, (0.44, 0.30), 60, (1150, 350)),
    ):
        picture = Image.fromarray(photo)
        scale = wanted / face_width
        picture = picture.resize((round(picture.width * scale), round(picture.height * scale)), Image.LANCZOS)
        canvas.paste(picture, corner)
        x, y = corner[0] + face_x * picture.width, corner[1] + face_y * picture.height
        centres.append((x / canvas.width, y / canvas.height))
    return np.asarray(canvas), centres


def astronaut_again() -> np.ndarray:
    """The astronaut's head recropped, enlarged and turned: "the same person" in another picture."""
    head = Image.fromarray(data.astronaut()[0:300, 100:400])
    return np.asarray(head.resize((450, 450)).rotate(10))


@pytest.fixture(scope="module")
def rekognition(nimbus: NimbusServer) -> Any:
    return nimbus.client("rekognition")


@pytest.fixture(scope="module")
def astronaut() -> bytes:
    return encoded(data.astronaut())


@pytest.fixture(scope="module")
def camera_man() -> bytes:
    return encoded(np.stack([data.camera()] * 3, axis=-1))


@pytest.fixture(scope="module")
def cat() -> bytes:
    return encoded(data.chelsea())


@pytest.fixture(scope="module")
def text_png() -> bytes:
    canvas = Image.new("RGB", (900, 260), "white")
    draw = ImageDraw.Draw(canvas)
    draw.text((30, 30), "Hello Nimbus world", fill="black", font=ImageFont.truetype(FONT, 56))
    draw.text((30, 150), "Cloud 2025", fill="black", font=ImageFont.truetype(FONT, 56))
    return encoded(np.asarray(canvas), "PNG")


def test_detect_labels_sees_the_cat(rekognition: Any, cat: bytes) -> None:
    answer = rekognition.detect_labels(Image={"Bytes": cat})
    labels = {label["Name"]: label for label in answer["Labels"]}
    assert answer["LabelModelVersion"] == "3.0"
    assert "Cat" in labels and labels["Cat"]["Confidence"] >= 55
    assert {"Name": "Animal"} in labels["Cat"]["Parents"]
    assert {"Name": "Animals and Pets"} in labels["Cat"]["Categories"]
    assert all(label["Confidence"] >= 55 for label in answer["Labels"])
    assert "OrientationCorrection" not in answer  # AWS: always null


def test_detect_labels_filters_limits_and_image_properties(rekognition: Any, cat: bytes) -> None:
    answer = rekognition.detect_labels(
        Image={"Bytes": cat},
        MaxLabels=2,
        MinConfidence=20,
        Features=["GENERAL_LABELS", "IMAGE_PROPERTIES"],
        Settings={
            "GeneralLabels": {"LabelExclusionFilters": ["Animal"]},
            "ImageProperties": {"MaxDominantColors": 3},
        },
    )
    names = [label["Name"] for label in answer["Labels"]]
    assert len(names) == 2 and "Animal" not in names
    properties = answer["ImageProperties"]
    assert set(properties["Quality"]) == {"Brightness", "Sharpness", "Contrast"}
    colours = properties["DominantColors"]
    assert 1 <= len(colours) <= 3
    # the tabby is brown and orange: the biggest colour is warm (red over blue)
    assert colours[0]["Red"] > colours[0]["Blue"]
    assert colours[0]["HexCode"].startswith("#") and colours[0]["CSSColor"]
    only_properties = rekognition.detect_labels(Image={"Bytes": cat}, Features=["IMAGE_PROPERTIES"])
    assert "Labels" not in only_properties or only_properties["Labels"] == []
    included = rekognition.detect_labels(
        Image={"Bytes": cat}, Settings={"GeneralLabels": {"LabelInclusionFilters": ["Cat"]}}
    )
    assert [label["Name"] for label in included["Labels"]] == ["Cat"]


def test_detect_labels_reads_the_image_from_s3(rekognition: Any, s3: Any, bucket: str, cat: bytes) -> None:
    s3.put_object(Bucket=bucket, Key="photos/cat.jpg", Body=cat)
    answer = rekognition.detect_labels(Image={"S3Object": {"Bucket": bucket, "Name": "photos/cat.jpg"}})
    assert "Cat" in {label["Name"] for label in answer["Labels"]}


def test_detect_faces_finds_the_astronaut(rekognition: Any, astronaut: bytes) -> None:
    (face,) = rekognition.detect_faces(Image={"Bytes": astronaut})["FaceDetails"]
    box = face["BoundingBox"]
    x, y = ASTRONAUT_FACE_CENTRE
    assert box["Left"] < x < box["Left"] + box["Width"] and box["Top"] < y < box["Top"] + box["Height"]
    assert 0.1 < box["Width"] < 0.35 and face["Confidence"] > 80
    assert {"eyeLeft", "eyeRight", "nose", "mouthLeft", "mouthRight"} <= {
        m["Type"] for m in face["Landmarks"]
    }
    assert abs(face["Pose"]["Yaw"]) < 30 and set(face["Quality"]) == {"Brightness", "Sharpness"}
    assert "AgeRange" not in face and "Emotions" not in face  # DEFAULT attributes only


def test_detect_faces_all_attributes(rekognition: Any, astronaut: bytes) -> None:
    (face,) = rekognition.detect_faces(Image={"Bytes": astronaut}, Attributes=["ALL"])["FaceDetails"]
    assert face["AgeRange"]["Low"] < face["AgeRange"]["High"]
    assert face["Gender"]["Value"] in ("Male", "Female")
    assert {"Smile", "EyesOpen", "MouthOpen", "Emotions"} <= set(face)
    assert face["EyesOpen"]["Value"] is True
    assert "Beard" not in face and "Sunglasses" not in face  # no model for them: left out, not made up
    (only_age,) = rekognition.detect_faces(Image={"Bytes": astronaut}, Attributes=["AGE_RANGE"])[
        "FaceDetails"
    ]
    assert "AgeRange" in only_age and "Gender" not in only_age and "Landmarks" in only_age


def test_detect_faces_finds_small_and_turned_faces(rekognition: Any, camera_man: bytes) -> None:
    pixels, centres = group_photo()
    faces = rekognition.detect_faces(Image={"Bytes": encoded(pixels)})["FaceDetails"]
    for x, y in centres:
        assert any(
            f["BoundingBox"]["Left"] < x < f["BoundingBox"]["Left"] + f["BoundingBox"]["Width"]
            and f["BoundingBox"]["Top"] < y < f["BoundingBox"]["Top"] + f["BoundingBox"]["Height"]
            for f in faces
        ), f"no face found at {x:.3f}, {y:.3f}"
    assert len(faces) == len(centres)  # grass has no faces
    (turned,) = rekognition.detect_faces(Image={"Bytes": camera_man})["FaceDetails"]
    assert turned["Pose"]["Yaw"] > 20 and turned["Confidence"] >= 95


def test_clear_faces_score_in_the_high_nineties(rekognition: Any, astronaut: bytes) -> None:
    (face,) = rekognition.detect_faces(Image={"Bytes": astronaut})["FaceDetails"]
    assert face["Confidence"] >= 95
    # what client code commonly keeps
    assert [f for f in [face] if f["Confidence"] >= 90]


def test_detect_labels_boxes_objects_under_aws_names(rekognition: Any) -> None:
    motorcycle = Image.open(Path(data.__file__).with_name("motorcycle_left.png")).convert("RGB")
    answer = rekognition.detect_labels(Image={"Bytes": encoded(np.asarray(motorcycle))})
    labels = {label["Name"]: label for label in answer["Labels"]}
    assert labels["Motorcycle"]["Confidence"] >= 90
    (instance,) = labels["Motorcycle"]["Instances"]
    assert instance["Confidence"] >= 90 and instance["BoundingBox"]["Width"] > 0.4
    assert {"Name": "Vehicle"} in labels["Motorcycle"]["Parents"]
    coffee = {
        label["Name"]: label
        for label in rekognition.detect_labels(Image={"Bytes": encoded(data.coffee())})["Labels"]
    }
    assert coffee["Cup"]["Instances"] and {"Name": "Drinking Vessel"} in coffee["Cup"]["Aliases"]
    for name in [*labels, *coffee]:
        assert name == " ".join(word[:1].upper() + word[1:] for word in name.split()), name
    people = rekognition.detect_labels(Image={"Bytes": encoded(data.astronaut())})["Labels"]
    (person,) = [label for label in people if label["Name"] == "Person"]
    assert person["Confidence"] >= 90 and len(person["Instances"]) == 1


def overlap(first: dict[str, float], second: dict[str, float]) -> float:
    """Intersection over union of two Rekognition bounding boxes."""
    width = min(first["Left"] + first["Width"], second["Left"] + second["Width"]) - max(
        first["Left"], second["Left"]
    )
    height = min(first["Top"] + first["Height"], second["Top"] + second["Height"]) - max(
        first["Top"], second["Top"]
    )
    shared = max(width, 0.0) * max(height, 0.0)
    return shared / (first["Width"] * first["Height"] + second["Width"] * second["Height"] - shared)


def test_detect_labels_boxes_the_bicycle_of_a_photo(rekognition: Any) -> None:
    labels = {
        label["Name"]: label
        for label in rekognition.detect_labels(Image={"Bytes": CYCLIST.read_bytes()})["Labels"]
    }
    bicycle = labels["Bicycle"]
    assert bicycle["Confidence"] >= 90 and "Unicycle" not in labels
    (instance,) = bicycle["Instances"]
    assert instance["Confidence"] >= 90 and overlap(instance["BoundingBox"], CYCLIST_BICYCLE) >= 0.5
    assert {"Name": "Vehicle"} in bicycle["Parents"] and labels["Person"]["Instances"]
    for name in labels:
        assert name == " ".join(word[:1].upper() + word[1:] for word in name.split()), name


def test_detect_faces_finds_none_in_a_cat(rekognition: Any, cat: bytes) -> None:
    assert rekognition.detect_faces(Image={"Bytes": cat})["FaceDetails"] == []


def test_compare_faces_matches_the_same_person_only(
    rekognition: Any, astronaut: bytes, camera_man: bytes
) -> None:
    same = rekognition.compare_faces(
        SourceImage={"Bytes": astronaut}, TargetImage={"Bytes": encoded(astronaut_again())}
    )
    assert same["SourceImageFace"]["Confidence"] > 80
    (match,) = same["FaceMatches"]
    assert match["Similarity"] >= 80
    assert {"BoundingBox", "Confidence", "Landmarks", "Pose", "Quality"} <= set(match["Face"])
    other = rekognition.compare_faces(SourceImage={"Bytes": astronaut}, TargetImage={"Bytes": camera_man})
    assert other.get("FaceMatches", []) == [] and len(other["UnmatchedFaces"]) == 1
    lenient = rekognition.compare_faces(
        SourceImage={"Bytes": astronaut}, TargetImage={"Bytes": camera_man}, SimilarityThreshold=0
    )
    assert len(lenient["FaceMatches"]) == 1 and lenient["FaceMatches"][0]["Similarity"] < 80


def test_compare_faces_needs_a_face_in_the_source(rekognition: Any, cat: bytes, astronaut: bytes) -> None:
    with pytest.raises(ClientError) as raised:
        rekognition.compare_faces(SourceImage={"Bytes": cat}, TargetImage={"Bytes": astronaut})
    assert error_code(raised) == "InvalidParameterException"
    assert "There are no faces in the image. Should be at least 1." in str(raised.value)


def test_detect_text_reads_lines_then_words(rekognition: Any, text_png: bytes) -> None:
    detections = rekognition.detect_text(Image={"Bytes": text_png})["TextDetections"]
    lines = [d for d in detections if d["Type"] == "LINE"]
    words = [d for d in detections if d["Type"] == "WORD"]
    assert [line["DetectedText"] for line in lines] == ["Hello Nimbus world", "Cloud 2025"]
    assert [word["DetectedText"] for word in words] == ["Hello", "Nimbus", "world", "Cloud", "2025"]
    assert detections == lines + words  # lines first
    assert [d["Id"] for d in detections] == list(range(7))
    assert [word["ParentId"] for word in words] == [0, 0, 0, 1, 1]
    hello = words[0]["Geometry"]
    assert len(hello["Polygon"]) == 4 and hello["BoundingBox"]["Top"] < 0.3
    filtered = rekognition.detect_text(
        Image={"Bytes": text_png},
        Filters={"RegionsOfInterest": [{"BoundingBox": {"Left": 0, "Top": 0.5, "Width": 1, "Height": 0.5}}]},
    )["TextDetections"]
    assert [d["DetectedText"] for d in filtered] == ["Cloud 2025", "Cloud", "2025"]


def test_detect_moderation_labels(rekognition: Any, cat: bytes) -> None:
    calm = rekognition.detect_moderation_labels(Image={"Bytes": cat})
    assert calm.get("ModerationLabels", []) == [] and calm["ModerationModelVersion"]
    everything = rekognition.detect_moderation_labels(Image={"Bytes": cat}, MinConfidence=0)
    levels = {label["Name"]: label for label in everything["ModerationLabels"]}
    assert levels["Explicit"]["TaxonomyLevel"] == 1 and levels["Explicit"]["Confidence"] < 50
    assert levels["Explicit Nudity"]["ParentName"] == "Explicit"


def test_recognize_celebrities_knows_nobody(rekognition: Any, astronaut: bytes) -> None:
    answer = rekognition.recognize_celebrities(Image={"Bytes": astronaut})
    assert answer["CelebrityFaces"] == []
    (face,) = answer["UnrecognizedFaces"]
    assert face["Confidence"] > 80 and "BoundingBox" in face
