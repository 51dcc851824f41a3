"""Crash safety through a simulated power loss: fault_injection.py's campaign (the same mixed boto3 workload,
model of acknowledged operations and checks) with ``nimbus serve``'s data dir on power_loss_fs.py, a FUSE
file system that drops, at each cut, every write and every name not made durable by an fsync of the file
or of its directory (POSIX's pessimistic model; see power_loss_fs.py).

Each round is one short operation sequence: the workload runs for a random time, the server and everything
it started are SIGKILLed, the power is cut (what was not fsynced is dropped), and the server restarts on what
survived; then every acknowledged operation is checked (nothing lost, nothing torn or half visible, no orphan
in a listing, no job stuck) and the database must open. Then everything is made durable, as sync(2) would,
so that the next round starts clean; the first starts on a fresh data dir with nothing synced.

    bench/run.sh power-loss [--sequences 200] [--minutes M] [--seed 1] [--min-run 0.05] [--max-run 1.0]
                            [--no-jobs]

Needs /dev/fuse, Debian's fuse3 (fusermount3, libfuse3) and mfusepy (the bench and test extras).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fault_injection import Tally, report, run_campaign

FILE_SYSTEM = Path(__file__).resolve().parent / "power_loss_fs.py"
MOUNT_TIMEOUT_S = 30.0


@dataclass
class PowerLossMount:
    """power_loss_fs.py mounted at ``mountpoint`` over ``backing``; counts what each cut dropped."""

    mountpoint: Path
    control: Path
    dropped_files: list[int] = field(default_factory=list)  # files with unsynced bytes, per cut
    dropped_dirs: list[int] = field(default_factory=list)  # directories with unsynced entries, per cut

    def _send(self, command: str) -> list[int]:
        with socket.socket(socket.AF_UNIX) as connection:
            connection.connect(str(self.control))
            connection.sendall(f"{command}\n".encode())
            answer = connection.makefile().readline().split()
        if not answer or answer[0] != "ok":
            raise RuntimeError(f"the power-loss file system answered {answer} to {command}")
        return [int(count) for count in answer[1:]]

    def cut(self) -> None:
        files, dirs = self._send("cut")
        self.dropped_files.append(files)
        self.dropped_dirs.append(dirs)

    def sync(self) -> None:
        self._send("sync")


@contextlib.contextmanager
def mounted(work: Path) -> Iterator[PowerLossMount]:
    """The file system mounted at ``work/nimbus`` (the data dir fault_injection.py's server uses), its
    backing folder beside it; unmounted at the end, whatever happens."""
    backing, mountpoint, control = work / "backing", work / "nimbus", work / "power.sock"
    backing.mkdir()
    mountpoint.mkdir()
    with open(work / "power-loss-fs.log", "ab") as log:
        process = subprocess.Popen(
            [sys.executable, str(FILE_SYSTEM), str(backing), str(mountpoint), str(control)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        started = time.monotonic()
        while not (os.path.ismount(mountpoint) and control.exists()):
            if process.poll() is not None or time.monotonic() - started > MOUNT_TIMEOUT_S:
                raise RuntimeError(
                    f"power_loss_fs.py did not mount: {(work / 'power-loss-fs.log').read_text()}"
                )
            time.sleep(0.05)
        yield PowerLossMount(mountpoint, control)
    finally:
        subprocess.run(["fusermount3", "-u", "-z", str(mountpoint)], check=False)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_power_loss(work: Path, sequences: int, seed: int, **campaign: Any) -> tuple[Tally, PowerLossMount]:
    """fault_injection.run_campaign (``campaign``: its keyword arguments) with each kill a power cut."""
    with mounted(work) as power:
        tally = run_campaign(work, sequences, seed, crash=power.cut, settled=power.sync, **campaign)
    return tally, power


def power_report(tally: Tally, power: PowerLossMount, seconds: float) -> str:
    table = report(tally, seconds, title="Simulated power loss", kills="power cuts")
    cuts_with_loss = sum(
        1 for files, dirs in zip(power.dropped_files, power.dropped_dirs, strict=True) if files or dirs
    )
    extra = (
        f"| cuts that dropped unsynced state / files / directories dropped (summed) | {cuts_with_loss} / "
        f"{sum(power.dropped_files)} / {sum(power.dropped_dirs)} |"
    )
    lines = table.splitlines()
    at = next(index for index, line in enumerate(lines) if line.startswith("| **violations**"))
    return "\n".join([*lines[:at], extra, *lines[at:]])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sequences", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--min-run", type=float, default=0.05, help="shortest sequence before a cut (s)")
    parser.add_argument("--max-run", type=float, default=1.0, help="longest sequence before a cut (s)")
    parser.add_argument("--minutes", type=float, help="stop after this long, whatever the sequences run")
    parser.add_argument("--no-jobs", action="store_true", help="leave training jobs out of the workload")
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="nimbus-power-") as work:
        tally, power = run_power_loss(
            Path(work),
            args.sequences,
            args.seed,
            threads=args.threads,
            min_run=args.min_run,
            max_run=args.max_run,
            jobs=not args.no_jobs,
            minutes=args.minutes,
            progress=lambda tally: print(
                f"{tally.kills} cuts, {len(tally.violations)} violations {tally.violations[-1:]}",
                file=sys.stderr,
                flush=True,
            ),
        )
    print(power_report(tally, power, time.monotonic() - started))
    sys.exit(1 if tally.violations else 0)


if __name__ == "__main__":
    main()
