"""A second Nimbus, started with NIMBUS_TLS=1 (as `nimbus serve --tls`) and NIMBUS_AUTHORIZATION=log-only:
boto3 and the AWS CLI verify its certificate with the CA `nimbus env` exports as AWS_CA_BUNDLE, so
does the code of a sandboxed training job, and a user no policy allows is served, the denial only
logged with the statement that decided it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import certifi
import pytest
import requests
from conftest import NimbusServer, nimbus_cli, parse_exports
from test_iam_roles_in_jobs import TRUST, _archive, _log, _train

from nimbus.gateway import tls


class TlsServer(NimbusServer):
    @property
    def endpoint_url(self) -> str:
        return f"https://localhost:{self.port}"


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    base = tmp_path_factory.mktemp("tls")
    (base / "data").mkdir()
    server = TlsServer(base / "data", base, settings={"NIMBUS_TLS": "1", "NIMBUS_AUTHORIZATION": "log-only"})
    tls.prepare(base / "data", ["localhost"], None, None)  # the CA exists before the first health check
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REQUESTS_CA_BUNDLE", str(base / "data" / "tls" / "ca.pem"))  # the health checks
        server.start()
        try:
            yield server
        finally:
            server.stop()


def test_https_verified_with_the_exported_ca(secure: TlsServer) -> None:
    exports = parse_exports(
        nimbus_cli("env", "--data-dir", str(secure.data_dir), "--port", str(secure.port)).stdout
    )
    ca = exports["AWS_CA_BUNDLE"]
    assert exports["AWS_ENDPOINT_URL"].startswith("https://") and Path(ca).is_file()
    s3 = secure.client("s3", verify=ca)
    s3.create_bucket(Bucket="secure")
    s3.put_object(Bucket="secure", Key="k", Body=b"over tls")
    assert s3.get_object(Bucket="secure", Key="k")["Body"].read() == b"over tls"
    with pytest.raises(requests.exceptions.SSLError):  # the public trust store does not know the local CA
        requests.get(secure.endpoint_url + "/_nimbus/health", timeout=30, verify=certifi.where())
    env = {**secure.env(), "AWS_CA_BUNDLE": ca}
    aws = Path(sys.executable).parent / "aws"
    listed = subprocess.run(
        [sys.executable, str(aws), "s3api", "list-objects-v2", "--bucket", "secure"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    assert [item["Key"] for item in json.loads(listed.stdout)["Contents"]] == ["k"]


def test_log_only_serves_and_logs_the_deciding_statement(secure: TlsServer) -> None:
    ca = str(secure.data_dir / "tls" / "ca.pem")
    iam = secure.client("iam", verify=ca)
    iam.create_user(UserName="migrating")
    iam.put_user_policy(
        UserName="migrating",
        PolicyName="no-deletes",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Sid": "NoDeletes", "Effect": "Deny", "Action": "s3:Delete*", "Resource": "*"}
                ],
            }
        ),
    )
    key = iam.create_access_key(UserName="migrating")["AccessKey"]
    user_s3 = secure.client(
        "s3", verify=ca, aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
    )
    user_s3.create_bucket(Bucket="migrating")  # no policy allows it: logged, not refused
    user_s3.delete_bucket(Bucket="migrating")
    log = (secure.log_dir / "nimbus-serve-1.log").read_text()  # the server writes it unbuffered
    denials = [json.loads(line) for line in log.splitlines() if line.startswith('{"authorization"')]
    assert {
        "authorization": "denied (log-only)",
        "principal": f"arn:aws:iam::{secure.account_id}:user/migrating",
        "action": "s3:CreateBucket",
        "resource": "arn:aws:s3:::migrating",
        "decision": "implicitDeny",
        "deciding": "implicit deny: no identity-based policy allows it",
    } in denials
    assert any(
        d["action"] == "s3:DeleteBucket" and d["decision"] == "explicitDeny" and "NoDeletes" in d["deciding"]
        for d in denials
    )


def test_sandboxed_job_verifies_https_with_the_local_ca(secure: TlsServer) -> None:
    """The job's SDK calls reach Nimbus over HTTPS: the CA is readable in the sandbox, named by
    AWS_CA_BUNDLE."""
    ca = str(secure.data_dir / "tls" / "ca.pem")
    iam, s3 = secure.client("iam", verify=ca), secure.client("s3", verify=ca)
    role = iam.create_role(RoleName="tls-trainer", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    s3.create_bucket(Bucket="tls-job")
    script = (
        "import boto3, os\n"
        'print("identity:", boto3.client("sts").get_caller_identity()["Arn"], os.environ["AWS_CA_BUNDLE"])\n'
    )
    s3.put_object(Bucket="tls-job", Key="source/sourcedir.tar.gz", Body=_archive(script))
    described = _train(secure.client("sagemaker", verify=ca), "tls-job", role, "tls-job")
    log = _log(secure.client("logs", verify=ca), "tls-job")
    assert f"identity: arn:aws:sts::{secure.account_id}:assumed-role/tls-trainer/tls-job {ca}" in log, log
    assert described["TrainingJobStatus"] == "Completed", described
