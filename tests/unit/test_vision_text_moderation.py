"""The text (OCR) and moderation engines on pictures made here or shipped by scikit-image.

Text is rendered with Pillow in Debian's DejaVu fonts (fonts-dejavu-core), so every word's true
place is known. No explicit imagery is used: moderation is checked on safe photos only.
"""

from __future__ import annotations

import io
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont
from skimage import data

from nimbus.engines.vision import moderation, text
from nimbus.engines.vision.geometry import Box as RelativeBox
from nimbus.engines.vision.image import DecodedImage, decode_image
from nimbus.engines.vision.moderation import MODERATION_MODEL_VERSION, ModerationLabel, detect_moderation
from nimbus.engines.vision.text import TextLine, detect_text

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
CANVAS = (900, 320)
SENTENCES = ("Quick brown foxes jump", "Nimbus reads 42 words")
Box = tuple[float, float, float, float]  # left, top, right, bottom in pixels


def png_image(pixels: np.ndarray) -> DecodedImage:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return decode_image(buffer.getvalue())


def render_sentences(font_name: str, size: int) -> tuple[DecodedImage, list[list[Box]]]:
    """Two sentences, one under the other, and the pixel box of every word as drawn."""
    font = ImageFont.truetype(str(FONT_DIR / f"{font_name}.ttf"), size)
    image = Image.new("RGB", CANVAS, "white")
    draw = ImageDraw.Draw(image)
    word_boxes = []
    for row, sentence in enumerate(SENTENCES):
        origin = (40, 60 + row * 2 * size)
        draw.text(origin, sentence, font=font, fill="black")
        word_boxes.append(_drawn_word_boxes(draw, origin, sentence, font))
    return png_image(np.asarray(image)), word_boxes


def _drawn_word_boxes(
    draw: ImageDraw.ImageDraw, origin: tuple[int, int], sentence: str, font: ImageFont.FreeTypeFont
) -> list[Box]:
    boxes, start = [], 0
    for word in sentence.split(" "):
        start = sentence.index(word, start)
        offset = draw.textlength(sentence[:start], font=font)
        boxes.append(draw.textbbox((origin[0] + offset, origin[1]), word, font=font))
        start += len(word)
    return boxes


def pixel_box(box: RelativeBox, image: DecodedImage) -> Box:
    left, top = box.left * image.width, box.top * image.height
    return left, top, left + box.width * image.width, top + box.height * image.height


def overlap(a: Box, b: Box) -> float:
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    return max(width, 0.0) * max(height, 0.0)


def area(box: Box) -> float:
    return (box[2] - box[0]) * (box[3] - box[1])


def lies_inside(inner: RelativeBox, outer: RelativeBox, slack: float = 1e-6) -> bool:
    return (
        inner.left >= outer.left - slack
        and inner.top >= outer.top - slack
        and inner.left + inner.width <= outer.left + outer.width + slack
        and inner.top + inner.height <= outer.top + outer.height + slack
    )


@pytest.mark.parametrize(
    ("font_name", "size"),
    [("DejaVuSans", 28), ("DejaVuSerif", 40), ("DejaVuSansMono", 24), ("DejaVuSans-Bold", 56)],
)
def test_rendered_words_are_read_where_they_were_drawn(font_name: str, size: int) -> None:
    image, drawn_boxes = render_sentences(font_name, size)

    lines = detect_text(image)

    assert [line.text for line in lines] == list(SENTENCES)
    for line, sentence, word_boxes in zip(lines, SENTENCES, drawn_boxes, strict=True):
        assert line.confidence > 90
        assert [word.text for word in line.words] == sentence.split(" ")
        for word, drawn in zip(line.words, word_boxes, strict=True):
            found = pixel_box(word.box, image)
            assert lies_inside(word.box, line.box)
            assert 0 < word.confidence <= 100
            assert overlap(found, drawn) >= 0.8 * area(drawn), (word.text, found, drawn)
            assert overlap(found, drawn) >= 0.4 * area(found), (word.text, found, drawn)


def test_word_polygons_are_the_corners_of_their_boxes_for_level_text() -> None:
    image, _ = render_sentences("DejaVuSans", 32)

    for line in detect_text(image):
        for word in line.words:
            top_left, top_right, bottom_right, bottom_left = word.polygon
            assert top_left.x < top_right.x and bottom_left.x < bottom_right.x
            assert top_left.y < bottom_left.y and top_right.y < bottom_right.y
            assert word.box.left == pytest.approx(min(p.x for p in word.polygon))
            assert word.box.top == pytest.approx(min(p.y for p in word.polygon))


def test_lines_come_in_reading_order() -> None:
    font = ImageFont.truetype(str(FONT_DIR / "DejaVuSerif.ttf"), 30)
    image = Image.new("RGB", (800, 420), "white")
    draw = ImageDraw.Draw(image)
    rows = ("First line on top", "Second line below it", "Third and last line")
    for row, sentence in enumerate(rows):
        draw.text((60 + 80 * (row % 2), 50 + 120 * row), sentence, font=font, fill="black")

    lines = detect_text(png_image(np.asarray(image)))

    assert [line.text for line in lines] == list(rows)
    assert [line.box.top for line in lines] == sorted(line.box.top for line in lines)


@pytest.mark.parametrize("angle", [15, 90, 180, 270])
def test_rotated_text_is_read_and_its_polygon_starts_where_the_text_starts(angle: int) -> None:
    font = ImageFont.truetype(str(FONT_DIR / "DejaVuSans.ttf"), 36)
    level = Image.new("RGB", (700, 200), "white")
    ImageDraw.Draw(level).text((40, 70), "Turned around words", font=font, fill="black")
    image = png_image(np.asarray(level.rotate(angle, expand=True, fillcolor="white")))

    (line,) = detect_text(image)

    assert line.text == "Turned around words"
    assert [word.text for word in line.words] == ["Turned", "around", "words"]
    start, end = line.words[0].polygon[0], line.words[-1].polygon[1]  # first's top-left, last's top-right
    reading = np.array([(end.x - start.x) * image.width, (end.y - start.y) * image.height])
    radians = np.deg2rad(angle)  # PIL turns counter-clockwise; image y grows downwards
    expected = np.array([np.cos(radians), -np.sin(radians)])
    assert reading @ expected / np.linalg.norm(reading) > 0.95
    for word in line.words:
        assert lies_inside(word.box, line.box)


def test_a_photo_without_text_gives_no_confident_line() -> None:
    lines = detect_text(png_image(data.chelsea()))

    assert len(lines) <= 1
    assert all(line.confidence < 80 for line in lines)  # below Rekognition's default MinConfidence


def test_a_blank_picture_gives_no_line() -> None:
    assert detect_text(png_image(np.full((240, 320, 3), 255, dtype=np.uint8))) == []


def test_concurrent_reads_agree() -> None:
    image, _ = render_sentences("DejaVuSerif", 30)
    expected = detect_text(image)

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(detect_text, [image] * 4))

    assert all(_texts_and_boxes(result) == _texts_and_boxes(expected) for result in results)


def _texts_and_boxes(lines: list[TextLine]) -> list[tuple[str, RelativeBox]]:
    return [(word.text, word.box) for line in lines for word in line.words]


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object, **__: object) -> None:
        raise OSError("the network is not reachable in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.usefixtures("no_network")
def test_models_load_from_the_installed_packages_without_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(text, "_reader", None)
    monkeypatch.setattr(moderation, "_session", None)
    image, _ = render_sentences("DejaVuSans", 28)

    assert [line.text for line in detect_text(image)] == list(SENTENCES)
    assert len(detect_moderation(image)) == 2


@pytest.mark.parametrize("photo", ["chelsea", "astronaut", "coffee"])
def test_safe_photos_get_no_moderation_label_above_50(photo: str) -> None:
    labels = detect_moderation(png_image(getattr(data, photo)()))

    assert all(label.confidence < 50 for label in labels)


def test_moderation_returns_only_the_labels_the_model_can_see() -> None:
    labels = detect_moderation(png_image(data.astronaut()))

    assert [(label.name, label.parent_name, label.taxonomy_level) for label in labels] == [
        ("Explicit", "", 1),
        ("Explicit Nudity", "Explicit", 2),
    ]
    assert all(isinstance(label, ModerationLabel) and 0 <= label.confidence <= 100 for label in labels)
    assert labels[0].confidence == labels[1].confidence
    assert "open_nsfw" in MODERATION_MODEL_VERSION


def test_moderation_input_is_yahoos_bgr_mean_subtracted_centre_crop() -> None:
    red = np.zeros((300, 500, 3), dtype=np.uint8)
    red[..., 0] = 255

    model_input = moderation._model_input(png_image(red))

    assert model_input.shape == (1, 224, 224, 3) and model_input.dtype == np.float32
    blue, green, red_channel = (float(model_input[0, 112, 112, channel]) for channel in range(3))
    assert blue == pytest.approx(0 - 104, abs=4)
    assert green == pytest.approx(0 - 117, abs=4)
    assert red_channel == pytest.approx(254 - 123, abs=4)


def test_moderation_reads_grey_and_tiny_pictures() -> None:
    grey = np.repeat(data.camera()[..., np.newaxis], 3, axis=2)
    tiny = np.full((3, 5, 3), 128, dtype=np.uint8)

    for pixels in (grey, tiny):
        assert all(0 <= label.confidence <= 100 for label in detect_moderation(png_image(pixels)))
