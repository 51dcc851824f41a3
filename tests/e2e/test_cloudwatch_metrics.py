"""CloudWatch metrics and alarms, Application Auto Scaling and /_nimbus/metrics end to end, on one
server whose alarm periods run 60 times faster than AWS's (NIMBUS_ALARM_TIME_SCALE=60): boto3's
CloudWatch client (JSON) and a query-protocol form post, an XGBoost endpoint that a target tracking
policy scales from 1 to 2 instances under load, and the Prometheus text parsed by prometheus_client."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import xgboost
from botocore.exceptions import ClientError
from conftest import NimbusServer, error_code, raw_request, signed_request
from job_support import XGBOOST_IMAGE, settled, start_xgboost_training
from prometheus_client.parser import text_string_to_metric_families
from roles import execution_role
from sklearn.datasets import load_breast_cancer

VARIANT = "sagemaker:variant:DesiredInstanceCount"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NimbusServer]:
    base = tmp_path_factory.mktemp("metrics")
    node = NimbusServer(base / "data", base, settings={"NIMBUS_ALARM_TIME_SCALE": "60"})
    node.start()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="module")
def cloudwatch(server: NimbusServer) -> Any:
    return server.client("cloudwatch")


def _raises(code: str, call: Any, **kw: Any) -> None:
    with pytest.raises(ClientError) as caught:
        call(**kw)
    assert error_code(caught) == code, caught.value.response


def test_metric_data_is_stored_read_and_listed(server: NimbusServer, cloudwatch: Any) -> None:
    namespace = f"Shop/{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=5)
    dims = [{"Name": "Store", "Value": "north"}, {"Name": "Tier", "Value": "gold"}]
    cloudwatch.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {"MetricName": "Orders", "Dimensions": dims, "Value": 3, "Unit": "Count", "Timestamp": now},
            {
                "MetricName": "Orders",
                "Dimensions": dims,
                "Values": [1, 10],
                "Counts": [2, 1],
                "Unit": "Count",
                "Timestamp": now + timedelta(seconds=20),
            },
            {
                "MetricName": "Orders",
                "Dimensions": dims,
                "Unit": "Count",
                "Timestamp": now + timedelta(minutes=1),
                "StatisticValues": {"SampleCount": 4, "Sum": 20, "Minimum": 2, "Maximum": 8},
            },
            {
                "MetricName": "Latency",
                "Dimensions": dims[:1],
                "Value": 0.25,
                "Unit": "Seconds",
                "Timestamp": now,
            },
        ],
    )
    refused = [
        (
            {
                "MetricName": "X",
                "Value": 1,
                "StatisticValues": {"SampleCount": 1, "Sum": 1, "Minimum": 1, "Maximum": 1},
            },
            "InvalidParameterCombination",
        ),
        ({"MetricName": "X", "Values": [1, 2], "Counts": [1]}, "InvalidParameterValue"),
        ({"MetricName": "X", "Value": 1, "Timestamp": now - timedelta(days=20)}, "InvalidParameterValue"),
        ({"MetricName": "X"}, "MissingParameter"),
    ]
    for datum, code in refused:
        _raises(code, cloudwatch.put_metric_data, Namespace=namespace, MetricData=[datum])
    _raises(
        "InvalidParameterValue",
        cloudwatch.put_metric_data,
        Namespace="AWS/EC2",
        MetricData=[{"MetricName": "X", "Value": 1}],
    )

    window = {
        "Namespace": namespace,
        "MetricName": "Orders",
        "Dimensions": dims,
        "StartTime": now - timedelta(minutes=1),
        "EndTime": now + timedelta(minutes=2),
    }
    points = cloudwatch.get_metric_statistics(
        **window, Period=60, Statistics=["SampleCount", "Sum", "Average", "Minimum", "Maximum"]
    )["Datapoints"]
    by_time = {point["Timestamp"]: point for point in sorted(points, key=lambda point: point["Timestamp"])}
    first, second = by_time[now], by_time[now + timedelta(minutes=1)]
    assert (first["SampleCount"], first["Sum"], first["Minimum"], first["Maximum"]) == (4, 15, 1, 10)
    assert first["Average"] == pytest.approx(3.75) and first["Unit"] == "Count"
    assert (second["SampleCount"], second["Sum"], second["Minimum"], second["Maximum"]) == (4, 20, 2, 8)
    _raises(
        "InvalidParameterValue", cloudwatch.get_metric_statistics, **window, Period=45, Statistics=["Sum"]
    )
    _raises("MissingParameter", cloudwatch.get_metric_statistics, **window, Period=60)
    _raises(
        "InvalidParameterValue",
        cloudwatch.get_metric_statistics,
        **window,
        Period=60,
        ExtendedStatistics=["p99"],
    )
    assert (
        cloudwatch.get_metric_statistics(**window, Period=60, Statistics=["Sum"], Unit="Bytes")["Datapoints"]
        == []
    )

    data = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "orders",
                "MetricStat": {
                    "Metric": {k: window[k] for k in ("Namespace", "MetricName", "Dimensions")},
                    "Period": 120,
                    "Stat": "Sum",
                },
            },
        ],
        StartTime=window["StartTime"],
        EndTime=window["EndTime"],
        ScanBy="TimestampAscending",
    )["MetricDataResults"]
    assert data[0]["Id"] == "orders" and sum(data[0]["Values"]) == 35 and data[0]["StatusCode"] == "Complete"
    _raises(
        "InvalidParameterValue",
        cloudwatch.get_metric_data,
        MetricDataQueries=[{"Id": "Upper", "Expression": "m1*2"}],
        StartTime=now,
        EndTime=now + timedelta(1),
    )

    listed = cloudwatch.list_metrics(Namespace=namespace)["Metrics"]
    assert sorted(metric["MetricName"] for metric in listed) == ["Latency", "Orders"]
    tiered = cloudwatch.list_metrics(Namespace=namespace, Dimensions=[{"Name": "Tier"}])["Metrics"]
    assert [(metric["MetricName"], metric["Dimensions"]) for metric in tiered] == [("Orders", dims)]
    assert (
        cloudwatch.list_metrics(Namespace=namespace, Dimensions=[{"Name": "Store", "Value": "south"}])[
            "Metrics"
        ]
        == []
    )
    assert len(cloudwatch.list_metrics(Namespace=namespace, RecentlyActive="PT3H")["Metrics"]) == 2

    # the AWS CLI, and the query protocol older SDKs speak, reach the same data
    cli = subprocess.run(
        [
            sys.executable,
            str(Path(sys.executable).parent / "aws"),
            "cloudwatch",
            "put-metric-data",
            "--namespace",
            namespace,
            "--metric-name",
            "Latency",
            "--value",
            "0.5",
            "--unit",
            "Seconds",
            "--dimensions",
            "Store=north",
        ],
        env=server.env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert cli.returncode == 0, cli.stderr
    latest = cloudwatch.get_metric_statistics(
        Namespace=namespace,
        MetricName="Latency",
        Dimensions=dims[:1],
        StartTime=now - timedelta(hours=1),
        EndTime=datetime.now(UTC) + timedelta(minutes=1),
        Period=3600 * 2,
        Statistics=["Maximum"],
    )["Datapoints"]
    assert max(point["Maximum"] for point in latest) == 0.5
    form = f"Action=ListMetrics&Version=2010-08-01&Namespace={namespace.replace('/', '%2F')}".encode()
    answer = signed_request(
        server,
        "POST",
        "/",
        service="monitoring",
        body=form,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    assert answer.status == 200 and b"<MetricName>Latency</MetricName>" in answer.body, answer.body


def _subscribed_queue(server: NimbusServer, topic: str) -> str:
    sns, sqs = server.client("sns"), server.client("sqs")
    url = sqs.create_queue(QueueName=f"alarms-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    statement = {
        "Effect": "Allow",
        "Principal": {"Service": "sns.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": topic}},
    }
    policy = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    return str(url)


def test_alarm_goes_into_alarm_and_bad_alarms_are_refused(server: NimbusServer, cloudwatch: Any) -> None:
    namespace = f"Queue/{uuid.uuid4().hex[:8]}"
    name = f"deep-{uuid.uuid4().hex[:8]}"
    alarm = {
        "AlarmName": name,
        "Namespace": namespace,
        "MetricName": "Depth",
        "Statistic": "Maximum",
        "Period": 60,
        "EvaluationPeriods": 3,
        "DatapointsToAlarm": 2,
        "Threshold": 100.0,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
    }
    _raises("ValidationError", cloudwatch.put_metric_alarm, **{**alarm, "DatapointsToAlarm": 4})
    _raises("ValidationError", cloudwatch.put_metric_alarm, **{**alarm, "Period": 45})
    _raises(
        "ValidationError", cloudwatch.put_metric_alarm, **alarm, AlarmActions=["arn:aws:sqs:us-east-1:1:q"]
    )
    assert cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"] == []
    topic = server.client("sns").create_topic(Name=f"alarms-{uuid.uuid4().hex[:8]}")["TopicArn"]
    queue = _subscribed_queue(server, topic)
    cloudwatch.put_metric_alarm(**alarm, AlarmActions=[topic])
    assert (
        cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"] == "INSUFFICIENT_DATA"
    )

    deadline = time.monotonic() + 30
    state = ""
    while time.monotonic() < deadline and state != "ALARM":
        cloudwatch.put_metric_data(
            Namespace=namespace, MetricData=[{"MetricName": "Depth", "Value": 500, "StorageResolution": 1}]
        )
        time.sleep(0.2)
        state = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"]
    described = cloudwatch.describe_alarms(AlarmNamePrefix="deep-", StateValue="ALARM")["MetricAlarms"]
    assert name in [item["AlarmName"] for item in described]
    assert (
        "greater than the threshold (100)"
        in described[[a["AlarmName"] for a in described].index(name)]["StateReason"]
    )

    received = server.client("sqs").receive_message(QueueUrl=queue, WaitTimeSeconds=10)["Messages"]
    notification = json.loads(received[0]["Body"])
    assert (notification["AlarmName"], notification["NewStateValue"]) == (name, "ALARM")
    assert notification["OldStateValue"] in ("OK", "INSUFFICIENT_DATA")  # OK once it has seen no data
    assert notification["Trigger"]["MetricName"] == "Depth"

    manual = {"StateValue": "OK", "StateReason": "checked by hand"}
    _raises("ResourceNotFound", cloudwatch.set_alarm_state, AlarmName="no-such-alarm", **manual)
    _raises("InvalidFormat", cloudwatch.set_alarm_state, AlarmName=name, StateReasonData="{", **manual)
    _raises("ResourceNotFound", cloudwatch.delete_alarms, AlarmNames=[name, "no-such-alarm"])
    assert len(cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]) == 1
    cloudwatch.delete_alarms(AlarmNames=[name])
    assert cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"] == []


@pytest.fixture(scope="module")
def model_archive(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    features, labels = load_breast_cancer(return_X_y=True)
    trained = xgboost.train(
        {"objective": "binary:logistic", "max_depth": 2},
        xgboost.DMatrix(features, label=labels),
        num_boost_round=5,
    )
    folder: Path = tmp_path_factory.mktemp("model")
    trained.save_model(str(folder / "xgboost-model"))
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        tar.add(folder / "xgboost-model", arcname="xgboost-model")
    return archive.getvalue()


def _endpoint(server: NimbusServer, archive: bytes) -> str:
    s3, sagemaker = server.client("s3"), server.client("sagemaker")
    suffix = uuid.uuid4().hex[:8]
    s3.create_bucket(Bucket=f"scaling-{suffix}")
    s3.put_object(Bucket=f"scaling-{suffix}", Key="model.tar.gz", Body=archive)
    sagemaker.create_model(
        ModelName=f"m-{suffix}",
        ExecutionRoleArn=execution_role(sagemaker),
        PrimaryContainer={"Image": XGBOOST_IMAGE, "ModelDataUrl": f"s3://scaling-{suffix}/model.tar.gz"},
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"c-{suffix}",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": f"m-{suffix}",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName=f"e-{suffix}", EndpointConfigName=f"c-{suffix}")
    described = settled(
        lambda: sagemaker.describe_endpoint(EndpointName=f"e-{suffix}"),
        "EndpointStatus",
        ("Creating",),
        120,
        every=0.3,
    )
    assert described["EndpointStatus"] == "InService", described
    return f"e-{suffix}"


@pytest.fixture(scope="module")
def training_job(server: NimbusServer) -> str:
    """A built-in XGBoost training job, started (not awaited) so it trains while the endpoint scales."""
    bucket, name = f"training-{uuid.uuid4().hex[:8]}", f"job-{uuid.uuid4().hex[:8]}"
    s3 = server.client("s3")
    s3.create_bucket(Bucket=bucket)
    start_xgboost_training(s3, server.client("sagemaker"), bucket, name, execution_role(s3), rounds=10)
    return name


def test_endpoint_scales_out_under_load(
    server: NimbusServer, cloudwatch: Any, model_archive: bytes, training_job: str
) -> None:
    endpoint = _endpoint(server, model_archive)
    resource = f"endpoint/{endpoint}/variant/AllTraffic"
    scaling = server.client("application-autoscaling")
    sagemaker, runtime = server.client("sagemaker"), server.client("sagemaker-runtime")
    _raises(
        "ValidationException",
        scaling.register_scalable_target,
        ServiceNamespace="sagemaker",
        ResourceId=resource,
        ScalableDimension=VARIANT,
        MinCapacity=3,
        MaxCapacity=2,
    )
    _raises(
        "ValidationException",
        scaling.register_scalable_target,
        ServiceNamespace="sagemaker",
        ResourceId="endpoint/nope/variant/AllTraffic",
        ScalableDimension=VARIANT,
        MinCapacity=1,
        MaxCapacity=2,
    )
    _raises(
        "ObjectNotFoundException",
        scaling.put_scaling_policy,
        PolicyName="p",
        ServiceNamespace="sagemaker",
        ResourceId=resource,
        ScalableDimension=VARIANT,
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={"TargetValue": 5.0},
    )
    scaling.register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId=resource,
        ScalableDimension=VARIANT,
        MinCapacity=1,
        MaxCapacity=2,
    )
    policy = scaling.put_scaling_policy(
        PolicyName="invocations",
        ServiceNamespace="sagemaker",
        ResourceId=resource,
        ScalableDimension=VARIANT,
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 3.0,
            "ScaleOutCooldown": 60,
            "ScaleInCooldown": 600,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
            },
        },
    )
    names = sorted(alarm["AlarmName"] for alarm in policy["Alarms"])
    assert [name.rsplit("-", 5)[0] for name in names] == [
        f"TargetTracking-{resource}-AlarmHigh",
        f"TargetTracking-{resource}-AlarmLow",
    ]
    alarms = cloudwatch.describe_alarms(AlarmNamePrefix=f"TargetTracking-{resource}-")["MetricAlarms"]
    assert sorted(alarm["AlarmName"] for alarm in alarms) == names
    assert all(alarm["AlarmActions"] == [policy["PolicyARN"]] for alarm in alarms)

    rows = load_breast_cancer().data[:3]
    body = "\n".join(",".join(str(value) for value in row) for row in rows).encode()
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            runtime.invoke_endpoint(EndpointName=endpoint, ContentType="text/csv", Body=body)

    workers = [threading.Thread(target=load, daemon=True) for _ in range(2)]
    for worker in workers:
        worker.start()
    try:
        described = settled(
            lambda: {
                **sagemaker.describe_endpoint(EndpointName=endpoint),
                "Count": sagemaker.describe_endpoint(EndpointName=endpoint)["ProductionVariants"][0][
                    "CurrentInstanceCount"
                ],
            },
            "Count",
            (1,),
            90,
            every=0.5,
        )
    finally:
        stop.set()
        for worker in workers:
            worker.join()
    described = settled(
        lambda: sagemaker.describe_endpoint(EndpointName=endpoint), "EndpointStatus", ("Updating",), 60
    )
    assert described["ProductionVariants"][0]["CurrentInstanceCount"] == 2
    activities = settled(
        lambda: scaling.describe_scaling_activities(ServiceNamespace="sagemaker", ResourceId=resource)[
            "ScalingActivities"
        ][0],
        "StatusCode",
        ("InProgress",),
        30,
    )
    assert activities["Description"] == "Setting desired instance count to 2."
    assert "AlarmHigh" in activities["Cause"] and activities["StatusCode"] == "Successful"

    window = {"StartTime": datetime.now(UTC) - timedelta(minutes=10), "EndTime": datetime.now(UTC)}
    dims = [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": "AllTraffic"}]
    invocations = cloudwatch.get_metric_statistics(
        Namespace="AWS/SageMaker",
        MetricName="Invocations",
        Dimensions=dims,
        Period=600,
        Statistics=["Sum"],
        **window,
    )
    assert invocations["Datapoints"][0]["Sum"] > 0
    latency = cloudwatch.get_metric_statistics(
        Namespace="AWS/SageMaker",
        MetricName="ModelLatency",
        Dimensions=dims,
        Period=600,
        Statistics=["Average"],
        **window,
    )
    assert latency["Datapoints"][0]["Unit"] == "Microseconds" and latency["Datapoints"][0]["Average"] > 0
    listed = {
        metric["MetricName"]
        for metric in cloudwatch.list_metrics(
            Namespace="AWS/SageMaker", Dimensions=[{"Name": "EndpointName", "Value": endpoint}]
        )["Metrics"]
    }
    assert {
        "Invocations",
        "InvocationsPerInstance",
        "ModelLatency",
        "OverheadLatency",
        "Invocation4XXErrors",
        "Invocation5XXErrors",
    } <= listed

    utilization = cloudwatch.list_metrics(
        Namespace="/aws/sagemaker/Endpoints", Dimensions=[{"Name": "EndpointName", "Value": endpoint}]
    )["Metrics"]
    assert {"CPUUtilization", "MemoryUtilization"} <= {metric["MetricName"] for metric in utilization}
    families = {
        f.name: f
        for f in text_string_to_metric_families(raw_request(server, "GET", "/_nimbus/metrics").body.decode())
    }
    instances = {
        s.labels["endpoint"]: s.value for s in families["nimbus_sagemaker_variant_instances"].samples
    }
    assert instances[endpoint] == 2
    invoked = [
        s for s in families["nimbus_requests"].samples if s.labels.get("operation") == "InvokeEndpoint"
    ]
    assert sum(sample.value for sample in invoked if sample.name == "nimbus_requests_total") > 0

    # step scaling, run by an alarm of the user's: back to one instance once a custom metric is low
    target = {"ServiceNamespace": "sagemaker", "ResourceId": resource, "ScalableDimension": VARIANT}
    scaling.delete_scaling_policy(PolicyName="invocations", **target)
    assert cloudwatch.describe_alarms(AlarmNamePrefix=f"TargetTracking-{resource}-")["MetricAlarms"] == []
    step = scaling.put_scaling_policy(
        PolicyName="quiet",
        PolicyType="StepScaling",
        StepScalingPolicyConfiguration={
            "AdjustmentType": "ExactCapacity",
            "StepAdjustments": [{"MetricIntervalUpperBound": 0.0, "ScalingAdjustment": 1}],
            "Cooldown": 60,
        },
        **target,
    )
    namespace = f"Queue/{uuid.uuid4().hex[:8]}"
    cloudwatch.put_metric_alarm(
        AlarmName=f"quiet-{endpoint}",
        Namespace=namespace,
        MetricName="Backlog",
        Statistic="Average",
        Period=60,
        EvaluationPeriods=2,
        Threshold=10.0,
        ComparisonOperator="LessThanThreshold",
        AlarmActions=[step["PolicyARN"]],
    )
    policies = scaling.describe_scaling_policies(ServiceNamespace="sagemaker", PolicyNames=["quiet"])
    assert policies["ScalingPolicies"][0]["Alarms"][0]["AlarmName"] == f"quiet-{endpoint}"

    def backlog_then_count() -> dict[str, Any]:
        cloudwatch.put_metric_data(
            Namespace=namespace, MetricData=[{"MetricName": "Backlog", "Value": 2, "StorageResolution": 1}]
        )
        variant = sagemaker.describe_endpoint(EndpointName=endpoint)["ProductionVariants"][0]
        return {"Count": variant["CurrentInstanceCount"]}

    assert settled(backlog_then_count, "Count", (2,), 60, every=0.3)["Count"] == 1
    latest = scaling.describe_scaling_activities(ServiceNamespace="sagemaker", ResourceId=resource)
    assert latest["ScalingActivities"][0]["Description"] == "Setting desired instance count to 1."
    assert len(latest["ScalingActivities"]) == 2

    scaling.deregister_scalable_target(
        ServiceNamespace="sagemaker", ResourceId=resource, ScalableDimension=VARIANT
    )
    assert cloudwatch.describe_alarms(AlarmNamePrefix=f"TargetTracking-{resource}-")["MetricAlarms"] == []
    assert (
        scaling.describe_scaling_policies(ServiceNamespace="sagemaker", ResourceId=resource)[
            "ScalingPolicies"
        ]
        == []
    )


def test_training_job_publishes_its_metric_definitions(
    server: NimbusServer, cloudwatch: Any, training_job: str
) -> None:
    sagemaker = server.client("sagemaker")
    job = settled(
        lambda: sagemaker.describe_training_job(TrainingJobName=training_job),
        "TrainingJobStatus",
        ("InProgress",),
        120,
    )
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    final = {metric["MetricName"]: metric["Value"] for metric in job["FinalMetricDataList"]}
    host = [{"Name": "Host", "Value": f"{training_job}/algo-1"}]
    published = settled(
        lambda: {
            "Metrics": cloudwatch.list_metrics(Namespace="/aws/sagemaker/TrainingJobs", Dimensions=host)[
                "Metrics"
            ]
        },
        "Metrics",
        ([],),
        10,
    )["Metrics"]
    assert {metric["MetricName"] for metric in published} == set(final)
    now = datetime.now(UTC)
    points = cloudwatch.get_metric_statistics(
        Namespace="/aws/sagemaker/TrainingJobs",
        MetricName="train:error",
        Dimensions=host,
        StartTime=now - timedelta(minutes=10),
        EndTime=now,
        Period=600,
        Statistics=["Minimum"],
    )["Datapoints"]
    assert points[0]["Minimum"] <= final["train:error"]


def test_prometheus_metrics_parse(server: NimbusServer, cloudwatch: Any) -> None:
    cloudwatch.list_metrics()
    uneven = {"MetricName": "X", "Values": [1, 2], "Counts": [1]}
    _raises("InvalidParameterValue", cloudwatch.put_metric_data, Namespace="Nimbus/Test", MetricData=[uneven])
    answer = raw_request(server, "GET", "/_nimbus/metrics")
    assert answer.status == 200
    families = {family.name: family for family in text_string_to_metric_families(answer.body.decode())}
    requests = {
        (sample.labels["service"], sample.labels["operation"], sample.labels["status"]): sample.value
        for sample in families["nimbus_requests"].samples
        if sample.name == "nimbus_requests_total"
    }
    assert requests[("cloudwatch", "ListMetrics", "200")] >= 1
    assert requests[("cloudwatch", "PutMetricData", "400")] >= 1
    counts = [s for s in families["nimbus_request_duration_seconds"].samples if s.name.endswith("_count")]
    assert any(sample.labels["operation"] == "ListMetrics" and sample.value > 0 for sample in counts)
    alarms = {s.labels["state"]: s.value for s in families["nimbus_cloudwatch_alarms"].samples}
    described = [alarm["StateValue"] for alarm in cloudwatch.describe_alarms()["MetricAlarms"]]
    assert alarms == {state: described.count(state) for state in ("OK", "ALARM", "INSUFFICIENT_DATA")}
