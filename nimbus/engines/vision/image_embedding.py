"""Image embeddings to learn new labels from a few examples (Custom Labels).

EfficientNet-Lite0 (the ImageNet classifier of ``labels``) read at three depths instead of at its
logits: block 10's 112 channels averaged over a 3x3 grid of the image, block 15's 320 channels over
a 2x2 grid, and the 1280-channel penultimate layer over the whole image: 3568 numbers. The middle
layers and the grid keep strokes, parts and where they are, which the 1000 ImageNet logits and the
pooled penultimate layer throw away. Held-out accuracy with a linear head, 40 images a label
(bench/RESULTS.md), digits at 96 px / Fashion-MNIST at 96 px: ImageNet logits 0.85 / 0.85, the
penultimate layer 0.86 / 0.85, EfficientNet-Lite2's 0.88 / 0.85, Lite3-int8's 0.85 / 0.83, this
embedding 0.92 / 0.88.

The ONNX file is built at install time by `tools/build_vision_models.py` (the grid pooling is part
of the graph); the whole image is squashed to the network's 224x224 input, so nothing at its edges
is cropped away.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

from nimbus.engines.vision.models import session

EMBEDDING_FILE = "efficientnet_lite0_embedding.onnx"
EMBEDDING_NAME = "efficientnet-lite0/b10x3x3+b15x2x2+head"  # saved with every model trained on it
INPUT_SIZE = 224
PIXEL_MEAN, PIXEL_STD = 127.0, 128.0  # EfficientNet-Lite's input normalisation
BATCH_SIZE = 16


def _model_input(pixels: np.ndarray) -> np.ndarray:
    resized = Image.fromarray(pixels).resize((INPUT_SIZE, INPUT_SIZE), Image.Resampling.BILINEAR)
    return ((np.asarray(resized, dtype=np.float32) - PIXEL_MEAN) / PIXEL_STD).transpose(2, 0, 1)


def image_embeddings(images: Sequence[np.ndarray]) -> np.ndarray:
    """One row of float32 features for each image (height x width x 3 RGB uint8 pixels)."""
    model = session(EMBEDDING_FILE)
    input_name = model.get_inputs()[0].name
    rows = []
    for start in range(0, len(images), BATCH_SIZE):
        batch = np.stack([_model_input(pixels) for pixels in images[start : start + BATCH_SIZE]])
        (embedding,) = model.run(None, {input_name: batch})
        rows.append(np.asarray(embedding, dtype=np.float32))
    return np.concatenate(rows)
