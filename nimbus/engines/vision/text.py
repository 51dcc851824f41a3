"""Text in images: lines and words, read by RapidOCR's PP-OCR models on ONNX Runtime.

The pipeline is PP-OCRv6 small: a DB detector finds text lines as quadrilaterals (rotated text
included), a direction classifier turns lines that are upside down (each line it turns is read
both ways up, and the surer reading wins), and a CTC recognizer reads each line. The three ONNX
models ship inside the ``rapidocr`` wheel (Apache-2.0, code and weights) and are loaded by path,
so nothing is ever downloaded.

Words come from the recognizer itself: CTC emits each character at a column (a time step) of the
line crop, so a word spans from its first character's column to its last one's, widened by half
the line's character pitch on each side. That span, as a fraction of the line's length, is laid
onto the line's quadrilateral, which gives rotated lines rotated word polygons.

Geometry is relative to the image (0..1), like Rekognition's: ``Box`` is the axis-aligned
box, ``polygon`` the four corners in the text's own reading orientation (top-left, top-right,
bottom-right, bottom-left as the text is read). Confidences are percentages.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from statistics import median
from typing import TYPE_CHECKING

import numpy as np

from nimbus.engines.vision.geometry import Box, Point
from nimbus.engines.vision.image import DecodedImage

if TYPE_CHECKING:
    from rapidocr import RapidOCR
    from rapidocr.ch_ppocr_rec.typings import TextRecOutput, WordInfo

TEXT_MODEL_VERSION = "PP-OCRv6 small (rapidocr 3.10)"
MIN_LINE_CONFIDENCE = 50.0  # rapidocr's own text_score floor: below it a "line" is mostly noise
# PaddleOCR's default for a detected box's mean text probability (rapidocr lowers it to 0.5, which
# lets textures in photos through as whole-image "lines"; real text scores 0.7 and more)
_MIN_BOX_SCORE = 0.6
# The detector sees the picture with its longer side at most this long. rapidocr's default instead
# raises the shorter side to 736, which blows a one-line banner up tenfold: 10x slower there, and
# on bench/ocr_quality.py's hardest fonts and sizes it read 90% of characters against 98%. At 1280
# a 16 px line in a 1600 x 1200 page still reads right (at 960 it does not); the cost is that text
# under about 1% of a big photo's longer side is too small to be found.
_DETECTOR_LONGEST_SIDE = 1280

_MODEL_FILES = {
    "Det": "PP-OCRv6_det_small.onnx",
    "Cls": "ch_ppocr_mobile_v2.0_cls_mobile.onnx",
    "Rec": "PP-OCRv6_rec_small.onnx",
}
# rapidocr.utils.process_img.get_rotate_crop_image turns a crop this much taller than wide by 90°
# (counter-clockwise) before reading it, and the classifier turns a crop by 180° when it says "180"
# with more than Cls.cls_thresh: both decide which corner of the line box the text starts at.
_TALL_CROP_RATIO = 1.5

Quad = np.ndarray  # 4 x 2 float corners in pixels
Reading = tuple[str, float, "WordInfo"]  # the recognizer's text, mean probability, character columns


@dataclass(frozen=True)
class TextWord:
    text: str
    confidence: float
    box: Box
    polygon: tuple[Point, Point, Point, Point]


@dataclass(frozen=True)
class TextLine:
    text: str
    confidence: float
    box: Box
    polygon: tuple[Point, Point, Point, Point]
    words: tuple[TextWord, ...]


@dataclass(frozen=True)
class _RecognizedChar:
    char: str
    column: int  # the CTC time step it was emitted at
    confidence: float  # 0..1


_reader: RapidOCR | None = None
_reader_lock = threading.Lock()


def detect_text(image: DecodedImage) -> list[TextLine]:
    """The lines of text in the picture, in reading order (top to bottom, then left to right),
    each with its words. Lines under MIN_LINE_CONFIDENCE are left out."""
    lines = []
    for reading_quad, recognized in _read_lines(image):
        line = _text_line(reading_quad, *recognized, image)
        if line is not None and line.confidence >= MIN_LINE_CONFIDENCE:
            lines.append(line)
    return lines


def _read_lines(image: DecodedImage) -> list[tuple[Quad, Reading]]:
    """Runs detector, direction classifier and recognizer; gives each line's quadrilateral in the
    picture's pixels, its corners rolled into reading order, with the recognizer's reading."""
    from rapidocr.main import RapidOCRError
    from rapidocr.utils.process_img import map_boxes_to_original

    reader = _text_reader()
    resized, operations = reader.preprocess_img(np.ascontiguousarray(image.pixels[:, :, ::-1]))  # BGR
    try:
        crops, detection = reader.detect_and_crop(resized, operations)
    except RapidOCRError:  # raised when the detector finds no text at all
        return []
    upright_crops, classification = reader.cls_and_rotate(crops)
    threshold = reader.cfg.Cls.cls_thresh
    turned_over = [label == "180" and score > threshold for label, score in classification.cls_res]
    readings = _readings(reader.recognize_txt(upright_crops))
    _reread_turned_lines(reader, crops, turned_over, readings)
    turns = [_quarter_turns(box, turned) for box, turned in zip(detection.boxes, turned_over, strict=True)]
    boxes = map_boxes_to_original(detection.boxes.copy(), operations, image.height, image.width)
    lines = zip(boxes, turns, readings, strict=True)
    return [(np.roll(box, -turn, axis=0), reading) for box, turn, reading in lines]


def _readings(recognition: TextRecOutput) -> list[Reading]:
    return list(zip(recognition.txts, recognition.scores, recognition.word_results, strict=True))


def _reread_turned_lines(
    reader: RapidOCR, crops: list[np.ndarray], turned_over: list[bool], readings: list[Reading]
) -> None:
    """The direction classifier (PP-OCR's mobile v2.0) calls some upright lines upside down with
    90% and more, and the turned line then reads as garbage: each line it turned is read the
    other way up as well, and the more confident reading wins (and with it, the direction)."""
    turned = [index for index, is_turned in enumerate(turned_over) if is_turned]
    if not turned:
        return
    unturned_readings = _readings(reader.recognize_txt([crops[index] for index in turned]))
    for index, unturned in zip(turned, unturned_readings, strict=True):
        if unturned[1] > readings[index][1]:
            readings[index] = unturned
            turned_over[index] = False


def _text_reader() -> RapidOCR:
    """One RapidOCR per process, its models given by path (never downloaded); it loads each model
    on first use, under its own locks, and reading is safe from several threads at once."""
    global _reader
    with _reader_lock:
        if _reader is None:
            _reader = _new_text_reader()
        return _reader


def _new_text_reader() -> RapidOCR:
    import rapidocr
    from rapidocr import RapidOCR

    model_dir = Path(rapidocr.__file__).parent / "models"
    params: dict[str, object] = {
        "Global.log_level": "warning",
        "Global.return_word_box": True,
        "Det.box_thresh": _MIN_BOX_SCORE,
        "Det.limit_type": "max",
        "Det.limit_side_len": _DETECTOR_LONGEST_SIDE,
    }
    for stage, file_name in _MODEL_FILES.items():
        model_path = model_dir / file_name
        if not model_path.is_file():
            raise FileNotFoundError(f"The OCR model {model_path} is missing; reinstall rapidocr.")
        params[f"{stage}.model_path"] = str(model_path)
    return RapidOCR(params=params)


def _quarter_turns(box: Quad, turned_over: bool) -> int:
    """How many corners on (clockwise) from the box's first corner the text's top-left lies:
    1 when the crop was turned 90° to be read, plus 2 when it was read upside down."""
    width = max(np.linalg.norm(box[0] - box[1]), np.linalg.norm(box[2] - box[3]))
    height = max(np.linalg.norm(box[0] - box[3]), np.linalg.norm(box[1] - box[2]))
    turned_to_read = int(height) >= _TALL_CROP_RATIO * int(width)
    return int(turned_to_read) + 2 * int(turned_over)


def _text_line(
    reading_quad: Quad, text: str, score: float, word_info: WordInfo, image: DecodedImage
) -> TextLine | None:
    chars = _recognized_chars(text, word_info)
    words = _split_words(chars)
    if not words:
        return None
    frames = float(word_info.line_txt_len)
    pitch = _char_pitch(words, frames, len(chars))
    text_words = tuple(_text_word(reading_quad, word, frames, pitch, image) for word in words)
    return TextLine(
        text=" ".join(word.text for word in text_words),
        confidence=_percent(score),
        box=_bounding_box(reading_quad, image),
        polygon=_polygon(reading_quad, image),
        words=text_words,
    )


def _recognized_chars(text: str, word_info: WordInfo) -> list[_RecognizedChar]:
    """Pairs each character of the line with its CTC column and probability. rapidocr keeps one
    probability per character (spaces included) and the columns of the non-space ones, in order."""
    columns = iter(column for word_columns in word_info.word_cols for column in word_columns)
    chars = []
    for char, confidence in zip(text, word_info.confs, strict=False):
        column = -1 if char.isspace() else next(columns)
        chars.append(_RecognizedChar(char, column, float(confidence)))
    return chars


def _split_words(chars: list[_RecognizedChar]) -> list[list[_RecognizedChar]]:
    words: list[list[_RecognizedChar]] = [[]]
    for char in chars:
        if char.char.isspace():
            words.append([])
        else:
            words[-1].append(char)
    return [word for word in words if word]


def _char_pitch(words: list[list[_RecognizedChar]], frames: float, char_count: int) -> float:
    """Columns from one character to the next: the median step inside words, or the line's
    length over its characters when no word has two."""
    steps = [b.column - a.column for word in words for a, b in pairwise(word)]
    return float(median(steps)) if steps else frames / max(char_count, 1)


def _text_word(
    reading_quad: Quad, word: list[_RecognizedChar], frames: float, pitch: float, image: DecodedImage
) -> TextWord:
    start = (word[0].column + 0.5 - pitch / 2) / frames
    end = (word[-1].column + 0.5 + pitch / 2) / frames
    quad = _sub_quad(reading_quad, max(start, 0.0), min(end, 1.0))
    return TextWord(
        text="".join(char.char for char in word),
        confidence=_percent(float(np.mean([char.confidence for char in word]))),
        box=_bounding_box(quad, image),
        polygon=_polygon(quad, image),
    )


def _sub_quad(reading_quad: Quad, start: float, end: float) -> Quad:
    """The part of a line between two fractions of its length, along its top and bottom edges."""
    top_left, top_right, bottom_right, bottom_left = reading_quad
    top, bottom = top_right - top_left, bottom_right - bottom_left
    return np.array(
        [
            top_left + start * top,
            top_left + end * top,
            bottom_left + end * bottom,
            bottom_left + start * bottom,
        ]
    )


def _bounding_box(quad: Quad, image: DecodedImage) -> Box:
    left, top = _relative(quad.min(axis=0), image)
    right, bottom = _relative(quad.max(axis=0), image)
    return Box(left=left, top=top, width=right - left, height=bottom - top)


def _polygon(quad: Quad, image: DecodedImage) -> tuple[Point, Point, Point, Point]:
    a, b, c, d = (Point(*_relative(corner, image)) for corner in quad)
    return a, b, c, d


def _relative(point: np.ndarray, image: DecodedImage) -> tuple[float, float]:
    x = min(max(float(point[0]) / image.width, 0.0), 1.0)
    y = min(max(float(point[1]) / image.height, 0.0), 1.0)
    return x, y


def _percent(probability: float) -> float:
    return round(100.0 * probability, 3)
