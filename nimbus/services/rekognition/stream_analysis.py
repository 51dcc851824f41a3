"""What every kind of stream processor shares: the Analysis interface a session drives, the failure
that ends a session, and the regions of interest that filter detections."""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy.engine import Row

from nimbus.engines.media.frames import DecodedFrame
from nimbus.engines.vision.image import DecodedImage


class ProcessorFailure(Exception):
    """What ends a session as FAILED; its message becomes the StatusMessage."""


class Analysis(Protocol):
    """What a kind of stream processor does with each fragment's sampled frames, and at the end."""

    def fragment(self, fragment: Row[Any], frames: list[DecodedFrame]) -> None: ...

    def finish(self, status: str, message: str | None) -> None: ...


def frame_image(frame: DecodedFrame) -> DecodedImage:
    return DecodedImage(frame.pixels, "VIDEO", None)


def in_regions(box: Any, regions: list[dict[str, Any]] | None) -> bool:
    """Whether the centre of ``box`` (relative left, top, width, height) is in one of the regions of
    interest (bounding boxes or polygons); no regions means the whole frame."""
    if not regions:
        return True
    x, y = box.left + box.width / 2, box.top + box.height / 2
    for region in regions:
        if "BoundingBox" in region:
            bounds = region["BoundingBox"]
            left, top = bounds.get("Left", 0.0), bounds.get("Top", 0.0)
            if left <= x <= left + bounds.get("Width", 1.0) and top <= y <= top + bounds.get("Height", 1.0):
                return True
        elif "Polygon" in region and _inside_polygon(x, y, [(p["X"], p["Y"]) for p in region["Polygon"]]):
            return True
    return False


def _inside_polygon(x: float, y: float, points: list[tuple[float, float]]) -> bool:
    """Ray casting: an odd number of edge crossings to the right of the point means inside."""
    inside = False
    for (x1, y1), (x2, y2) in zip(points, points[1:] + points[:1], strict=True):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside
