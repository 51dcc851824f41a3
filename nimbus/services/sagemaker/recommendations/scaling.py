"""How throughput grows with cores, fitted to the points measured here, and projected to instance
types with more vCPUs than this machine has, with the interval the projection cannot narrow."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Projection:
    value: float
    low: float  # no gain beyond the largest measured core count
    high: float  # perfectly linear gain from the largest measured core count
    exponent: float | None  # alpha of T(c) = T1 * c**alpha (None: one point, no fit)
    basis: str


def growth_exponent(points: list[tuple[float, float]]) -> float:
    """The least-squares slope of log(y) on log(x): y grows as x**slope."""
    logs = [(math.log(x), math.log(y)) for x, y in points if x > 0 and y > 0]
    if len(logs) < 2:
        raise ValueError("a growth exponent needs two points with positive values")
    mean_x = sum(x for x, _ in logs) / len(logs)
    mean_y = sum(y for _, y in logs) / len(logs)
    spread = sum((x - mean_x) ** 2 for x, _ in logs)
    if spread == 0:
        raise ValueError("a growth exponent needs two different sizes")
    return sum((x - mean_x) * (y - mean_y) for x, y in logs) / spread


def project(points: list[tuple[int, float]], cores: int) -> Projection:
    """Throughput at ``cores`` from (cores, throughput) measured at fewer: T(c) = T(M) * (c/M)**alpha
    with alpha fitted to the measured points and held within [0, 1]; with one point, the low end."""
    largest, measured = max(points)
    ratio = cores / largest
    low, high = measured, measured * ratio
    shown = ", ".join(f"{c} core{'s' if c > 1 else ''}: {t * 60:.0f}/min" for c, t in sorted(points))
    if len(points) < 2:
        return Projection(low, low, high, None, f"one point measured ({shown}): no fit; the low end is shown")
    fitted = growth_exponent([(float(c), t) for c, t in points])
    alpha = min(1.0, max(0.0, fitted))
    value = measured * ratio**alpha
    held = "" if alpha == fitted else f" (fitted {fitted:.2f}, held within [0, 1])"
    return Projection(
        value,
        low,
        high,
        alpha,
        f"T(c) = T({largest}) x (c/{largest})^a with a = {alpha:.2f}{held} fitted to {shown}; "
        f"at {cores} vCPUs {value * 60:.0f}/min, between {low * 60:.0f} (no gain past {largest} cores) "
        f"and {high * 60:.0f} (linear gain)",
    )
