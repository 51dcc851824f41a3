"""Tags of SageMaker models, endpoint configurations and endpoints and of CloudWatch Logs groups: kept
at creation and by the tagging operations, and read for ``aws:ResourceTag/*`` conditions, so a
policy that lets a user invoke (or read the logs of) team a's endpoints decides by the tags."""

from __future__ import annotations

import io
import json
import tarfile
import time
import uuid
from typing import Any

import numpy as np
import pytest
import xgboost
from botocore.exceptions import ClientError
from conftest import NimbusServer, error_code
from job_support import settled
from roles import execution_role

XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
TEAM_A = {"StringEquals": {"aws:ResourceTag/team": "a"}}


def _archive() -> bytes:
    rows = np.random.default_rng(7).normal(size=(40, 3))
    booster = xgboost.train({"max_depth": 2}, xgboost.DMatrix(rows, label=rows[:, 0] > 0), num_boost_round=3)
    raw = bytes(booster.save_raw("json"))
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        info = tarfile.TarInfo("xgboost-model")
        info.size = len(raw)
        tar.addfile(info, io.BytesIO(raw))
    return archive.getvalue()


def _user(nimbus: NimbusServer, *actions: str) -> dict[str, str]:
    """Keys of a user who may perform ``actions`` only on resources tagged team=a."""
    iam, name = nimbus.client("iam"), f"tags-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    statement = {"Effect": "Allow", "Action": list(actions), "Resource": "*", "Condition": TEAM_A}
    policy = {"Version": "2012-10-17", "Statement": [statement]}
    iam.put_user_policy(UserName=name, PolicyName="team-a", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}


def _denied(call: Any, **request: Any) -> None:
    with pytest.raises(ClientError) as caught:
        call(**request)
    assert error_code(caught) in ("AccessDeniedException", "AccessDenied")


def test_endpoint_and_log_group_tags_decide_tag_conditions(nimbus: NimbusServer) -> None:
    s3, sagemaker, logs = nimbus.client("s3"), nimbus.client("sagemaker"), nimbus.client("logs")
    suffix = uuid.uuid4().hex[:8]
    bucket, name = f"tags-{suffix}", f"tagged-{suffix}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="model.tar.gz", Body=_archive())
    model_arn = sagemaker.create_model(
        ModelName=name,
        PrimaryContainer={"Image": XGBOOST_IMAGE, "ModelDataUrl": f"s3://{bucket}/model.tar.gz"},
        ExecutionRoleArn=execution_role(sagemaker),
        Tags=[{"Key": "team", "Value": "a"}],
    )["ModelArn"]
    variant = {
        "VariantName": "AllTraffic",
        "ModelName": name,
        "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large",
    }
    config_arn = sagemaker.create_endpoint_config(
        EndpointConfigName=name, ProductionVariants=[variant], Tags=[{"Key": "stage", "Value": "test"}]
    )["EndpointConfigArn"]
    endpoint_arn = sagemaker.create_endpoint(
        EndpointName=name, EndpointConfigName=name, Tags=[{"Key": "team", "Value": "b"}]
    )["EndpointArn"]
    assert sagemaker.list_tags(ResourceArn=model_arn)["Tags"] == [{"Key": "team", "Value": "a"}]
    assert sagemaker.list_tags(ResourceArn=config_arn)["Tags"] == [{"Key": "stage", "Value": "test"}]
    keys = _user(nimbus, "sagemaker:InvokeEndpoint", "logs:FilterLogEvents", "logs:ListTagsForResource")
    runtime, their_logs = nimbus.client("sagemaker-runtime", **keys), nimbus.client("logs", **keys)
    described = settled(
        lambda: sagemaker.describe_endpoint(EndpointName=name), "EndpointStatus", ("Creating",), 120
    )
    assert described["EndpointStatus"] == "InService"
    invoke = {"EndpointName": name, "ContentType": "text/csv", "Body": b"0.5,1,2\n"}

    _denied(runtime.invoke_endpoint, **invoke)  # the endpoint is team b's
    sagemaker.add_tags(
        ResourceArn=endpoint_arn, Tags=[{"Key": "team", "Value": "a"}, {"Key": "cost", "Value": "7"}]
    )
    assert sagemaker.list_tags(ResourceArn=endpoint_arn)["Tags"] == [
        {"Key": "team", "Value": "a"},
        {"Key": "cost", "Value": "7"},
    ]
    assert 0 <= float(runtime.invoke_endpoint(**invoke)["Body"].read()) <= 1  # now team a's
    sagemaker.delete_tags(ResourceArn=endpoint_arn, TagKeys=["team"])
    _denied(runtime.invoke_endpoint, **invoke)
    with pytest.raises(ClientError) as caught:
        sagemaker.add_tags(ResourceArn=f"{model_arn}-missing", Tags=[{"Key": "team", "Value": "a"}])
    assert error_code(caught) == "ValidationException"

    group = f"/aws/sagemaker/Endpoints/{name}"
    deadline = time.monotonic() + 30
    while not logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]:  # the worker's first lines
        assert time.monotonic() < deadline, f"{group} was never written"
        time.sleep(0.2)
    group_arn = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["logGroupArn"]
    _denied(their_logs.filter_log_events, logGroupName=group)
    logs.tag_log_group(logGroupName=group, tags={"team": "a", "cost": "7"})
    assert their_logs.list_tags_for_resource(resourceArn=group_arn)["tags"] == {"team": "a", "cost": "7"}
    assert their_logs.filter_log_events(logGroupName=group)["events"]
    logs.untag_resource(resourceArn=group_arn, tagKeys=["team"])
    assert logs.list_tags_log_group(logGroupName=group)["tags"] == {"cost": "7"}
    _denied(their_logs.filter_log_events, logGroupName=group)
    logs.tag_resource(resourceArn=group_arn, tags={"team": "a"})
    assert their_logs.filter_log_events(logGroupName=group)["events"]
    with pytest.raises(ClientError) as caught:
        logs.tag_log_group(logGroupName=f"{group}-missing", tags={"team": "a"})
    assert error_code(caught) == "ResourceNotFoundException"
    too_many = {f"k{index}": "v" for index in range(50)}  # 50 more: over the limit with the tags held
    with pytest.raises(ClientError) as caught:
        logs.tag_resource(resourceArn=group_arn, tags=too_many)
    assert error_code(caught) == "TooManyTagsException"
    assert logs.list_tags_log_group(logGroupName=group)["tags"] == {"cost": "7", "team": "a"}  # unchanged
    with pytest.raises(ClientError) as caught:
        sagemaker.add_tags(ResourceArn=endpoint_arn, Tags=[{"Key": k, "Value": "v"} for k in too_many])
    assert error_code(caught) == "ValidationException"
    assert len(sagemaker.list_tags(ResourceArn=endpoint_arn)["Tags"]) < 50  # nothing of it was added
    sagemaker.delete_endpoint(EndpointName=name)
