"""What the fsyncs that make writes survive a power cut cost: PutObject latency of small objects on a Nimbus
before them (a git revision, unpacked with ``git archive``) and on this tree, the two servers side by side on
the same disk, their requests interleaved so both see the same load.

    bench/run.sh power-loss-cost [--requests 300] [--size 4096] [--before f3c88205a7fc]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fault_injection import REPO_ROOT, Server, _percentile

# the last commit whose object writes and SQLite commits were not made durable against a power cut
BEFORE = "f3c88205a7fcf66ca372b60fa5038a80cc5b9c7d"


def _unpack(revision: str, target: Path) -> Path:
    target.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "archive", revision], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def measure(
    work: Path, before: str, requests: int, size: int, seed: int
) -> dict[str, dict[str, list[float]]]:
    """Milliseconds per PutObject: a new key, and an existing key overwritten (the journalled path)."""
    servers = {
        f"before ({before[:12]})": Server(
            work / "before-data", work / "before.log", _unpack(before, work / "before")
        ),
        "this tree": Server(work / "after-data", work / "after.log"),
    }
    rng = random.Random(seed)
    timings: dict[str, dict[str, list[float]]] = {name: {"new key": [], "overwrite": []} for name in servers}
    try:
        clients = {}
        for name, server in servers.items():
            server.start()
            clients[name] = server.client("s3")
            clients[name].create_bucket(Bucket="cost")
        for index in range(requests):
            for name in rng.sample(list(servers), len(servers)):  # the order changes, so neither goes first
                for kind, key in (("new key", f"new/{index}"), ("overwrite", f"same/{index % 8}")):
                    body = rng.randbytes(size)
                    started = time.perf_counter()
                    clients[name].put_object(Bucket="cost", Key=key, Body=body)
                    timings[name][kind].append((time.perf_counter() - started) * 1000)
    finally:
        for server in servers.values():
            server.stop()
    return timings


def report(timings: dict[str, dict[str, list[float]]], size: int, requests: int) -> str:
    lines = [
        f"PutObject {size} B, {requests} of each kind per server, interleaved "
        f"({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f})",
        "",
        "| server | new key p50 / p99 ms | overwrite p50 / p99 ms |",
        "|---|---|---|",
    ]
    for name, kinds in timings.items():
        cells = [
            f"{_percentile(values, 0.5):.1f} / {_percentile(values, 0.99):.1f}" for values in kinds.values()
        ]
        lines.append(f"| {name} | {' | '.join(cells)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--before", default=BEFORE, help="the git revision to compare with")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nimbus-fsync-cost-") as work:
        timings = measure(Path(work), args.before, args.requests, args.size, args.seed)
    print(report(timings, args.size, args.requests))


if __name__ == "__main__":
    main()
