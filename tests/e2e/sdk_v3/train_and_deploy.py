"""A SageMaker Python SDK v3 script, as a user writes it, run by tests/e2e/test_sagemaker_sdk_v3.py
with the SDK v3 virtual environment (.venv-sdk3) against Nimbus (AWS_* and AWS_ENDPOINT_URL set).

It creates the execution role in IAM, trains the built-in XGBoost with ``ModelTrainer`` on the
CSV it is given (label first) with the job's logs shown, hosts the model with the core resources
(Model, EndpointConfig, Endpoint), invokes the endpoint with CSV rows, scores the same rows with a
batch ``Transformer``, writes both predictions to a JSON file, and deletes what it created.

    python train_and_deploy.py TRAIN_CSV TEST_CSV PREDICTIONS_JSON

The SDK waits fixed intervals between its status checks (5 s); the script shortens them so that
the test stays quick: every check still goes to Nimbus.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import uuid
from pathlib import Path

import boto3
import sagemaker.core.resources
from botocore.exceptions import ClientError
from sagemaker.core import image_uris
from sagemaker.core.helper.session_helper import Session
from sagemaker.core.resources import Endpoint, EndpointConfig, Model
from sagemaker.core.shapes import ContainerDefinition, ProductionVariant
from sagemaker.core.training.configs import Compute, InputData
from sagemaker.core.transformer import Transformer
from sagemaker.train import ModelTrainer

REGION = "us-east-1"
ROLE_NAME = "NimbusSdkV3SageMakerRole"
TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
HYPERPARAMETERS = {"objective": "binary:logistic", "num_round": 20}
POLL_S = 1


def execution_role(boto_session: boto3.Session) -> str:
    """The SageMaker execution role: created once, as a user sets up an account."""
    iam = boto_session.client("iam")
    try:
        return iam.get_role(RoleName=ROLE_NAME)["Role"]["Arn"]
    except ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchEntity":
            raise
    role = iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(TRUST_POLICY))
    # the SDK checks the role may do what training needs (SimulatePrincipalPolicy): a new role may do nothing
    everything = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    iam.put_role_policy(RoleName=ROLE_NAME, PolicyName="training", PolicyDocument=json.dumps(everything))
    return role["Role"]["Arn"]


def main(train_csv: Path, test_csv: Path, predictions_json: Path) -> None:
    boto_session = boto3.Session(region_name=REGION)
    bucket = f"sdk-v3-{uuid.uuid4().hex[:12]}"
    boto_session.client("s3").create_bucket(Bucket=bucket)
    session = Session(boto_session=boto_session, default_bucket=bucket)
    role = execution_role(boto_session)
    train_uri = session.upload_data(str(train_csv), key_prefix="sdk-v3/train")

    image = image_uris.retrieve("xgboost", REGION, "1.7-1")
    trainer = ModelTrainer(
        training_image=image,
        role=role,
        sagemaker_session=session,
        compute=Compute(instance_type="ml.m5.large", instance_count=1),
        hyperparameters=HYPERPARAMETERS,
        base_job_name="sdk-v3-xgboost",
    )
    trainer.train(
        input_data_config=[InputData(channel_name="train", data_source=train_uri, content_type="text/csv")],
        logs=True,
    )
    job = trainer._latest_training_job  # the documented way to reach the job (see ModelTrainer's docstring)
    job.refresh()
    print(f"training job {job.training_job_name}: {job.training_job_status}", flush=True)

    name = f"sdk-v3-{uuid.uuid4().hex[:8]}"
    model = Model.create(
        model_name=name,
        primary_container=ContainerDefinition(
            image=image,
            model_data_url=job.model_artifacts.s3_model_artifacts,
        ),
        execution_role_arn=role,
        session=boto_session,
    )
    config = EndpointConfig.create(
        endpoint_config_name=name,
        production_variants=[
            ProductionVariant(
                variant_name="AllTraffic",
                model_name=name,
                initial_instance_count=1,
                instance_type="ml.m5.large",
            )
        ],
        session=boto_session,
    )
    endpoint = Endpoint.create(endpoint_name=name, endpoint_config_name=name, session=boto_session)
    try:
        endpoint.wait_for_status("InService", poll=POLL_S, timeout=120)
        answer = endpoint.invoke(body=test_csv.read_bytes(), content_type="text/csv", accept="text/csv")
        predictions = [float(line) for line in answer.body.read().decode().splitlines()]
        transformed = batch_transform(session, boto_session, name, test_csv, bucket)
    finally:
        endpoint.delete()
        config.delete()
        model.delete()
    predictions_json.write_text(
        json.dumps(
            {
                "job": job.training_job_name,
                "endpoint": name,
                "predictions": predictions,
                "transformed": transformed,
            }
        )
    )


def batch_transform(
    session: Session, boto_session: boto3.Session, model: str, test_csv: Path, bucket: str
) -> list[float]:
    """The model's predictions for the CSV's rows, from a MultiRecord batch transform job."""
    test_uri = session.upload_data(str(test_csv), key_prefix="sdk-v3/transform-in")
    transformer = Transformer(
        model_name=model,
        instance_count=1,
        instance_type="ml.m5.large",
        strategy="MultiRecord",
        assemble_with="Line",
        accept="text/csv",
        output_path=f"s3://{bucket}/sdk-v3/transform-out",
        sagemaker_session=session,
    )
    transformer.transform(test_uri, content_type="text/csv", split_type="Line", wait=True, logs=False)
    output = boto_session.client("s3").get_object(
        Bucket=bucket, Key=f"sdk-v3/transform-out/{test_csv.name}.out"
    )
    return [float(line) for line in output["Body"].read().decode().splitlines()]


class FastTime:
    """The SDK resources module's ``time``, its fixed waits cut to a tenth (the checks still go out)."""

    def __getattr__(self, name: str) -> object:
        return getattr(time, name)

    @staticmethod
    def sleep(seconds: float) -> None:
        time.sleep(seconds / 10)


if __name__ == "__main__":
    sagemaker.core.resources.time = FastTime()  # type: ignore[assignment]
    sagemaker.core.transformer.time = FastTime()  # type: ignore[attr-defined]
    # the SDK logs through the standard logging module and leaves its configuration to the user
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(name)s: %(message)s")
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
