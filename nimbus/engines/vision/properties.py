"""Image properties: dominant colours (k-means on the pixels), brightness, contrast and sharpness.

- Brightness: mean luma (ITU-R BT.601) as a percentage of white.
- Contrast: standard deviation of luma as a percentage of the largest possible (127.5).
- Sharpness: variance of the 3x3 Laplacian of luma (on the image scaled to at most 512 pixels
  a side, so that it does not depend on resolution), mapped to 0..100 by v / (v + 200):
  a variance of 200, the usual in-focus threshold, scores 50.
- Dominant colours: k-means (k=5, k-means++ seeding with a fixed seed, so a picture always gets
  the same answer) on at most 128x128 pixels; each cluster's mean colour, hex code, a simple
  colour name from its hue, saturation and value, and its share of the pixels.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import numpy as np
from PIL import Image

from nimbus.engines.vision.image import DecodedImage

LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)
SHARPNESS_SIDE = 512
SHARPNESS_HALF_POINT = 200.0
COLOUR_SIDE = 128
COLOUR_CLUSTERS = 5
KMEANS_ITERATIONS = 12
KMEANS_SEED = 0
HUE_NAMES = (
    (15, "red"),
    (45, "orange"),
    (70, "yellow"),
    (160, "green"),
    (200, "teal"),
    (255, "blue"),
    (290, "purple"),
    (335, "pink"),
    (360, "red"),
)


@dataclass(frozen=True)
class DominantColor:
    red: int
    green: int
    blue: int
    hex_code: str
    simplified_color: str
    pixel_percent: float


@dataclass(frozen=True)
class ImageProperties:
    brightness: float
    contrast: float
    sharpness: float
    dominant_colors: list[DominantColor]


def _scaled(pixels: np.ndarray, longest_side: int) -> np.ndarray:
    height, width = pixels.shape[:2]
    scale = longest_side / max(height, width)
    if scale >= 1:
        return pixels
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.BILINEAR))


def _luma(pixels: np.ndarray) -> np.ndarray:
    return pixels.astype(np.float32) @ LUMA_WEIGHTS


def _laplacian_variance(luma: np.ndarray) -> float:
    if min(luma.shape) < 3:
        return 0.0
    centre = luma[1:-1, 1:-1]
    laplacian = luma[:-2, 1:-1] + luma[2:, 1:-1] + luma[1:-1, :-2] + luma[1:-1, 2:] - 4 * centre
    return float(laplacian.var())


def sharpness(pixels: np.ndarray) -> float:
    variance = _laplacian_variance(_luma(_scaled(pixels, SHARPNESS_SIDE)))
    return 100 * variance / (variance + SHARPNESS_HALF_POINT)


def simplified_color(red: int, green: int, blue: int) -> str:
    hue, saturation, value = colorsys.rgb_to_hsv(red / 255, green / 255, blue / 255)
    if value < 0.2:
        return "black"
    if saturation < 0.15:
        return "white" if value > 0.85 else "grey"
    degrees = hue * 360
    if 15 <= degrees < 45 and value < 0.6:
        return "brown"
    return next(name for limit, name in HUE_NAMES if degrees < limit)


def _kmeans_plus_plus(points: np.ndarray, count: int, generator: np.random.Generator) -> np.ndarray:
    centres = [points[generator.integers(len(points))]]
    for _ in range(1, count):
        distances = np.min([((points - centre) ** 2).sum(axis=1) for centre in centres], axis=0)
        if distances.sum() == 0:
            break
        centres.append(points[generator.choice(len(points), p=distances / distances.sum())])
    return np.array(centres)


def _kmeans(points: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Cluster centres and each point's cluster."""
    centres = _kmeans_plus_plus(points, count, np.random.default_rng(KMEANS_SEED))
    assignment = np.zeros(len(points), dtype=np.int64)
    for _ in range(KMEANS_ITERATIONS):
        assignment = ((points[:, None, :] - centres[None]) ** 2).sum(axis=2).argmin(axis=1)
        centres = np.array(
            [
                points[assignment == k].mean(axis=0) if np.any(assignment == k) else centres[k]
                for k in range(len(centres))
            ]
        )
    return centres, assignment


def dominant_colors(pixels: np.ndarray, count: int = COLOUR_CLUSTERS) -> list[DominantColor]:
    points = _scaled(pixels, COLOUR_SIDE).reshape(-1, 3).astype(np.float32)
    centres, assignment = _kmeans(points, count)
    shares = np.bincount(assignment, minlength=len(centres)) / len(points) * 100
    colours = []
    for centre, share in sorted(zip(centres, shares, strict=True), key=lambda pair: -pair[1]):
        red, green, blue = (round(float(channel)) for channel in centre)
        if share > 0:
            colours.append(
                DominantColor(
                    red,
                    green,
                    blue,
                    f"#{red:02x}{green:02x}{blue:02x}",
                    simplified_color(red, green, blue),
                    float(share),
                )
            )
    return colours


def image_properties(image: DecodedImage) -> ImageProperties:
    luma = _luma(image.pixels)
    return ImageProperties(
        brightness=float(luma.mean()) / 255 * 100,
        contrast=float(luma.std()) / 127.5 * 100,
        sharpness=sharpness(image.pixels),
        dominant_colors=dominant_colors(image.pixels),
    )
