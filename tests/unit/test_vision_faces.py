"""The face engine on real photographs that installed packages ship: scikit-image's astronaut
(Eileen Collins, one face), its cameraman (another person, turned away) and its cat.
Models load once for the whole module."""

from __future__ import annotations

import io
import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageFilter
from skimage import data as skimage_data

from nimbus.engines.vision import face_keypoints, faces
from nimbus.engines.vision.face_embedding import SAME_PERSON_COSINE
from nimbus.engines.vision.face_mesh import AWS_LANDMARK_POINTS
from nimbus.engines.vision.image import DecodedImage, decode_image

ASTRONAUT_FACE = (174, 70, 279, 175)  # x0, y0, x1, y1 of Eileen Collins's face, checked by eye
ASTRONAUT_EYES = ((203, 103), (247, 104))  # image-left eye, image-right eye
ASTRONAUT_MOUTH = (224, 150)


def _decoded(pixels: np.ndarray, image_format: str = "PNG", **options: int) -> DecodedImage:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, image_format, **options)
    return decode_image(buffer.getvalue())


def _pixel_box(face: faces.Face, image: DecodedImage) -> tuple[float, float, float, float]:
    box = face.bounding_box
    return (
        box.left * image.width,
        box.top * image.height,
        (box.left + box.width) * image.width,
        (box.top + box.height) * image.height,
    )


def _only_face(image: DecodedImage, attributes: bool = False) -> faces.Face:
    found = faces.detect_faces(image, attributes=attributes)
    assert len(found) == 1
    return found[0]


@pytest.fixture(scope="module")
def astronaut() -> DecodedImage:
    return _decoded(skimage_data.astronaut())


@pytest.fixture(scope="module")
def astronaut_face(astronaut: DecodedImage) -> faces.Face:
    return _only_face(astronaut, attributes=True)


@pytest.fixture(scope="module")
def cameraman() -> DecodedImage:
    return _decoded(np.stack([skimage_data.camera()] * 3, axis=-1))


@pytest.fixture(scope="module")
def astronaut_elsewhere() -> DecodedImage:
    """The same woman in a different picture: recropped, turned 12 degrees clockwise,
    shrunk, darkened and saved as a lossy JPEG."""
    picture = Image.fromarray(skimage_data.astronaut()).crop((60, 0, 460, 400))
    picture = picture.rotate(-12, resample=Image.Resampling.BICUBIC).resize((260, 260))
    picture = ImageEnhance.Brightness(picture).enhance(0.7)
    return _decoded(np.asarray(picture), "JPEG", quality=60)


def test_box_covers_the_face(astronaut: DecodedImage, astronaut_face: faces.Face) -> None:
    x0, y0, x1, y1 = _pixel_box(astronaut_face, astronaut)
    for x, y in (*ASTRONAUT_EYES, ASTRONAUT_MOUTH):
        assert x0 < x < x1 and y0 < y < y1
    true_area = (ASTRONAUT_FACE[2] - ASTRONAUT_FACE[0]) * (ASTRONAUT_FACE[3] - ASTRONAUT_FACE[1])
    overlap = (min(x1, ASTRONAUT_FACE[2]) - max(x0, ASTRONAUT_FACE[0])) * (
        min(y1, ASTRONAUT_FACE[3]) - max(y0, ASTRONAUT_FACE[1])
    )
    assert overlap / ((x1 - x0) * (y1 - y0) + true_area - overlap) > 0.7
    assert astronaut_face.confidence > 80


def test_landmarks_use_rekognition_names_and_image_sides(
    astronaut: DecodedImage, astronaut_face: faces.Face
) -> None:
    points = {
        landmark.type: (landmark.x * astronaut.width, landmark.y * astronaut.height)
        for landmark in astronaut_face.landmarks
    }
    assert set(points) == set(AWS_LANDMARK_POINTS)
    for name, expected in (("eyeLeft", ASTRONAUT_EYES[0]), ("eyeRight", ASTRONAUT_EYES[1])):
        assert math.dist(points[name], expected) < 6
    assert points["mouthLeft"][0] < points["nose"][0] < points["mouthRight"][0]
    assert points["leftEyeLeft"][0] < points["leftEyeRight"][0] < points["rightEyeLeft"][0]
    assert points["leftEyeBrowUp"][1] < points["leftEyeUp"][1] < points["leftEyeDown"][1]
    assert points["mouthUp"][1] < points["mouthDown"][1] < points["chinBottom"][1]
    assert max(y for _, y in points.values()) == points["chinBottom"][1]


def test_pose_of_a_frontal_face_and_its_roll_when_turned(
    astronaut_face: faces.Face, astronaut_elsewhere: DecodedImage
) -> None:
    assert abs(astronaut_face.pose.yaw) < 10 and abs(astronaut_face.pose.roll) < 8
    assert abs(astronaut_face.pose.pitch) < 15
    turned = _only_face(astronaut_elsewhere)
    assert turned.pose.roll - astronaut_face.pose.roll == pytest.approx(12, abs=4)


def test_yaw_of_a_face_turned_to_the_image_right(cameraman: DecodedImage) -> None:
    assert _only_face(cameraman).pose.yaw > 20


def test_quality_sees_blur_and_brightness(astronaut: DecodedImage, astronaut_face: faces.Face) -> None:
    blurred = _only_face(
        _decoded(np.asarray(Image.fromarray(astronaut.pixels).filter(ImageFilter.GaussianBlur(3))))
    )
    assert astronaut_face.quality.sharpness > 50 > 10 > blurred.quality.sharpness
    darker = _only_face(_decoded((astronaut.pixels * 0.5).astype(np.uint8)))
    assert darker.quality.brightness < astronaut_face.quality.brightness * 0.6


def test_attributes_of_a_smiling_woman(astronaut_face: faces.Face) -> None:
    attributes = astronaut_face.attributes
    assert attributes is not None
    assert attributes.gender.value == "Female" and attributes.gender.confidence > 60
    assert attributes.age_range.low <= 40 <= attributes.age_range.high
    assert attributes.emotions[0].type == "HAPPY"
    assert {emotion.type for emotion in attributes.emotions} == {
        "HAPPY",
        "SAD",
        "ANGRY",
        "DISGUSTED",
        "SURPRISED",
        "CALM",
        "FEAR",
    }
    assert attributes.smile.value and attributes.eyes_open.value
    assert not faces.detect_faces(_decoded(skimage_data.astronaut()))[0].attributes


def test_cameraman_is_not_smiling_and_is_male(cameraman: DecodedImage) -> None:
    attributes = _only_face(cameraman, attributes=True).attributes
    assert attributes is not None
    assert attributes.gender.value == "Male" and not attributes.smile.value
    assert attributes.eyes_open.value and not attributes.mouth_open.value


def test_same_person_matches_and_another_does_not(
    astronaut: DecodedImage,
    astronaut_face: faces.Face,
    astronaut_elsewhere: DecodedImage,
    cameraman: DecodedImage,
) -> None:
    (reference,) = faces.embed_faces(astronaut, [astronaut_face])
    assert reference.shape == (128,)
    (same,) = faces.embed_faces(astronaut_elsewhere, faces.detect_faces(astronaut_elsewhere))
    (other,) = faces.embed_faces(cameraman, faces.detect_faces(cameraman))
    assert faces.similarity(reference, same) > 90
    assert faces.similarity(reference, other) < 50


def test_similarity_mapping_is_calibrated_at_the_published_threshold() -> None:
    unit = np.zeros(128, dtype=np.float32)
    unit[0] = 1.0
    at_threshold = np.zeros(128, dtype=np.float32)
    at_threshold[:2] = SAME_PERSON_COSINE, math.sqrt(1.0 - SAME_PERSON_COSINE**2)
    assert faces.similarity(unit, at_threshold) == pytest.approx(80)
    assert faces.similarity(unit, unit) > 99.9
    assert faces.similarity(unit, -unit) < 1e-6  # no overflow far from the threshold


def _canvas_with_small_faces(face_width: int, count: int) -> tuple[DecodedImage, list[tuple[float, float]]]:
    """Eileen Collins's head pasted ``count`` times into a 1920x1080 photo of coffee, her face
    ``face_width`` pixels wide; returns the canvas and the centre of each pasted face."""
    head_box = (124, 20, 329, 225)  # the face box ASTRONAUT_FACE with 50 px around it
    scale = face_width / (ASTRONAUT_FACE[2] - ASTRONAUT_FACE[0])
    head = Image.fromarray(skimage_data.astronaut()).crop(head_box)
    head = head.resize((round(head.width * scale), round(head.height * scale)), Image.Resampling.LANCZOS)
    canvas = Image.fromarray(skimage_data.coffee()).resize((1920, 1080))
    rng = np.random.default_rng(7)
    centres = []
    for cell in rng.permutation(32)[:count]:
        left = int(cell % 8) * 240 + int(rng.integers(0, 240 - head.width))
        top = int(cell // 8) * 270 + int(rng.integers(0, 270 - head.height))
        canvas.paste(head, (left, top))
        centres.append(
            (
                left + ((ASTRONAUT_FACE[0] + ASTRONAUT_FACE[2]) / 2 - head_box[0]) * scale,
                top + ((ASTRONAUT_FACE[1] + ASTRONAUT_FACE[3]) / 2 - head_box[1]) * scale,
            )
        )
    return _decoded(np.asarray(canvas), "JPEG", quality=90), centres


def test_faces_40_pixels_wide_in_a_1920x1080_photo_are_found() -> None:
    canvas, centres = _canvas_with_small_faces(face_width=40, count=12)
    found = faces.detect_faces(canvas)
    found_centres = [
        (
            (face.bounding_box.left + face.bounding_box.width / 2) * canvas.width,
            (face.bounding_box.top + face.bounding_box.height / 2) * canvas.height,
        )
        for face in found
    ]
    hits = sum(any(math.dist(centre, other) < 20 for other in found_centres) for centre in centres)
    assert hits >= 11
    assert len(found) <= hits + 1


def test_a_cat_has_no_face() -> None:
    assert faces.detect_faces(_decoded(skimage_data.chelsea())) == []


def test_concurrent_calls_agree(astronaut: DecodedImage, astronaut_face: faces.Face) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: faces.detect_faces(astronaut, attributes=True), range(4)))
    for (face,) in results:
        assert face.bounding_box == astronaut_face.bounding_box
        assert face.attributes == astronaut_face.attributes


def test_keypoint_pose_agrees_with_the_mesh(cameraman: DecodedImage, astronaut: DecodedImage) -> None:
    for image in (cameraman, astronaut):
        (face,) = faces.detect_faces(image)
        from_keypoints = face_keypoints.head_pose(face.detection)
        assert from_keypoints.yaw == pytest.approx(face.pose.yaw, abs=15)
        assert from_keypoints.roll == pytest.approx(face.pose.roll, abs=8)


def test_a_large_jpeg_is_decoded_only_as_large_as_the_engine_looks(astronaut: DecodedImage) -> None:
    large = Image.fromarray(astronaut.pixels).resize((2048, 2048))
    buffer = io.BytesIO()
    large.save(buffer, "JPEG", quality=92)
    small = decode_image(buffer.getvalue(), longest_side=faces.DECODE_SIDE // 2)
    assert small.width == 1024  # libjpeg's half-size decode
    (face,) = faces.detect_faces(small)
    (reference,) = faces.detect_faces(astronaut)
    assert face.bounding_box.left == pytest.approx(reference.bounding_box.left, abs=0.02)
    assert face.bounding_box.width == pytest.approx(reference.bounding_box.width, abs=0.02)
