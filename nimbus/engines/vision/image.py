"""Decoding images as the vision models need them: RGB pixels, EXIF orientation applied,
format judged by content (never by name), decompression bombs refused before decoding.

A model that looks at most ``longest_side`` pixels wide gets a JPEG decoded at a half, a quarter
or an eighth of its size where that still leaves it that wide: libjpeg scales in the DCT, so a
12-megapixel photo decodes several times faster and the pixels are never made to be thrown
away. Boxes and points are reported relative to the image, so nothing else changes."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

SUPPORTED_FORMATS = ("JPEG", "PNG")
MAX_PIXELS = 80_000_000  # larger than any photo a 15 MB JPEG holds; a bomb declares far more

# EXIF orientation tag values -> the rotation AWS reports as OrientationCorrection
_ORIENTATION_CORRECTION = {1: "ROTATE_0", 3: "ROTATE_180", 6: "ROTATE_90", 8: "ROTATE_270"}


class InvalidImageError(ValueError):
    """Not a JPEG or PNG, or corrupt or truncated."""


class ImageTooLargeError(ValueError):
    """Declares more pixels than Nimbus decodes."""


@dataclass(frozen=True)
class DecodedImage:
    pixels: np.ndarray  # height x width x 3, uint8, RGB, upright
    format: str  # "JPEG" or "PNG"
    orientation_correction: str | None  # from EXIF, when the file had an orientation tag

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])


def decode_image(data: bytes, longest_side: int | None = None) -> DecodedImage:
    if not data:
        raise InvalidImageError("The image is empty.")
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in SUPPORTED_FORMATS:
                raise InvalidImageError(
                    f"Images must be JPEG or PNG; this one is {image.format or 'unknown'}."
                )
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ImageTooLargeError(
                    f"The image has {width}x{height} pixels; at most {MAX_PIXELS} are decoded."
                )
            orientation = image.getexif().get(0x0112)
            if longest_side and image.format == "JPEG" and max(width, height) > longest_side:
                scale = longest_side / max(width, height)
                image.draft("RGB", (math.ceil(width * scale), math.ceil(height * scale)))
            upright = ImageOps.exif_transpose(image)
            pixels = np.asarray(upright.convert("RGB"))
            return DecodedImage(pixels, image.format, _ORIENTATION_CORRECTION.get(orientation or 0))
    except Image.DecompressionBombError as error:
        raise ImageTooLargeError(f"The image declares too many pixels: {error}") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise InvalidImageError(f"The image could not be decoded: {error}") from None
