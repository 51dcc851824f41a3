"""S3 benchmark: Nimbus against moto_server on loopback, with the raw disk as the physical limit.

For each system: PutObject then GetObject of small objects from concurrent boto3 clients (one client per
thread), then one large object PUT and GET through put_object/get_object (streamed, read in 1 MiB chunks).
The raw disk numbers are a write with fsync and a read of a file of the same size in the same file system as
Nimbus's data dir; nothing is dropped from the page cache, so the read is a cached read.

Everything is bounded and loopback only; the servers are stopped at the end.

    bench/run.sh [--requests 2000] [--concurrency 4] [--object-kib 4] [--large-mib 256]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import botocore.config
import requests

REPO_ROOT = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024
STARTUP_TIMEOUT_S = 60.0


@dataclass
class Server:
    name: str
    endpoint_url: str
    access_key: str
    secret_key: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    def client(self, service: str = "s3", **config: Any) -> Any:
        """A boto3 client of this server; ``config`` overrides the botocore settings below (no
        retries: a benchmark must see every failure)."""
        settings = {"retries": {"max_attempts": 1}, "max_pool_connections": 4, "tcp_keepalive": True}
        settings.update(config)
        return boto3.session.Session().client(
            service,
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
            config=botocore.config.Config(**settings),
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


@dataclass
class Result:
    put_rps: float = 0.0
    put_p50_ms: float = 0.0
    put_p99_ms: float = 0.0
    put_cpu_ms: float = 0.0
    get_rps: float = 0.0
    get_p50_ms: float = 0.0
    get_p99_ms: float = 0.0
    get_cpu_ms: float = 0.0
    large_put_mbps: float = 0.0
    large_get_mbps: float = 0.0
    large_put_cpu: float = 0.0  # server CPU ms per MiB
    large_get_cpu: float = 0.0
    errors: list[str] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "NIMBUS_"))}
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def wait_until(check: Callable[[], bool], proc: subprocess.Popen[bytes], log_path: Path, what: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{log_path.read_text()[-4000:]}")
        try:
            if check():
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(
        f"{what} did not become ready in {STARTUP_TIMEOUT_S:.0f} s:\n{log_path.read_text()[-4000:]}"
    )


def start_nimbus(work: Path, settings: dict[str, str] | None = None, source: Path = REPO_ROOT) -> Server:
    """A Nimbus server with its data under ``work``; ``settings`` are NIMBUS_* variables for it. ``source``:
    the tree whose code it runs (another checkout, to measure a change side by side on the same data)."""
    port = free_port()
    data_dir = work / "nimbus-data"
    log_path = work / ("nimbus.log" if source == REPO_ROOT else f"nimbus-{source.name}.log")
    env = clean_env()
    env = {**env, "PYTHONPATH": str(source) + os.pathsep + env["PYTHONPATH"], **(settings or {})}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "nimbus", "serve", "--host", "127.0.0.1", "--port", str(port),
             "--data-dir", str(data_dir)],
            cwd=source, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    wait_until(
        lambda: requests.get(url + "/_nimbus/health", timeout=2).status_code == 200, proc, log_path, "nimbus"
    )
    out = subprocess.run(
        [sys.executable, "-m", "nimbus", "env", "--data-dir", str(data_dir), "--port", str(port)],
        cwd=REPO_ROOT, env=clean_env(), capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    values: dict[str, str] = {}
    for line in out.splitlines():
        name, sep, value = line.strip().removeprefix("export ").partition("=")
        if sep:
            values[name] = shlex.split(value)[0] if value else ""
    return Server("Nimbus", url, values["AWS_ACCESS_KEY_ID"], values["AWS_SECRET_ACCESS_KEY"], proc, log_path)


def start_moto(work: Path) -> Server:
    port = free_port()
    log_path = work / "moto.log"
    moto = Path(sys.executable).parent / "moto_server"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(moto), "-H", "127.0.0.1", "-p", str(port)],
            env=clean_env(), stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: requests.get(url + "/moto-api/", timeout=2).status_code < 500, proc, log_path, "moto")
    return Server("moto", url, "testing", "testing", proc, log_path)


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def run_small(
    server: Server, bucket: str, op: str, requests_total: int, threads: int, size: int
) -> tuple[float, float, float, float, list[str]]:
    payload = os.urandom(size)
    per_thread = requests_total // threads
    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors: list[str] = []
    clients = [server.client() for _ in range(threads)]
    barrier = threading.Barrier(threads + 1)

    def worker(t: int) -> None:
        client = clients[t]
        barrier.wait()
        for i in range(per_thread):
            key = f"small/{t}/{i:06d}"
            start = time.perf_counter()
            try:
                if op == "put":
                    client.put_object(Bucket=bucket, Key=key, Body=payload)
                else:
                    body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
                    if len(body) != size:
                        raise RuntimeError(f"short read {len(body)}")
            except Exception as exc:
                errors.append(f"{op} {key}: {exc}")
                continue
            latencies[t].append(time.perf_counter() - start)

    workers = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    barrier.wait()
    cpu_start = server_cpu_seconds(server)
    wall_start = time.perf_counter()
    for w in workers:
        w.join()
    wall = time.perf_counter() - wall_start
    cpu = server_cpu_seconds(server) - cpu_start
    flat = [x for lat in latencies for x in lat]
    if not flat:
        return 0.0, 0.0, 0.0, 0.0, errors
    p50, p99 = percentile(flat, 50) * 1000, percentile(flat, 99) * 1000
    return len(flat) / wall, p50, p99, cpu / len(flat) * 1000, errors


def server_cpu_seconds(server: Server) -> float:
    """CPU time (user + system) the server process has used: what a request costs the server alone,
    free of the boto3 client's own CPU, which shares this machine's cores in the same run."""
    fields = Path(f"/proc/{server.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_large(server: Server, bucket: str, source: Path) -> tuple[float, float, float, float]:
    """MiB/s of one large PUT and GET, and the server's CPU milliseconds per MiB for each (steadier
    than wall time on a shared machine)."""
    client = server.client()
    size = source.stat().st_size
    with open(source, "rb") as f:
        cpu = server_cpu_seconds(server)
        start = time.perf_counter()
        client.put_object(Bucket=bucket, Key="large.bin", Body=f)
        put_s = time.perf_counter() - start
        put_cpu = server_cpu_seconds(server) - cpu
    cpu = server_cpu_seconds(server)
    start = time.perf_counter()
    body = client.get_object(Bucket=bucket, Key="large.bin")["Body"]
    got = 0
    while chunk := body.read(MIB):
        got += len(chunk)
    get_s = time.perf_counter() - start
    get_cpu = server_cpu_seconds(server) - cpu
    if got != size:
        raise RuntimeError(f"{server.name}: large GET returned {got} bytes, expected {size}")
    mib = size / MIB
    return mib / put_s, mib / get_s, put_cpu * 1000 / mib, get_cpu * 1000 / mib


def bench_server(server: Server, args: argparse.Namespace, source: Path) -> Result:
    result = Result()
    client = server.client()
    bucket = f"bench-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    size = args.object_kib * 1024
    # a short warm-up so that first-request costs (imports, connection set-up) are not measured
    run_small(server, bucket, "put", args.concurrency * 10, args.concurrency, size)
    result.put_rps, result.put_p50_ms, result.put_p99_ms, result.put_cpu_ms, errors = run_small(
        server, bucket, "put", args.requests, args.concurrency, size
    )
    result.errors += errors
    result.get_rps, result.get_p50_ms, result.get_p99_ms, result.get_cpu_ms, errors = run_small(
        server, bucket, "get", args.requests, args.concurrency, size
    )
    result.errors += errors
    result.large_put_mbps, result.large_get_mbps, result.large_put_cpu, result.large_get_cpu = run_large(
        server, bucket, source
    )
    return result


def write_source(path: Path, mib: int) -> tuple[float, float]:
    """Write the large test file with fsync (raw disk write speed), then read it back (cached read)."""
    block = os.urandom(MIB)
    start = time.perf_counter()
    with open(path, "wb") as f:
        for i in range(mib):
            f.write(i.to_bytes(8, "big") + block[8:])
        f.flush()
        os.fsync(f.fileno())
    write_s = time.perf_counter() - start
    start = time.perf_counter()
    with open(path, "rb") as f:
        while f.read(MIB):
            pass
    read_s = time.perf_counter() - start
    return mib / write_s, mib / read_s


def per_byte_costs(source: Path) -> list[tuple[str, float]]:
    """Where a large PUT's time can go, each stage alone over the same file in 1 MiB chunks (MiB/s):
    the digests Nimbus computes as the bytes stream in (SHA-256 of a signed payload, MD5 for the
    ETag, the CRC32 boto3 sends), one copy of each chunk, and the three digests in one pass."""
    from nimbus.storage.checksums import ALGORITHMS  # the hashers Nimbus itself runs

    sha256, md5, crc32 = ALGORITHMS["SHA256"], hashlib.md5, ALGORITHMS["CRC32"]
    stages: dict[str, Callable[[], list[Any]]] = {
        "SHA-256 (signed payload)": lambda: [sha256()],
        "MD5 (ETag)": lambda: [md5()],
        "CRC32 (x-amz-checksum-crc32)": lambda: [crc32()],
        "all three, one pass": lambda: [sha256(), md5(), crc32()],
    }
    mib = source.stat().st_size / MIB
    rates = []
    for label, make in stages.items():
        hashers = make()
        start = time.perf_counter()
        with open(source, "rb") as f:
            while chunk := f.read(MIB):
                for hasher in hashers:
                    hasher.update(chunk)
        rates.append((label, mib / (time.perf_counter() - start)))
    start = time.perf_counter()
    with open(source, "rb") as f:
        while chunk := f.read(MIB):
            bytes(bytearray(chunk))
    rates.append(("one copy of each chunk (cached read + copy)", mib / (time.perf_counter() - start)))
    return rates


def fmt(value: float, unit: str) -> str:
    return f"{value:,.1f} {unit}" if value else "n/a"


def ratio(a: float, b: float, higher_is_better: bool) -> str:
    if not a or not b:
        return "n/a"
    return f"{(a / b if higher_is_better else b / a):.2f}x"


def report(
    results: dict[str, Result],
    disk: tuple[float, float],
    costs: list[tuple[str, float]],
    args: argparse.Namespace,
) -> str:
    nim, moto = results.get("Nimbus", Result()), results.get("moto", Result())
    rows = [
        (f"PutObject {args.object_kib} KiB, req/s", nim.put_rps, moto.put_rps, "req/s", True),
        ("PutObject p50 latency", nim.put_p50_ms, moto.put_p50_ms, "ms", False),
        ("PutObject p99 latency", nim.put_p99_ms, moto.put_p99_ms, "ms", False),
        ("PutObject server CPU per request", nim.put_cpu_ms, moto.put_cpu_ms, "ms", False),
        (f"GetObject {args.object_kib} KiB, req/s", nim.get_rps, moto.get_rps, "req/s", True),
        ("GetObject p50 latency", nim.get_p50_ms, moto.get_p50_ms, "ms", False),
        ("GetObject p99 latency", nim.get_p99_ms, moto.get_p99_ms, "ms", False),
        ("GetObject server CPU per request", nim.get_cpu_ms, moto.get_cpu_ms, "ms", False),
        (f"PutObject {args.large_mib} MiB", nim.large_put_mbps, moto.large_put_mbps, "MiB/s", True),
        (f"GetObject {args.large_mib} MiB", nim.large_get_mbps, moto.large_get_mbps, "MiB/s", True),
        ("PutObject large: server CPU per MiB", nim.large_put_cpu, moto.large_put_cpu, "ms", False),
        ("GetObject large: server CPU per MiB", nim.large_get_cpu, moto.large_get_cpu, "ms", False),
    ]
    lines = [
        f"{args.requests} requests per small-object phase, {args.concurrency} threads "
        "(one boto3 client each), loopback.",
        "",
        "| metric | Nimbus | moto_server | Nimbus vs moto (>1 = Nimbus better) |",
        "| --- | ---: | ---: | ---: |",
    ]
    for label, a, b, unit, higher in rows:
        lines.append(f"| {label} | {fmt(a, unit)} | {fmt(b, unit)} | {ratio(a, b, higher)} |")
    lines += [
        "",
        f"Physical limit, same file system as the Nimbus data dir, {args.large_mib} MiB file:",
        "",
        "| disk | MiB/s |",
        "| --- | ---: |",
        f"| write + fsync | {disk[0]:,.1f} |",
        f"| read (page cache not dropped: a cached read) | {disk[1]:,.1f} |",
        "",
        f"Nimbus large PUT at {nim.large_put_mbps / disk[0]:.0%} of the disk's write + fsync, large GET at "
        f"{nim.large_get_mbps / disk[1]:.0%} of the cached read (aims: 50% each).",
        "",
        "Per-byte work of a PUT, each stage alone in this process over the same file (1 MiB chunks):",
        "",
        "| stage | MiB/s |",
        "| --- | ---: |",
        *(f"| {label} | {rate:,.1f} |" for label, rate in costs),
    ]
    for name, res in results.items():
        if res.errors:
            lines += ["", f"{name}: {len(res.errors)} failed requests, first: {res.errors[0]}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000, help="requests per small-object phase")
    parser.add_argument("--concurrency", type=int, default=4, help="threads, one boto3 client each")
    parser.add_argument("--object-kib", type=int, default=4)
    parser.add_argument("--large-mib", type=int, default=256)
    parser.add_argument("--only", choices=["nimbus", "moto"], help="benchmark one system only")
    parser.add_argument(
        "--work-dir", type=Path, help="where the data dir and the disk test live (default: tmp)"
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="nimbus-bench-", dir=args.work_dir) as tmp:
        work = Path(tmp)
        source = work / "large-source.bin"
        print(f"writing the {args.large_mib} MiB source file in {work} ...", file=sys.stderr)
        disk = write_source(source, args.large_mib)
        costs = per_byte_costs(source)
        results: dict[str, Result] = {}
        starters = {"nimbus": start_nimbus, "moto": start_moto}
        for name, start in starters.items():
            if args.only and args.only != name:
                continue
            print(f"starting {name} ...", file=sys.stderr)
            server = start(work)
            try:
                print(f"benchmarking {name} ...", file=sys.stderr)
                results[server.name] = bench_server(server, args, source)
            finally:
                server.stop()
        print(report(results, disk, costs, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
