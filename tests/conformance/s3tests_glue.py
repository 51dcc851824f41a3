"""The helpers of Ceph's s3-tests (``s3tests/functional/__init__.py``, ``utils.py``, ``test_iam.py``,
``test_s3.py`` at commit 8f0ae7b404a3a2fcf7038bf1e6bf29544fe9b6a3) that the vendored tests in
test_s3tests_policies.py call, with the same names and behaviour, bound to the test session's Nimbus
instead of an ``s3tests.conf``. Their users are those ``bench/s3_conformance.py --part policies``
makes: [s3 main] and [iam root] are the account's root, [iam] an IAM user allowed ``s3:*`` and
``iam:*``, [s3 alt] an IAM user who may only create and list buckets. As with ``--open-buckets``,
each new bucket has Block Public Access turned off (RGW, the suite's target, has none; S3 turns it
on, and would refuse the suite's public bucket policies). Adapted from s3-tests, MIT licence:
Copyright (c) 2011 New Dream Network, LLC (see S3TESTS_LICENSE)."""

from __future__ import annotations

import itertools
import json
import random
import string
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from conftest import NimbusServer

OPEN = {
    name: False
    for name in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
}


@dataclass
class _Setup:
    nimbus: NimbusServer
    prefix: str  # of bucket names, IAM names and IAM paths, unique to the session
    users: dict[str, dict[str, str]]  # section -> boto3 key arguments; the root's are empty
    user_ids: dict[str, str]
    buckets: list[str]  # made by get_new_bucket, removed with their objects afterwards
    clients: dict[tuple[str, str], Any]


_setup: list[_Setup] = []
_bucket_counter = itertools.count(1)


def _allowed(*actions: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}],
        }
    )


def configured(nimbus: NimbusServer) -> Iterator[None]:
    """Makes the suite's users for the session's server, then removes them and the buckets made."""
    prefix = f"s3t{uuid.uuid4().hex[:6]}"
    iam = nimbus.client("iam")
    users: dict[str, dict[str, str]] = {"s3 main": {}, "iam root": {}}
    user_ids = {}
    for section, actions in (
        ("iam", ("s3:*", "iam:*")),
        ("s3 alt", ("s3:CreateBucket", "s3:ListAllMyBuckets")),
    ):
        name = f"{prefix}-{section.replace(' ', '-')}"
        iam.create_user(UserName=name)
        iam.put_user_policy(UserName=name, PolicyName="base", PolicyDocument=_allowed(*actions))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        users[section] = {
            "aws_access_key_id": key["AccessKeyId"],
            "aws_secret_access_key": key["SecretAccessKey"],
        }
        user_ids[section] = name
    _setup.append(_Setup(nimbus, prefix, users, user_ids, [], {}))
    yield
    s3 = nimbus.client("s3")
    for bucket in _setup.pop().buckets:
        for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=item["Key"])
        s3.delete_bucket(Bucket=bucket)
    for section, name in user_ids.items():
        iam.delete_access_key(UserName=name, AccessKeyId=users[section]["aws_access_key_id"])
        iam.delete_user_policy(UserName=name, PolicyName="base")
        iam.delete_user(UserName=name)


def _client(section: str, service_name: str = "s3") -> Any:
    """One client per user and service, made once (the suite makes one per call: slower, the same)."""
    setup = _setup[0]
    if (section, service_name) not in setup.clients:
        setup.clients[section, service_name] = setup.nimbus.client(service_name, **setup.users[section])
    return setup.clients[section, service_name]


def get_client() -> Any:
    return _client("s3 main")


def get_alt_client() -> Any:
    return _client("s3 alt")


def get_alt_user_id() -> str:
    return _setup[0].user_ids["s3 alt"]


def get_iam_client(service_name: str = "iam") -> Any:
    return _client("iam", service_name)


def get_iam_root_client(service_name: str = "iam") -> Any:
    return _client("iam root", service_name)


def get_iam_s3client(**kwargs: Any) -> Any:
    return _setup[0].nimbus.client("s3", **kwargs)


def get_iam_path_prefix() -> str:
    return f"/{_setup[0].prefix}/"


def make_iam_name(name: str) -> str:
    return f"{_setup[0].prefix}-{name}"


def get_new_bucket_name() -> str:
    return f"{_setup[0].prefix}-{next(_bucket_counter)}"


def get_new_bucket(client: Any = None, name: str | None = None) -> str:
    name = name or get_new_bucket_name()
    (client or get_client()).create_bucket(Bucket=name)
    _setup[0].buckets.append(name)
    get_client().put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=OPEN)
    return name


def create_iam_user_s3client(client: Any) -> Any:
    name = make_iam_name("".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(8)))
    user = client.create_user(UserName=name, Path=get_iam_path_prefix())
    keys = client.create_access_key(UserName=user["User"]["UserName"])
    return get_iam_s3client(
        aws_access_key_id=keys["AccessKey"]["AccessKeyId"],
        aws_secret_access_key=keys["AccessKey"]["SecretAccessKey"],
    )


def assert_raises(exc_class: type[Exception], call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        call(*args, **kwargs)
    except exc_class as error:
        return error
    raise AssertionError(f"{exc_class.__name__} not raised")


def _get_status(response: dict[str, Any]) -> int:
    return int(response["ResponseMetadata"]["HTTPStatusCode"])


def _get_status_and_error_code(response: dict[str, Any]) -> tuple[int, str]:
    return _get_status(response), str(response["Error"]["Code"])


def check_access_denied(call: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    error = assert_raises(ClientError, call, *args, **kwargs)
    assert _get_status(error.response) == 403


def retry_on(code: str, tries: int, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    for attempt in range(tries):
        try:
            return call(*args, **kwargs)
        except ClientError as error:
            if attempt + 1 < tries and error.response["Error"]["Code"] in code:
                time.sleep(attempt)
                continue
            raise
