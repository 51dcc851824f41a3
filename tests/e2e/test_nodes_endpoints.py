"""An endpoint across two `nimbus serve` nodes on one database and one data directory (on SQLite and, in
`make test`'s PostgreSQL run, on PostgreSQL): the node that created it serves it, the other forwards it
the invocations it receives and answers exactly as a local call does; when the serving node is killed,
the other takes the endpoint over and answers with its own workers."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
import xgboost
from botocore.exceptions import ClientError
from conftest import NimbusServer, error_code, http_status
from test_nodes import _second_node, leased_nodes  # noqa: F401 (a fixture)
from test_sagemaker_hosting import _csv, _deploy, _wait, booster  # noqa: F401 (a fixture)

FORWARDED_INVOCATIONS = "/_nimbus/sagemaker/invocations"


@pytest.fixture(scope="module")
def endpoint(leased_nodes: list[NimbusServer], booster: Any) -> Iterator[str]:  # noqa: F811
    """An endpoint created through the first node, which serves it."""
    first = leased_nodes[0]
    s3, sagemaker = first.client("s3"), first.client("sagemaker")
    bucket = f"nodes-endpoints-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    name = _deploy(sagemaker, s3, bucket, booster[2], instances=1)
    assert _wait(sagemaker, name)["EndpointStatus"] == "InService"
    yield name


def _predictions(runtime: Any, endpoint: str, rows: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
    answer = runtime.invoke_endpoint(EndpointName=endpoint, ContentType="text/csv", Body=_csv(rows))
    return np.array([float(line) for line in answer["Body"].read().decode().splitlines()]), answer


def _invocations(node: NimbusServer, endpoint: str) -> float:
    dimensions = [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": "AllTraffic"}]
    datapoints = node.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/SageMaker",
        MetricName="Invocations",
        Dimensions=dimensions,
        StartTime=datetime.now(UTC) - timedelta(minutes=10),
        EndTime=datetime.now(UTC) + timedelta(minutes=1),
        Period=3600,
        Statistics=["Sum"],
    )["Datapoints"]
    return sum(point["Sum"] for point in datapoints)


def test_any_node_answers_an_endpoint_and_takes_it_over_when_its_node_dies(
    leased_nodes: list[NimbusServer],  # noqa: F811
    endpoint: str,
    booster: Any,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    trained, rows, _ = booster
    expected = trained.predict(xgboost.DMatrix(rows))
    first, second = leased_nodes[0], _second_node(leased_nodes, tmp_path_factory)
    local, forwarded = first.client("sagemaker-runtime"), second.client("sagemaker-runtime")

    # through the second node: forwarded to the first, the model's answer and AWS's shapes unchanged
    predicted, answer = _predictions(forwarded, endpoint, rows)
    np.testing.assert_allclose(predicted, expected, atol=1e-6)
    assert (answer["ContentType"], answer["InvokedProductionVariant"]) == ("text/csv", "AllTraffic")
    errors = []
    for runtime in (local, forwarded):
        with pytest.raises(ClientError) as caught:
            runtime.invoke_endpoint(EndpointName=endpoint, ContentType="text/csv", Body=b"1.0,abc,\n2")
        errors.append((error_code(caught), http_status(caught), caught.value.response["OriginalStatusCode"]))
        with pytest.raises(ClientError) as caught:
            runtime.invoke_endpoint(EndpointName=endpoint, TargetVariant="Nope", Body=b"1")
        errors.append((error_code(caught), http_status(caught), str(caught.value)))
    assert errors[:2] == errors[2:]
    assert [code for code, _, _ in errors] == ["ModelError", "ValidationError"] * 2
    # counted once, by the node each call reached: an answer and a model error through the second node,
    # a model error through the first (a variant not found reaches no model: not an invocation)
    deadline = time.monotonic() + 30
    while _invocations(second, endpoint) < 3 and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(1.5)  # past the next flush of each node's metrics: a second count would have landed
    assert _invocations(second, endpoint) == 3

    # a forwarded call needs a grant signed with the install's key
    refused = urllib.request.Request(
        first.endpoint_url + FORWARDED_INVOCATIONS, data=b"1", headers={"X-Nimbus-Grant": "forged.grant"}
    )
    with pytest.raises(urllib.error.HTTPError) as denied:
        urllib.request.urlopen(refused, timeout=10)
    assert (denied.value.code, denied.value.headers["X-Nimbus-Error"]) == (403, "AccessDenied")

    first.kill()  # SIGKILL: its lease lapses, the second node takes the endpoint over
    seen = set()
    deadline = time.monotonic() + 90
    while True:
        try:
            predicted, _ = _predictions(forwarded, endpoint, rows)
            break
        except ClientError as error:  # the dead node does not answer until its lease expires
            seen.add((error_code(error), http_status(error)))
            assert time.monotonic() < deadline, seen
            time.sleep(0.5)
    assert seen <= {("ServiceUnavailable", 503)}
    np.testing.assert_allclose(predicted, expected, atol=1e-6)
    assert (
        second.client("sagemaker").describe_endpoint(EndpointName=endpoint)["EndpointStatus"] == "InService"
    )
