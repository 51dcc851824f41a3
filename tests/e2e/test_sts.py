"""STS GetCallerIdentity with the root credentials."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import requests
from conftest import NimbusServer


def test_get_caller_identity(nimbus: NimbusServer) -> None:
    stored = json.loads((nimbus.data_dir / "credentials.json").read_text())
    account = stored["account_id"]
    assert re.fullmatch(r"\d{12}", account)

    resp = nimbus.client("sts").get_caller_identity()
    assert resp["Account"] == account
    assert resp["Arn"] == f"arn:aws:iam::{account}:root"
    assert resp["UserId"]
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert resp["ResponseMetadata"]["HTTPHeaders"].get("x-amzn-requestid")


def test_get_caller_identity_cli(nimbus: NimbusServer) -> None:
    aws = Path(sys.executable).parent / "aws"
    proc = subprocess.run(
        [sys.executable, str(aws), "sts", "get-caller-identity", "--output", "json"],
        env=nimbus.env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    identity = json.loads(proc.stdout)
    assert identity["Account"] == nimbus.account_id
    assert identity["Arn"] == f"arn:aws:iam::{nimbus.account_id}:root"


def test_sts_unsigned_is_refused(nimbus: NimbusServer) -> None:
    resp = requests.post(
        nimbus.endpoint_url + "/",
        data={"Action": "GetCallerIdentity", "Version": "2011-06-15"},
        timeout=30,
    )
    assert resp.status_code in (400, 403)
    assert "<Code>MissingAuthenticationToken</Code>" in resp.text or "<Code>AccessDenied</Code>" in resp.text
