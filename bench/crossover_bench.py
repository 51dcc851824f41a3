"""The CPU/GPU crossover, measured on the machine at hand: a float32 matrix multiply (n x n) and one
training step of a small MLP (batch 256, 256 inputs, hidden width h, 10 classes: forward, loss,
backward, SGD update) over growing sizes, on the CPU with 1, 2, 4... threads up to the machine's and
on the GPU when there is one (PyTorch for both, so the same kernels' library decides).

For each curve it fits the growth exponent (time ~ size^k, least squares in log-log over the sizes
above the timer's noise) and finds the crossover: the smallest size from which the GPU beats the
best CPU curve at every larger size. It draws the curves to a PNG and prints Markdown.

    python bench/crossover_bench.py [--max-matmul 2048] [--max-hidden 8192] [--png bench/crossover.png]

Needs PyTorch (the vision-build extra installs it) and matplotlib (the bench extra).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

from nimbus.engines import devices
from nimbus.services.sagemaker.recommendations.scaling import growth_exponent

MIN_TOTAL_S = 0.3  # each point repeats until it has run this long (and at least MIN_REPEATS times)
MIN_REPEATS = 3
NOISE_S = 1e-3  # points faster than this are left out of the exponent fit
BATCH, INPUTS, CLASSES = 256, 256, 10


def timed(step: Callable[[], None], device: str) -> float:
    """The fastest run of ``step`` (after one warm-up run), synchronized on the GPU: on a shared
    machine the other runs measure the neighbours' work as much as this one."""

    def once() -> float:
        started = time.perf_counter()
        step()
        if device == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - started

    once()
    runs = [once()]
    while len(runs) < MIN_REPEATS or sum(runs) < MIN_TOTAL_S:
        runs.append(once())
    return min(runs)


def matmul(size: int, device: str) -> Callable[[], None]:
    left = torch.randn(size, size, device=device)
    right = torch.randn(size, size, device=device)
    return lambda: torch.matmul(left, right)


def training_step(hidden: int, device: str) -> Callable[[], None]:
    model = torch.nn.Sequential(
        torch.nn.Linear(INPUTS, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, CLASSES)
    ).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    features = torch.randn(BATCH, INPUTS, device=device)
    labels = torch.randint(0, CLASSES, (BATCH,), device=device)

    def step() -> None:
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(features), labels).backward()
        optimizer.step()

    return step


def sizes(largest: int, smallest: int = 16) -> list[int]:
    """Sizes growing by sqrt(2), rounded to multiples of 8."""
    found, size = [], float(smallest)
    while size <= largest * 1.001:  # sqrt(2) steps land a hair above powers of two
        found.append(int(round(size / 8) * 8) or 8)
        size *= 2**0.5
    return sorted(set(found))


def curves(workload: Callable[[int, str], Callable[[], None]], grid: list[int]) -> dict[str, list[float]]:
    """Seconds per size for each CPU thread count, and for the GPU when there is one."""
    found: dict[str, list[float]] = {}
    cpus = devices.cpu_count()
    for threads in sorted({*(1 << n for n in range(cpus.bit_length()) if 1 << n <= cpus), cpus}):
        torch.set_num_threads(threads)
        found[f"CPU {threads} thread{'s' if threads > 1 else ''}"] = [
            timed(workload(n, "cpu"), "cpu") for n in grid
        ]
    if torch.cuda.is_available():
        found[f"GPU {torch.cuda.get_device_name(0)}"] = [timed(workload(n, "cuda"), "cuda") for n in grid]
    return found


def exponent(grid: list[int], seconds: list[float]) -> float | None:
    points = [(float(n), s) for n, s in zip(grid, seconds, strict=True) if s >= NOISE_S]
    return growth_exponent(points) if len(points) >= 2 else None


def crossover(grid: list[int], found: dict[str, list[float]]) -> int | None:
    """The smallest size from which the GPU is faster than every CPU curve at every larger size."""
    gpu = next((values for name, values in found.items() if name.startswith("GPU")), None)
    if gpu is None:
        return None
    best_cpu = [
        min(values[i] for name, values in found.items() if name.startswith("CPU")) for i in range(len(grid))
    ]
    for index in range(len(grid)):
        if all(gpu[i] < best_cpu[i] for i in range(index, len(grid))):
            return grid[index]
    return None


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--max-matmul", type=int, default=2048)
    parser.add_argument("--max-hidden", type=int, default=8192)
    parser.add_argument("--png", type=Path, default=Path(__file__).with_name("crossover.png"))
    args = parser.parse_args()
    workloads = {
        "matrix multiply (n x n, float32)": (matmul, sizes(args.max_matmul), "n"),
        f"MLP training step (batch {BATCH}, hidden width h)": (
            training_step,
            sizes(args.max_hidden, 64),
            "h",
        ),
    }
    figure, axes = plt.subplots(1, len(workloads), figsize=(13, 5))
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    print(
        f"CPU/GPU crossover, {datetime.now(UTC):%Y-%m-%d}, {platform.processor() or platform.machine()}, "
        f"{devices.cpu_count()} cores, {gpu}, PyTorch {torch.__version__}, "
        f"load average {os.getloadavg()[0]:.1f} at the start (other work on the machine slows the curves)\n"
    )
    for axis, (title, (workload, grid, symbol)) in zip(axes, workloads.items(), strict=True):
        found = curves(workload, grid)
        at = crossover(grid, found)
        print(f"**{title}**: sizes {grid[0]}..{grid[-1]}\n")
        print("| curve | growth exponent k (time ~ size^k) | time at smallest | time at largest |")
        print("|---|---|---|---|")
        for name, seconds in found.items():
            k = exponent(grid, seconds)
            shown = f"{k:.2f}" if k is not None else "-"
            print(f"| {name} | {shown} | {seconds[0] * 1e3:.3f} ms | {seconds[-1] * 1e3:.1f} ms |")
            axis.loglog(grid, seconds, marker="o", markersize=3, label=f"{name} (k={shown})")
        if at:
            verdict = f"the GPU wins from {symbol} = {at}"
        elif gpu == "no GPU":
            verdict = "no GPU on this machine: no crossover measured"
        else:
            verdict = "the GPU never wins over this range"
        print(f"\nCrossover: {verdict}.\n")
        if at:
            axis.axvline(at, color="grey", linestyle="--", label=f"crossover {symbol}={at}")
        axis.set_title(f"{title}\n{verdict}", fontsize=9)
        axis.set_xlabel(symbol)
        axis.set_ylabel("seconds per operation")
        axis.legend(fontsize=7)
    figure.suptitle(f"{devices.cpu_count()} CPU cores ({os.uname().machine}), {gpu}", fontsize=10)
    figure.tight_layout()
    figure.savefig(args.png, dpi=110)
    print(f"Plot: {args.png}")


if __name__ == "__main__":
    main()
