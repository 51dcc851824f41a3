"""Your own container image, end to end: podman builds it (from Debian's busybox-static: nothing is
pulled from a hub) and pushes it into Nimbus's registry with the ECR token; the SageMaker Python SDK
trains with it (its model artefact lands in S3), deploys it (the endpoint answers /invocations from
the same image) and runs a processing job in it. A container that writes /opt/ml/output/failure
fails its job with that reason; with network isolation it has no network; a blob whose bytes do not
hash to its digest is refused."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError
from conftest import NimbusServer, error_code
from roles import execution_role
from sagemaker.estimator import Estimator
from sagemaker.model import Model
from sagemaker.predictor import Predictor
from sagemaker.processing import ProcessingInput, ProcessingOutput, Processor
from sagemaker_sdk_support import notebook_session, role

IMAGE_SOURCE = Path(__file__).with_name("contract_image")
BUSYBOX = Path("/bin/busybox")  # Debian's busybox-static (`make containers` installs it)
FINAL = ("Completed", "Failed", "Stopped")
# the test's own podman: runc and no default ulimits, as Nimbus runs it (crun fails on some hosts)
PODMAN_CONF = '[containers]\ndefault_ulimits = []\n[engine]\nruntime = "runc"\n'


def _podman(env: dict[str, str], *arguments: str, stdin: str | None = None) -> None:
    done = subprocess.run(
        ["podman", *arguments], input=stdin, capture_output=True, text=True, env=env, timeout=300, check=False
    )
    assert done.returncode == 0, f"podman {arguments[0]} failed: {done.stderr}"


@pytest.fixture(scope="module")
def registry_password(nimbus: NimbusServer) -> str:
    token = nimbus.client("ecr").get_authorization_token()["authorizationData"][0]
    user, _, password = base64.b64decode(token["authorizationToken"]).decode().partition(":")
    assert user == "AWS" and token["proxyEndpoint"] == f"http://127.0.0.1:{nimbus.registry_port}"
    return password


@pytest.fixture(scope="module")
def image_uri(
    nimbus: NimbusServer, registry_password: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The contract image, built and pushed with podman as a user would."""
    context = tmp_path_factory.mktemp("image")
    shutil.copytree(IMAGE_SOURCE, context, dirs_exist_ok=True)
    shutil.copy(BUSYBOX, context / "busybox")
    (context / "containers.conf").write_text(PODMAN_CONF)
    env = {**os.environ, "CONTAINERS_CONF": str(context / "containers.conf")}
    repository = f"contract-{uuid.uuid4().hex[:8]}"
    nimbus.client("ecr").create_repository(repositoryName=repository)
    registry = f"127.0.0.1:{nimbus.registry_port}"
    uri = f"{registry}/{repository}:v1"
    _podman(env, "build", "--quiet", "--tag", uri, str(context))
    _podman(
        env,
        "login",
        "--tls-verify=false",
        "--username",
        "AWS",
        "--password-stdin",
        registry,
        stdin=registry_password,
    )
    _podman(env, "push", "--quiet", "--tls-verify=false", uri)
    yield uri
    _podman(env, "rmi", "--force", uri)  # the local copy; Nimbus's runtime keeps what it pulled


@pytest.fixture(scope="module")
def data(nimbus: NimbusServer) -> str:
    """A bucket with a three-line training channel."""
    bucket = f"containers-{uuid.uuid4().hex[:12]}"
    s3 = nimbus.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="train/data.csv", Body=b"1,2\n3,4\n5,6\n")
    return bucket


@pytest.fixture
def session(nimbus: NimbusServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    return notebook_session(nimbus, monkeypatch)


def _artefact(nimbus: NimbusServer, uri: str) -> dict[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    body = nimbus.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as archive:
        return {
            member.name.removeprefix("./"): archive.extractfile(member).read().decode()  # type: ignore[union-attr]
            for member in archive.getmembers()
            if member.isfile()
        }


def test_sdk_trains_deploys_and_processes_with_a_pushed_image(
    nimbus: NimbusServer, session: Any, image_uri: str, data: str
) -> None:
    estimator = Estimator(
        image_uri=image_uri,
        role=role(session),
        instance_count=1,
        instance_type="ml.m5.large",
        output_path=f"s3://{data}/output",
        sagemaker_session=session,
    )
    estimator.fit({"train": f"s3://{data}/train/"}, logs=False)
    model = _artefact(nimbus, estimator.model_data)
    assert model["lines"].strip() == "3"  # what `train` computed from the channel, in S3
    assert set(model["interfaces"].split()) - {"lo"}  # not isolated: the container has a network

    name = estimator.latest_training_job.name
    events = nimbus.client("logs").filter_log_events(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=f"{name}/"
    )["events"]
    assert f"host=algo-1 job={name} lines=3" in [event["message"] for event in events]

    predictor = Model(
        image_uri=image_uri,
        model_data=estimator.model_data,
        role=role(session),
        predictor_cls=Predictor,
        sagemaker_session=session,
    ).deploy(initial_instance_count=1, instance_type="ml.m5.large")
    try:
        assert predictor.predict(b"hello") == b"3:hello"  # the model artefact, served by the image
    finally:
        predictor.delete_model()
        predictor.delete_endpoint()

    processor = Processor(
        image_uri=image_uri,
        role=role(session),
        instance_count=1,
        instance_type="ml.m5.large",
        entrypoint=[
            "sh",
            "-c",
            "wc -l < /opt/ml/processing/input/data.csv > /opt/ml/processing/output/count",
        ],
        sagemaker_session=session,
    )
    processor.run(
        inputs=[ProcessingInput(f"s3://{data}/train/", "/opt/ml/processing/input")],
        outputs=[ProcessingOutput("/opt/ml/processing/output", f"s3://{data}/processed")],
        logs=False,
    )
    counted = nimbus.client("s3").get_object(Bucket=data, Key="processed/count")["Body"].read()
    assert counted.strip() == b"3"


def _start(nimbus: NimbusServer, image_uri: str, data: str, **options: Any) -> str:
    name = f"container-{uuid.uuid4().hex[:10]}"
    nimbus.client("sagemaker").create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": image_uri, "TrainingInputMode": "File"},
        RoleArn=execution_role(nimbus.client("iam")),
        InputDataConfig=[
            {
                "ChannelName": "train",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{data}/train/"}},
            }
        ],
        OutputDataConfig={"S3OutputPath": f"s3://{data}/jobs"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 900},
        **options,
    )
    return name


def _wait(nimbus: NimbusServer, name: str) -> dict[str, Any]:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        job: dict[str, Any] = nimbus.client("sagemaker").describe_training_job(TrainingJobName=name)
        if job["TrainingJobStatus"] in FINAL:
            return job
        time.sleep(0.3)
    raise AssertionError(f"training job {name} did not end")


def _train(nimbus: NimbusServer, image_uri: str, data: str, **options: Any) -> dict[str, Any]:
    return _wait(nimbus, _start(nimbus, image_uri, data, **options))


def test_failure_file_is_the_failure_reason(nimbus: NimbusServer, image_uri: str, data: str) -> None:
    # named as on AWS: the ECR host name of the caller's account, for the repository pushed here
    ecr_form = f"{nimbus.account_id}.dkr.ecr.{nimbus.region}.amazonaws.com/{image_uri.split('/', 1)[1]}"
    job = _train(nimbus, ecr_form, data, HyperParameters={"fail": "the training data has no label column"})
    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"] == "the training data has no label column"


def test_network_isolation_leaves_only_loopback(nimbus: NimbusServer, image_uri: str, data: str) -> None:
    job = _train(nimbus, image_uri, data, EnableNetworkIsolation=True)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert _artefact(nimbus, job["ModelArtifacts"]["S3ModelArtifacts"])["interfaces"].split() == ["lo"]


def test_stopped_job_leaves_no_container(nimbus: NimbusServer, image_uri: str, data: str) -> None:
    sagemaker = nimbus.client("sagemaker")
    job = _start(nimbus, image_uri, data, HyperParameters={"sleep": "600"})
    while sagemaker.describe_training_job(TrainingJobName=job)["SecondaryStatus"] != "Training":
        time.sleep(0.2)
    while not _containers(nimbus):  # the container runs
        time.sleep(0.2)
    sagemaker.stop_training_job(TrainingJobName=job)
    assert _wait(nimbus, job)["TrainingJobStatus"] == "Stopped"
    assert not _containers(nimbus)


def _containers(nimbus: NimbusServer) -> list[str]:
    """The containers this Nimbus runs (labelled with its runtime configuration folder)."""
    label = f"label=nimbus.containers={nimbus.data_dir / 'containers'}"
    listed = subprocess.run(
        ["podman", "ps", "--quiet", "--filter", label], capture_output=True, text=True, timeout=60, check=True
    )
    return listed.stdout.split()


def test_unknown_image_is_refused_at_create(nimbus: NimbusServer, data: str) -> None:
    missing = f"127.0.0.1:{nimbus.registry_port}/no-such-repository:v1"
    with pytest.raises(ClientError) as refused:
        _train(nimbus, missing, data)
    assert error_code(refused) == "ValidationException"
    assert "not found" in str(refused.value)
    with pytest.raises(ClientError) as unknown:
        nimbus.client("sagemaker").describe_training_job(TrainingJobName="never-created")
    assert error_code(unknown) == "ValidationException"


@pytest.fixture
def repository(nimbus: NimbusServer) -> Iterator[str]:
    name = f"blobs-{uuid.uuid4().hex[:8]}"
    nimbus.client("ecr").create_repository(repositoryName=name)
    yield name
    nimbus.client("ecr").delete_repository(repositoryName=name, force=True)


def test_blob_upload_is_verified_by_digest(
    nimbus: NimbusServer, registry_password: str, repository: str
) -> None:
    base = f"http://127.0.0.1:{nimbus.registry_port}/v2/{repository}/blobs"
    auth = ("AWS", registry_password)
    content = os.urandom(4096)
    digest = "sha256:" + hashlib.sha256(content).hexdigest()
    tampered = content[:-1] + bytes([content[-1] ^ 1])

    assert requests.get(f"http://127.0.0.1:{nimbus.registry_port}/v2/", timeout=10).status_code == 401
    monolithic = requests.post(f"{base}/uploads/?digest={digest}", data=tampered, auth=auth, timeout=10)
    assert monolithic.status_code == 400 and monolithic.json()["errors"][0]["code"] == "DIGEST_INVALID"
    assert requests.head(f"{base}/{digest}", auth=auth, timeout=10).status_code == 404

    started = requests.post(f"{base}/uploads/", auth=auth, timeout=10)
    assert started.status_code == 202
    location = f"http://127.0.0.1:{nimbus.registry_port}{started.headers['Location']}"
    chunk = requests.patch(location, data=tampered[:1000], auth=auth, timeout=10)
    assert chunk.status_code == 202 and chunk.headers["Range"] == "0-999"
    gap = requests.patch(
        location, data=tampered[2000:], headers={"Content-Range": "2000-4095"}, auth=auth, timeout=10
    )
    assert gap.status_code == 416
    requests.patch(
        location, data=tampered[1000:], headers={"Content-Range": "1000-4095"}, auth=auth, timeout=10
    )
    finished = requests.put(f"{location}?digest={digest}", auth=auth, timeout=10)
    assert finished.status_code == 400 and finished.json()["errors"][0]["code"] == "DIGEST_INVALID"
    assert requests.get(location, auth=auth, timeout=10).status_code == 404  # the upload is gone too
    assert requests.head(f"{base}/{digest}", auth=auth, timeout=10).status_code == 404

    stored = requests.post(f"{base}/uploads/?digest={digest}", data=content, auth=auth, timeout=10)
    assert stored.status_code == 201 and stored.headers["Docker-Content-Digest"] == digest
    assert requests.get(f"{base}/{digest}", auth=auth, timeout=10).content == content
    available = nimbus.client("ecr").batch_check_layer_availability(
        repositoryName=repository, layerDigests=[digest]
    )
    assert available["layers"][0]["layerSize"] == len(content)

    # the same through the ECR API, as `aws ecr upload-layer-part` does
    ecr = nimbus.client("ecr")
    layer = os.urandom(2048)
    layer_digest = "sha256:" + hashlib.sha256(layer).hexdigest()
    upload = ecr.initiate_layer_upload(repositoryName=repository)["uploadId"]
    assert uuid.UUID(upload)
    for first, part in ((0, layer[:1024]), (1024, layer[1024:])):
        ecr.upload_layer_part(
            repositoryName=repository, uploadId=upload, layerPartBlob=part,
            partFirstByte=first, partLastByte=first + len(part) - 1,
        )  # fmt: skip
    ecr.complete_layer_upload(repositoryName=repository, uploadId=upload, layerDigests=[layer_digest])
    assert requests.get(f"{base}/{layer_digest}", auth=auth, timeout=10).content == layer


def test_ecr_api_sees_the_pushed_image(nimbus: NimbusServer, image_uri: str) -> None:
    ecr = nimbus.client("ecr")
    repository = image_uri.split("/", 1)[1].split(":")[0]
    described = ecr.describe_repositories(repositoryNames=[repository])["repositories"][0]
    assert described["repositoryUri"] == image_uri.split(":v1")[0]
    image = ecr.describe_images(repositoryName=repository)["imageDetails"][0]
    assert image["imageTags"] == ["v1"] and image["imageSizeInBytes"] > 0
    manifest = ecr.batch_get_image(repositoryName=repository, imageIds=[{"imageTag": "v1"}])["images"][0]
    ecr.put_image(repositoryName=repository, imageManifest=manifest["imageManifest"], imageTag="v2")
    assert {i.get("imageTag") for i in ecr.list_images(repositoryName=repository)["imageIds"]} == {"v1", "v2"}
    with pytest.raises(ClientError) as exists:
        ecr.put_image(repositoryName=repository, imageManifest=manifest["imageManifest"], imageTag="v2")
    assert error_code(exists) == "ImageAlreadyExistsException"
    with pytest.raises(ClientError) as not_empty:
        ecr.delete_repository(repositoryName=repository)
    assert error_code(not_empty) == "RepositoryNotEmptyException"
    with pytest.raises(ClientError) as missing:
        ecr.describe_images(repositoryName="no-such-repository")
    assert error_code(missing) == "RepositoryNotFoundException"


def test_registry_authorizes_as_the_token_holder(nimbus: NimbusServer, image_uri: str) -> None:
    """A user whose policy allows pulls only: its registry password pulls, and its push is DENIED."""
    iam = nimbus.client("iam")
    user = f"puller-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    repository = image_uri.split("/", 1)[1].split(":")[0]
    arn = f"arn:aws:ecr:{nimbus.region}:{nimbus.account_id}:repository/{repository}"
    pull = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    statements = [
        {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        {"Effect": "Allow", "Action": pull, "Resource": arn},
    ]
    document = json.dumps({"Version": "2012-10-17", "Statement": statements})
    iam.put_user_policy(UserName=user, PolicyName="pull", PolicyDocument=document)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    ecr = nimbus.client(
        "ecr", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
    )
    token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    auth = tuple(base64.b64decode(token).decode().split(":", 1))
    manifest_url = f"http://127.0.0.1:{nimbus.registry_port}/v2/{repository}/manifests/v1"
    pulled = requests.get(manifest_url, auth=auth, timeout=10)
    assert pulled.status_code == 200
    pushed = requests.put(
        manifest_url.replace("/v1", "/copy"),
        data=pulled.content,
        headers={"Content-Type": pulled.headers["Content-Type"]},
        auth=auth,
        timeout=10,
    )
    assert pushed.status_code == 403 and pushed.json()["errors"][0]["code"] == "DENIED"
    assert "ecr:PutImage" in pushed.json()["errors"][0]["message"]
