"""How fast ``nimbus serve`` starts: the CPU time of importing the app, and the wall time from spawning
``nimbus serve`` to its first healthy answer on a fresh data dir and on an existing one (the tests and the
fault-injection bench restart on existing ones), plus ``nimbus env`` (the tests run it after every start).
Median of N runs each, for the current tree, or for several trees side by side (``--tree`` again).

    bench/run.sh startup [--runs 5] [--tree /path/to/another/checkout]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT_S = 600.0  # a loaded shared machine has taken minutes
POLL_S = 0.05


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(tree: Path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "NIMBUS_"))}
    env["PYTHONPATH"] = str(tree)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # measured with bytecode caches, as CI and users run
    return env


def import_cpu_s(tree: Path) -> float:
    """User + system CPU seconds of a fresh interpreter importing the app (its own start included)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", "import nimbus.gateway.app"], cwd=tree, env=_env(tree), check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def heaviest_imports(tree: Path, count: int = 8) -> list[tuple[str, float]]:
    """The packages outside Nimbus that cost the most to import, from ``-X importtime`` (cumulative
    seconds; a package another one imports counts in both)."""
    stderr = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import nimbus.gateway.app"],
        cwd=tree,
        env=_env(tree),
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    costs: dict[str, float] = {}
    for line in stderr.splitlines():
        match = re.match(r"import time:\s*\d+ \|\s*(\d+) \| *(\S+)", line)
        package = match.group(2).split(".")[0] if match else "nimbus"
        if match and package != "nimbus":  # a package's first import holds its whole cost
            costs[package] = max(costs.get(package, 0.0), int(match.group(1)) / 1e6)
    return sorted(costs.items(), key=lambda item: -item[1])[:count]


def _cpu_s(pid: int) -> float:
    """CPU seconds of a process so far, with those of the children it waited for (``podman info``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def serve_to_healthy(tree: Path, data_dir: Path) -> tuple[float, float]:
    """Wall and CPU seconds from spawning ``nimbus serve`` to its first 200 on the health path; then it
    is stopped. On a shared machine the CPU seconds are the steadier measure: the wall ones wait for
    whatever else runs."""
    port = _free_port()
    env = _env(tree) | {"NIMBUS_REGISTRY_PORT": str(_free_port())}
    command = [sys.executable, "-m", "nimbus", "serve", "--port", str(port), "--data-dir", str(data_dir)]
    started = time.monotonic()
    with open(data_dir.parent / f"{data_dir.name}.log", "ab") as log:
        proc = subprocess.Popen(command, cwd=tree, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        while time.monotonic() - started < STARTUP_TIMEOUT_S:
            if proc.poll() is not None:
                raise RuntimeError(f"nimbus serve exited with {proc.returncode}; see {data_dir}.log")
            try:
                if requests.get(f"http://127.0.0.1:{port}/_nimbus/health", timeout=30).status_code == 200:
                    return time.monotonic() - started, _cpu_s(proc.pid)
            except requests.RequestException:
                pass
            time.sleep(POLL_S)
        raise RuntimeError(f"nimbus serve not healthy after {STARTUP_TIMEOUT_S} s; see {data_dir}.log")
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def env_s(tree: Path, data_dir: Path) -> float:
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "nimbus", "env", "--data-dir", str(data_dir)],
        cwd=tree,
        env=_env(tree),
        capture_output=True,
        check=True,
    )
    return time.monotonic() - started


def measure_once(tree: Path, work: Path, round_: int) -> dict[str, float]:
    existing = work / f"existing-{abs(hash(tree))}"  # made by the warm-up start
    fresh_wall, fresh_cpu = serve_to_healthy(tree, work / f"fresh-{abs(hash(tree))}-{round_}")
    existing_wall, existing_cpu = serve_to_healthy(tree, existing)
    return {
        "import of the app, CPU s": import_cpu_s(tree),
        "serve to healthy, fresh data dir, CPU s": fresh_cpu,
        "serve to healthy, existing data dir, CPU s": existing_cpu,
        "serve to healthy, fresh data dir, wall s": fresh_wall,
        "serve to healthy, existing data dir, wall s": existing_wall,
        "`nimbus env`, wall s": env_s(tree, existing),
    }


def measure(trees: list[Path], runs: int, work: Path) -> dict[Path, dict[str, float]]:
    """Medians per tree. The trees take turns in every round, so a load that comes and goes on a shared
    machine weighs on each alike."""
    for tree in trees:  # warm-up: writes the bytecode caches and creates the existing data dir
        serve_to_healthy(tree, work / f"existing-{abs(hash(tree))}")
    rounds = [[measure_once(tree, work, round_) for tree in trees] for round_ in range(runs)]
    return {
        tree: {name: statistics.median(r[index][name] for r in rounds) for name in rounds[0][index]}
        for index, tree in enumerate(trees)
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5, help="runs per measure; the median is shown")
    parser.add_argument(
        "--tree", type=Path, action="append", help="another checkout to measure beside this one"
    )
    args = parser.parse_args()
    trees = [REPO_ROOT, *(tree.resolve() for tree in args.tree or [])]
    print(
        f"Startup ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}), median of {args.runs}:\n"
    )
    with tempfile.TemporaryDirectory(prefix="nimbus-startup-") as work:
        results = measure(trees, args.runs, Path(work))
    print("| measure | " + " | ".join(str(tree) for tree in trees) + " |")
    print("|---|" + "---|" * len(trees))
    for name in next(iter(results.values())):
        print(f"| {name} | " + " | ".join(f"{results[tree][name]:.2f}" for tree in trees) + " |")
    for tree in trees:
        heaviest = ", ".join(f"{name} {seconds:.2f}" for name, seconds in heaviest_imports(tree))
        print(f"\nHeaviest imports in {tree} (cumulative s, -X importtime): {heaviest}")


if __name__ == "__main__":
    main()
