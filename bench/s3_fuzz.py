"""The S3 request-path fuzzing of tests/e2e/test_s3_fuzz.py with a full budget (CI runs 40 examples
per family; this runs --examples, fresh random inputs each time) against its own server.

    bench/run.sh s3-fuzz [--examples 2000]

Prints the families run, the examples per family, and pytest's verdict (a 5xx answer or an uncaught
exception in the server log fails it, with the input that did it).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--examples", type=int, default=2000, help="Hypothesis examples per family")
    args = parser.parse_args(argv)
    env = {**os.environ, "NIMBUS_FUZZ_EXAMPLES": str(args.examples)}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/e2e/test_s3_fuzz.py", "-q", "-p", "no:cacheprovider",
         "--timeout=0", "--hypothesis-show-statistics"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    minutes = (time.perf_counter() - started) / 60
    verdict = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "no output"
    print(f"S3 request-path fuzzing: {args.examples} examples per family, {minutes:.1f} min: {verdict}")
    if done.returncode != 0:
        print(done.stdout[-6000:], done.stderr[-2000:], sep="\n")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
