"""Where things are in an image, as every vision engine reports it: relative to the upright
image's width and height (0..1 from the left and top edges), as Rekognition does."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Box:
    left: float
    top: float
    width: float
    height: float


@dataclass(frozen=True)
class Point:
    x: float
    y: float
