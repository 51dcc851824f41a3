"""Shared fixtures: a real ``nimbus serve`` subprocess and real AWS clients pointed at it.

The server is started once per session on a free loopback port with a temporary data dir.
Tests that need a restart on the same data dir use the ``restart_server`` fixture.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import http.client
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import botocore.config
import pytest
import requests
import sqlalchemy
from botocore.exceptions import ClientError

REPO_ROOT = Path(__file__).resolve().parent.parent
HEALTH_PATH = "/_nimbus/health"
STARTUP_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: a deliberately large case (few of these, each one big)")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    # the server must never pick up the developer's AWS settings or a stray endpoint
    for name in list(env):
        if name.startswith("AWS_") or name.startswith("NIMBUS_"):
            del env[name]
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    env["COLUMNS"] = "250"  # tables printed by the CLI must not truncate key ids
    return env


def nimbus_cli(*args: str, timeout: float = 60.0, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``python -m nimbus ARGS`` and return the completed process."""
    proc = subprocess.run(
        [sys.executable, "-m", "nimbus", *args],
        cwd=REPO_ROOT,
        env=_subprocess_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"`nimbus {' '.join(args)}` exited {proc.returncode}\n"
            f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return proc


def parse_exports(text: str) -> dict[str, str]:
    """Parse ``export NAME=value`` or ``NAME=value`` lines (values may be shell-quoted)."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip().removeprefix("export ").strip()
        name, sep, value = line.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name.strip()):
            continue
        parts = shlex.split(value) if value else [""]
        found[name.strip()] = parts[0] if parts else ""
    return found


def fresh_test_database() -> dict[str, str]:
    """NIMBUS_DATABASE_URL for a new, empty database in the PostgreSQL cluster that
    NIMBUS_TEST_DATABASE_URL names (tools/postgres.sh sets it); no setting, so SQLite, without it."""
    cluster_url = os.environ.get("NIMBUS_TEST_DATABASE_URL")
    if not cluster_url:
        return {}
    name = f"nimbus_{uuid.uuid4().hex[:16]}"
    engine = sqlalchemy.create_engine(cluster_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        engine.dispose()
    url = sqlalchemy.make_url(cluster_url).set(database=name)
    return {"NIMBUS_DATABASE_URL": url.render_as_string(hide_password=False)}


class NimbusServer:
    """A ``nimbus serve`` subprocess plus the credentials and clients to talk to it."""

    def __init__(
        self, data_dir: Path, log_dir: Path, host: str = "127.0.0.1", settings: dict[str, str] | None = None
    ) -> None:
        self.data_dir = data_dir
        self.log_dir = log_dir
        self.host = host
        # NIMBUS_* variables for the server, beyond the defaults; on PostgreSQL runs, a database of its own
        # unless they name one (a second node shares the first one's)
        self.settings = settings or {}
        if "NIMBUS_DATABASE_URL" not in self.settings:
            self.settings = fresh_test_database() | self.settings
        self.port = free_port()
        self.registry_port = free_port()  # the container registry's port (NIMBUS_REGISTRY_PORT)
        self.proc: subprocess.Popen[bytes] | None = None
        self.access_key = ""
        self.secret_key = ""
        self.account_id = ""
        self.region = "us-east-1"
        self._starts = 0
        self._log_path: Path | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        assert self.proc is None, "server already running"
        self._starts += 1
        self._log_path = self.log_dir / f"nimbus-serve-{self._starts}.log"
        log = open(self._log_path, "wb")  # noqa: SIM115 - kept open for the child's lifetime
        try:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "nimbus",
                    "serve",
                    "--host",
                    self.host,
                    "--port",
                    str(self.port),
                    "--data-dir",
                    str(self.data_dir),
                ],
                cwd=REPO_ROOT,
                env=_subprocess_env() | {"NIMBUS_REGISTRY_PORT": str(self.registry_port)} | self.settings,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        finally:
            log.close()
        self._wait_healthy()
        self._load_credentials()

    def log_text(self) -> str:
        """Everything the running server has logged so far."""
        if self._log_path is None or not self._log_path.exists():
            return ""
        return self._log_path.read_text(errors="replace")

    def _server_output(self) -> str:
        text = self.log_text()
        return text[-8000:] if text else "<no output>"

    def _wait_healthy(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        last_error = "no attempt"
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                self.proc = None
                pytest.fail(f"nimbus serve exited with {code} during startup:\n{self._server_output()}")
            try:
                resp = requests.get(self.endpoint_url + HEALTH_PATH, timeout=2)
                if resp.status_code == 200:
                    resp.json()  # the health answer must be JSON
                    return
                last_error = f"HTTP {resp.status_code}: {resp.text[:200]}"
            except (requests.RequestException, ValueError) as exc:
                last_error = repr(exc)
            time.sleep(0.2)
        self.stop()
        pytest.fail(
            f"nimbus serve not healthy after {STARTUP_TIMEOUT_S:.0f} s ({last_error}):\n"
            f"{self._server_output()}"
        )

    def _load_credentials(self) -> None:
        proc = nimbus_cli("env", "--data-dir", str(self.data_dir), "--port", str(self.port), check=False)
        if proc.returncode != 0:  # `env` may not take --port: the endpoint is ours anyway
            proc = nimbus_cli("env", "--data-dir", str(self.data_dir))
        values = parse_exports(proc.stdout)
        missing = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} - set(values)
        assert not missing, f"`nimbus env` did not print {sorted(missing)}:\n{proc.stdout}"
        self.access_key = values["AWS_ACCESS_KEY_ID"]
        self.secret_key = values["AWS_SECRET_ACCESS_KEY"]
        self.region = values.get("AWS_DEFAULT_REGION") or "us-east-1"
        self.account_id = ""
        creds = self.data_dir / "credentials.json"
        if creds.exists():
            with contextlib.suppress(ValueError):
                data = json.loads(creds.read_text())
                if isinstance(data, dict):
                    self.account_id = str(data.get("account_id") or "")

    def stop(self) -> int | None:
        """SIGINT, then SIGKILL after 10 s. Returns the exit code (None if it was not running)."""
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=STOP_TIMEOUT_S)
        return proc.returncode

    def kill(self) -> None:
        """SIGKILL, as a crash: nothing stops cleanly (a node's leases are left to expire)."""
        assert self.proc is not None, "server not running"
        self.proc.kill()
        self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        """Stop and start again on the same data dir and port."""
        self.stop()
        self.start()

    def is_running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # ---- clients ---------------------------------------------------------------------------

    def client(self, service_name: str, **kw: Any) -> Any:
        """A boto3 client with the root credentials, no retries, pointed at this server."""
        params: dict[str, Any] = {
            "endpoint_url": self.endpoint_url,
            "aws_access_key_id": self.access_key,
            "aws_secret_access_key": self.secret_key,
            "region_name": self.region,
            "config": botocore.config.Config(retries={"max_attempts": 1}),
        }
        if "config" in kw:
            params["config"] = params["config"].merge(kw.pop("config"))
        params.update(kw)
        return boto3.session.Session().client(service_name, **params)

    def env(self) -> dict[str, str]:
        """os.environ with AWS_* set for this server, config files pointed at /dev/null."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            AWS_ACCESS_KEY_ID=self.access_key,
            AWS_SECRET_ACCESS_KEY=self.secret_key,
            AWS_DEFAULT_REGION=self.region,
            AWS_REGION=self.region,
            AWS_ENDPOINT_URL=self.endpoint_url,
            AWS_CONFIG_FILE=os.devnull,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
            AWS_EC2_METADATA_DISABLED="true",
            AWS_MAX_ATTEMPTS="1",
            AWS_RETRY_MODE="standard",
            AWS_PAGER="",
        )
        return env

    def s3_root(self) -> Path:
        return self.data_dir / "s3"

    def new_user_client(self, service_name: str) -> tuple[str, Any]:
        """A new IAM user with no policy (its ARN), and a client of ``service_name`` signed as it."""
        iam = self.client("iam")
        name = f"user-{uuid.uuid4().hex[:8]}"
        arn = iam.create_user(UserName=name)["User"]["Arn"]
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return arn, self.client(
            service_name, aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
        )


class TlsServer(NimbusServer):
    """A ``nimbus serve --tls`` (NIMBUS_TLS=1), addressed as localhost, the name its certificate has."""

    @property
    def endpoint_url(self) -> str:
        return f"https://localhost:{self.port}"

    @property
    def ca_bundle(self) -> str:
        return str(self.data_dir / "tls" / "ca.pem")


@contextlib.contextmanager
def tls_server(base: Path, settings: dict[str, str] | None = None) -> Iterator[TlsServer]:
    """A TlsServer on a new data dir under ``base``, its CA made first and trusted by requests."""
    from nimbus.gateway import tls

    (base / "data").mkdir()
    server = TlsServer(base / "data", base, settings={"NIMBUS_TLS": "1", **(settings or {})})
    tls.prepare(base / "data", ["localhost"], None, None)  # the CA exists before the first health check
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REQUESTS_CA_BUNDLE", server.ca_bundle)
        server.start()
        try:
            yield server
        finally:
            server.stop()


def error_code(exc: pytest.ExceptionInfo[ClientError] | ClientError) -> str:
    err = exc.value if isinstance(exc, pytest.ExceptionInfo) else exc
    return str(err.response.get("Error", {}).get("Code"))


def http_status(exc: pytest.ExceptionInfo[ClientError] | ClientError) -> int:
    err = exc.value if isinstance(exc, pytest.ExceptionInfo) else exc
    return int(err.response["ResponseMetadata"]["HTTPStatusCode"])


def md5_etag(data: bytes) -> str:
    return '"' + hashlib.md5(data).hexdigest() + '"'


def list_keys(s3: Any, bucket: str, **kw: Any) -> list[str]:
    """Every key in the bucket, through the ListObjectsV2 paginator."""
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, **kw):
        keys.extend(o["Key"] for o in page.get("Contents", []))
    return keys


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def error_code(self) -> str | None:
        match = re.search(rb"<Code>([^<]*)</Code>", self.body)
        if match:
            return match.group(1).decode()
        with contextlib.suppress(ValueError, AttributeError):
            data = json.loads(self.body)
            code = data.get("__type") or data.get("code") or data.get("Code")
            return str(code).rsplit("#", 1)[-1] if code else None
        return None


def raw_request(
    server: NimbusServer, method: str, path: str, *, headers: dict[str, str] | None = None, body: bytes = b""
) -> RawResponse:
    """Send exactly this request line, headers and body (no client-side path normalisation)."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return RawResponse(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


def signed_request(
    server: NimbusServer,
    method: str,
    path: str,
    *,
    service: str = "s3",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    access_key: str | None = None,
    secret_key: str | None = None,
    when: dt.datetime | None = None,
) -> RawResponse:
    """Sign a hand-made request with botocore's SigV4 (optionally at a fixed time) and send it raw.

    path is the request target as sent: already percent-encoded, query string included.
    """
    from botocore.auth import S3SigV4Auth, SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    creds = Credentials(access_key or server.access_key, secret_key or server.secret_key)
    request = AWSRequest(
        method=method, url=server.endpoint_url + path, data=body, headers=dict(headers or {})
    )
    signer = (
        S3SigV4Auth(creds, "s3", server.region)
        if service == "s3"
        else SigV4Auth(creds, service, server.region)
    )
    patcher = (
        mock.patch("botocore.auth.get_current_datetime", return_value=when)
        if when
        else contextlib.nullcontext()
    )
    with patcher:
        signer.add_auth(request)
    sent = {k: v for k, v in request.headers.items()}
    return raw_request(server, method, path, headers=sent, body=body)


def snapshot_files(root: Path) -> dict[str, bytes]:
    """Every regular file under root (relative path -> bytes); empty if root is missing."""
    files: dict[str, bytes] = {}
    if not root.exists():
        return files
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            path = Path(dirpath) / name
            if path.is_file():
                files[str(path.relative_to(root))] = path.read_bytes()
    return files


def empty_bucket(s3: Any, bucket: str) -> None:
    with contextlib.suppress(ClientError):
        for page in s3.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
            for up in page.get("Uploads", []):
                with contextlib.suppress(ClientError):
                    s3.abort_multipart_upload(Bucket=bucket, Key=up["Key"], UploadId=up["UploadId"])
    with contextlib.suppress(ClientError):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            for i in range(0, len(keys), 1000):
                with contextlib.suppress(ClientError):
                    s3.delete_objects(Bucket=bucket, Delete={"Objects": keys[i : i + 1000], "Quiet": True})


# ---- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def nimbus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NimbusServer]:
    base = tmp_path_factory.mktemp("nimbus")
    data_dir = base / "data"
    data_dir.mkdir()
    server = NimbusServer(data_dir=data_dir, log_dir=base)
    server.start()
    try:
        yield server
    finally:
        was_running = server.is_running()
        proc = server.proc
        code = server.stop()
        if was_running and proc is not None:
            assert proc.poll() is not None, "nimbus serve did not exit"
            assert code is not None


@pytest.fixture(scope="session")
def s3(nimbus: NimbusServer) -> Any:
    return nimbus.client("s3")


@pytest.fixture
def restart_server(nimbus: NimbusServer) -> Iterator[Callable[[], NimbusServer]]:
    """Call it to restart the session server on the same data dir (and port)."""

    def restart() -> NimbusServer:
        nimbus.restart()
        return nimbus

    yield restart
    if not nimbus.is_running():  # a test that stopped it must not break the rest of the session
        nimbus.start()


def unique_bucket_name(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:20]}"


@pytest.fixture
def bucket(nimbus: NimbusServer, s3: Any) -> Iterator[str]:
    """A fresh, empty bucket per test; emptied and deleted afterwards (best effort)."""
    name = unique_bucket_name()
    s3.create_bucket(Bucket=name)
    yield name
    if nimbus.is_running():
        client = nimbus.client("s3")
        empty_bucket(client, name)
        with contextlib.suppress(ClientError):
            client.delete_bucket(Bucket=name)
