"""Notebook instances: a lifecycle configuration, an instance whose presigned URL opens JupyterLab
through Nimbus's port, a notebook that trains and deploys with the SageMaker SDK run top to bottom by
nbclient on the instance's own kernel (over the proxy's websocket), its home kept across stop and
start, and deletion."""

from __future__ import annotations

import base64
import functools
import json
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

import nbformat
import pytest
import requests
import websocket
from botocore.exceptions import ClientError
from conftest import NimbusServer, error_code
from jupyter_server.gateway import managers as gateway_managers
from jupyter_server.gateway.gateway_client import GatewayClient
from jupyter_server.gateway.managers import GatewayKernelManager
from nbclient import NotebookClient
from roles import execution_role
from test_nodes import _second_node, leased_nodes  # noqa: F401 (a fixture)

TRUST_SAGEMAKER = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
NOTEBOOK_CELLS = [
    """
import boto3, sagemaker, numpy as np
from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput
from sagemaker.serializers import CSVSerializer
from sklearn.datasets import load_breast_cancer
session = sagemaker.Session()
role = sagemaker.get_execution_role()
print("role", role)
print("caller", boto3.client("sts").get_caller_identity()["Arn"])
""",
    """
features, labels = load_breast_cancer(return_X_y=True)
data = "/home/ec2-user/SageMaker/train.csv"  # the instance's persistent folder
np.savetxt(data, np.column_stack([labels, features]), delimiter=",", fmt="%.10g")
train = session.upload_data(data, key_prefix="notebook/train")
estimator = Estimator(
    image_uri=sagemaker.image_uris.retrieve("xgboost", session.boto_region_name, "1.7-1"),
    role=role, instance_count=1, instance_type="ml.m5.large",
    hyperparameters={"objective": "binary:logistic", "num_round": 10}, sagemaker_session=session,
)
estimator.fit({"train": TrainingInput(train, content_type="text/csv")}, logs="None")
""",
    """
predictor = estimator.deploy(1, "ml.m5.large", serializer=CSVSerializer(), wait=False)
session.wait_for_endpoint(predictor.endpoint_name, poll=1)
predicted = np.array(predictor.predict(features[:100]).decode().split(), dtype=float)
print("accuracy", ((predicted > 0.5) == labels[:100]).mean())
predictor.delete_model()
predictor.delete_endpoint()
""",
]


def _wait_for(client: Any, name: str, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        instance = client.describe_notebook_instance(NotebookInstanceName=name)
        if instance["NotebookInstanceStatus"] == status:
            return dict(instance)
        assert instance["NotebookInstanceStatus"] != "Failed", instance.get("FailureReason")
        time.sleep(0.5)
    raise AssertionError(f"{name} did not become {status}")


def _encoded(script: str) -> str:
    return base64.b64encode(script.encode()).decode()


def _run_notebook(base: str, cookie: str, monkeypatch: pytest.MonkeyPatch) -> nbformat.NotebookNode:
    """Runs the notebook with nbclient on a kernel of the instance, reached through the proxy (Jupyter
    Server's gateway client: REST to start the kernel, a websocket for its channels). That client
    sends no cookie on its websocket, as a browser would: it is given the session's."""
    connect = functools.partial(websocket.create_connection, cookie=f"nimbus-notebook={cookie}")
    monkeypatch.setattr(gateway_managers.websocket, "create_connection", connect)
    gateway = GatewayClient.instance()
    gateway.url = base.rstrip("/")
    gateway.headers = json.dumps({"Cookie": f"nimbus-notebook={cookie}"})
    gateway.request_timeout = 120.0
    try:
        notebook = nbformat.v4.new_notebook(
            cells=[nbformat.v4.new_code_cell(cell) for cell in NOTEBOOK_CELLS]
        )
        NotebookClient(notebook, km=GatewayKernelManager(), timeout=600, kernel_name="python3").execute()
        return notebook
    finally:
        GatewayClient.clear_instance()


def test_notebook_instance_serves_jupyterlab_and_runs_a_notebook(
    nimbus: NimbusServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, iam = nimbus.client("sagemaker"), nimbus.client("iam")
    name, config = f"nb-{uuid.uuid4().hex[:8]}", f"lc-{uuid.uuid4().hex[:8]}"
    role_name = f"NotebookRole-{uuid.uuid4().hex[:8]}"
    role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(TRUST_SAGEMAKER))["Role"][
        "Arn"
    ]
    iam.put_role_policy(RoleName=role_name, PolicyName="all", PolicyDocument=json.dumps(ALLOW_ALL))
    client.create_notebook_instance_lifecycle_config(
        NotebookInstanceLifecycleConfigName=config,
        OnCreate=[{"Content": _encoded("echo created >> /home/ec2-user/SageMaker/created.txt\n")}],
        OnStart=[
            {"Content": _encoded("echo started >> /home/ec2-user/SageMaker/started.txt\necho on-start ran\n")}
        ],
    )
    client.create_notebook_instance(
        NotebookInstanceName=name, InstanceType="ml.t3.medium", RoleArn=role, LifecycleConfigName=config
    )
    instance = _wait_for(client, name, "InService")
    assert instance["NotebookInstanceLifecycleConfigName"] == config and instance["RoleArn"] == role

    url = client.create_presigned_notebook_instance_url(NotebookInstanceName=name)["AuthorizedUrl"]
    base = url.split("?", 1)[0]
    assert urlsplit(url).netloc == urlsplit(nimbus.endpoint_url).netloc  # Nimbus's own port
    browser = requests.Session()
    page = browser.get(url, timeout=60)
    assert page.status_code == 200 and page.url == f"{base}lab"
    assert "JupyterLab" in page.text
    assert requests.get(f"{base}lab", timeout=60).status_code == 403  # no session, no notebook
    assert requests.get(url.replace("authToken=", "authToken=x"), timeout=60).status_code == 403

    notebook = _run_notebook(base, browser.cookies["nimbus-notebook"], monkeypatch)
    printed = "".join(output.get("text", "") for cell in notebook.cells for output in cell.outputs)
    assert f"role {role}" in printed  # get_execution_role() read DescribeNotebookInstance
    assert f"assumed-role/{role_name}/" in printed  # the kernel acts as the instance's execution role
    accuracy = float(printed.split("accuracy", 1)[1].split()[0])
    assert accuracy > 0.9
    jobs = client.list_training_jobs(SortBy="CreationTime", SortOrder="Descending")["TrainingJobSummaries"]
    assert jobs[0]["TrainingJobStatus"] == "Completed"

    client.stop_notebook_instance(NotebookInstanceName=name)
    _wait_for(client, name, "Stopped")
    assert requests.get(f"{base}lab", cookies=browser.cookies, timeout=60).status_code == 503
    client.start_notebook_instance(NotebookInstanceName=name)
    _wait_for(client, name, "InService")
    home = nimbus.data_dir.joinpath("sagemaker", "notebooks", nimbus.account_id, nimbus.region, name, "home")
    assert (home / "SageMaker" / "created.txt").read_text() == "created\n"  # on-create ran once
    assert (home / "SageMaker" / "started.txt").read_text() == "started\nstarted\n"
    assert (home / "SageMaker" / "train.csv").is_file()  # the notebook's file outlived the stop
    logs = nimbus.client("logs").get_log_events(
        logGroupName="/aws/sagemaker/NotebookInstances", logStreamName=f"{name}/LifecycleConfigOnStart"
    )
    assert any(event["message"] == "on-start ran" for event in logs["events"])

    with pytest.raises(ClientError) as caught:
        client.delete_notebook_instance(NotebookInstanceName=name)
    assert error_code(caught) == "ValidationException"  # InService: stop it first
    client.stop_notebook_instance(NotebookInstanceName=name)
    _wait_for(client, name, "Stopped")
    client.delete_notebook_instance(NotebookInstanceName=name)
    with pytest.raises(ClientError) as caught:
        client.describe_notebook_instance(NotebookInstanceName=name)
    assert "RecordNotFound" in str(caught.value)
    assert not home.exists()
    client.delete_notebook_instance_lifecycle_config(NotebookInstanceLifecycleConfigName=config)


def _run_on_kernel(base: str, browser: requests.Session, code: str) -> str:
    """What ``code`` prints on a new kernel of the instance, reached through ``base``: REST to start
    the kernel, its websocket to run the code."""
    xsrf = {"X-XSRFToken": browser.cookies.get("_xsrf", "")}
    kernel = browser.post(f"{base}api/kernels", json={"name": "python3"}, headers=xsrf, timeout=60)
    assert kernel.status_code == 201, kernel.text
    kernel_id = kernel.json()["id"]
    cookie = f"nimbus-notebook={browser.cookies['nimbus-notebook']}"
    channels = websocket.create_connection(
        f"{base.replace('http', 'ws', 1)}api/kernels/{kernel_id}/channels", cookie=cookie, timeout=60
    )
    try:
        msg_id = uuid.uuid4().hex
        header = {"msg_id": msg_id, "msg_type": "execute_request", "session": uuid.uuid4().hex}
        content = {"code": code, "silent": False, "store_history": False, "allow_stdin": False}
        request = {"header": header | {"username": "test", "version": "5.3"}, "parent_header": {}}
        channels.send(json.dumps(request | {"metadata": {}, "content": content, "channel": "shell"}))
        printed = ""
        while True:
            message = json.loads(channels.recv())
            if message["parent_header"].get("msg_id") != msg_id:
                continue
            if message["msg_type"] == "stream":
                printed += message["content"]["text"]
            if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
                return printed  # after all of the request's output (shell's execute_reply may come first)
    finally:
        channels.close()
        browser.delete(f"{base}api/kernels/{kernel_id}", headers=xsrf, timeout=60)


def test_a_notebook_instance_runs_on_one_node_any_node_opens_it_and_another_takes_it_over(
    leased_nodes: list[NimbusServer],  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Two nodes on one database and data dir: the instance's server runs on the node that started it,
    the other node leaves it alone when it starts and forwards it the instance's pages and kernel
    websockets; when that node is killed, the other starts the server and serves it."""
    first = leased_nodes[0]
    client = first.client("sagemaker")
    name = f"nb-{uuid.uuid4().hex[:8]}"
    client.create_notebook_instance(
        NotebookInstanceName=name, InstanceType="ml.t3.medium", RoleArn=execution_role(client)
    )
    _wait_for(client, name, "InService")
    second = _second_node(leased_nodes, tmp_path_factory)
    other = second.client("sagemaker")
    assert (
        other.describe_notebook_instance(NotebookInstanceName=name)["NotebookInstanceStatus"] == "InService"
    )

    # the second node signs the person in and forwards pages and the kernel's websocket to the first
    url = other.create_presigned_notebook_instance_url(NotebookInstanceName=name)["AuthorizedUrl"]
    base = url.split("?", 1)[0]
    assert urlsplit(base).netloc == urlsplit(second.endpoint_url).netloc
    browser = requests.Session()
    page = browser.get(url, timeout=60)
    assert page.status_code == 200 and "JupyterLab" in page.text
    assert _run_on_kernel(base, browser, "print(6 * 7)") == "42\n"
    forged = {"X-Nimbus-Grant": "forged.grant"}  # a node's grant is signed with the install's key
    first_base = base.replace(urlsplit(second.endpoint_url).netloc, urlsplit(first.endpoint_url).netloc)
    assert requests.get(f"{first_base}lab", headers=forged, timeout=60).status_code == 403

    first.kill()  # its lease lapses, the second node starts the server itself
    seen = set()
    deadline = time.monotonic() + 120
    while (answer := browser.get(f"{base}lab", timeout=60)).status_code != 200:
        seen.add(answer.status_code)  # the dead node does not answer; then the server is starting
        assert time.monotonic() < deadline, seen
        time.sleep(0.5)
    assert seen <= {502, 503} and "JupyterLab" in answer.text
    assert (
        other.describe_notebook_instance(NotebookInstanceName=name)["NotebookInstanceStatus"] == "InService"
    )
    other.stop_notebook_instance(NotebookInstanceName=name)
    _wait_for(other, name, "Stopped")
    other.delete_notebook_instance(NotebookInstanceName=name)
