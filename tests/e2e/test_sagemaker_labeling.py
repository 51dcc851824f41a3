"""SageMaker Ground Truth against a real server: private workteams of IAM users, labelling jobs of
the five built-in task types answered by two workers through the worker portal (signed with the
workers' own keys), AWS's output manifest and consolidation, bad input with AWS's error codes; and
one labelling job completed by two workers through the console's pages in Chromium, whose output
manifest trains a Rekognition Custom Labels model unchanged."""

from __future__ import annotations

import io
import json
import re
import tarfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from botocore.exceptions import ClientError
from conftest import REPO_ROOT, NimbusServer, error_code, signed_request
from PIL import Image
from playwright.sync_api import Page, expect, sync_playwright
from roles import execution_role
from sklearn.datasets import load_digits
from test_rekognition_custom_labels import digit_png

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
CONSOLE = "/_nimbus/console"
PORTAL = "/_nimbus/sagemaker/labeling"
LAMBDAS = "arn:aws:lambda:us-east-1:432418664414:function:"
STATUS_TIMEOUT_S = 180
SCREENSHOTS = REPO_ROOT / "test-artifacts" / "console"  # CI keeps them


@dataclass(frozen=True)
class Worker:
    name: str
    arn: str
    access_key: str
    secret_key: str


@dataclass(frozen=True)
class Team:
    arn: str
    name: str
    workers: tuple[Worker, Worker]
    outsider: Worker  # an IAM user in no workteam
    bucket: str
    s3: Any
    sagemaker: Any


@pytest.fixture(scope="module")
def sagemaker(nimbus: NimbusServer) -> Any:
    return nimbus.client("sagemaker")


def _user(iam: Any, name: str, group: str | None) -> Worker:
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    if group:
        iam.add_user_to_group(GroupName=group, UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return Worker(name, arn, key["AccessKeyId"], key["SecretAccessKey"])


@pytest.fixture(scope="module")
def team(nimbus: NimbusServer, sagemaker: Any) -> Team:
    iam, s3 = nimbus.client("iam"), nimbus.client("s3")
    suffix = uuid.uuid4().hex[:6]
    group = f"labelers-{suffix}"
    iam.create_group(GroupName=group)
    workers = (_user(iam, f"ana-{suffix}", group), _user(iam, f"ben-{suffix}", group))
    outsider = _user(iam, f"eve-{suffix}", None)
    pool = sagemaker.describe_workforce(WorkforceName="default")["Workforce"]["CognitoConfig"]
    name = f"team-{suffix}"
    arn = sagemaker.create_workteam(
        WorkteamName=name,
        Description="Two labelers",
        MemberDefinitions=[{"CognitoMemberDefinition": {**pool, "UserGroup": group}}],
    )["WorkteamArn"]
    bucket = f"labels-{suffix}"
    s3.create_bucket(Bucket=bucket)
    return Team(arn, name, workers, outsider, bucket, s3, sagemaker)


def portal(nimbus: NimbusServer, worker: Worker, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    answer = signed_request(
        nimbus,
        method,
        PORTAL + path,
        body=json.dumps(body).encode() if body is not None else b"",
        access_key=worker.access_key,
        secret_key=worker.secret_key,
    )
    is_json = answer.headers.get("content-type", "").startswith("application/")
    return answer.status, json.loads(answer.body) if is_json and "json" in answer.headers[
        "content-type"
    ] else answer.body


def labeling_job(team: Team, task_type: str, manifest_key: str, labels: list[str], **extra: Any) -> str:
    name = extra.pop("name", f"{task_type.lower()[:20]}-{uuid.uuid4().hex[:8]}")
    label_key = f"labels-{name}.json"
    team.s3.put_object(
        Bucket=team.bucket,
        Key=label_key,
        Body=json.dumps({"document-version": "2018-11-28", "labels": [{"label": label} for label in labels]}),
    )
    team.sagemaker.create_labeling_job(
        LabelingJobName=name,
        LabelAttributeName=extra.pop("attribute", "label"),
        InputConfig={"DataSource": {"S3DataSource": {"ManifestS3Uri": f"s3://{team.bucket}/{manifest_key}"}}},
        OutputConfig={"S3OutputPath": f"s3://{team.bucket}/output/"},
        RoleArn=extra.pop("RoleArn", "") or execution_role(team.s3),
        LabelCategoryConfigS3Uri=f"s3://{team.bucket}/{label_key}",
        HumanTaskConfig={
            "WorkteamArn": team.arn,
            "UiConfig": {"UiTemplateS3Uri": f"s3://{team.bucket}/template.liquid"},
            "PreHumanTaskLambdaArn": f"{LAMBDAS}PRE-{task_type}",
            "AnnotationConsolidationConfig": {
                "AnnotationConsolidationLambdaArn": f"{LAMBDAS}ACS-{task_type}"
            },
            "TaskTitle": f"{task_type} task",
            "TaskDescription": "Label what you see",
            "NumberOfHumanWorkersPerDataObject": 2,
            "TaskTimeLimitInSeconds": 300,
            **extra.pop("config", {}),
        },
        **extra,
    )
    return name


def answer_all(nimbus: NimbusServer, worker: Worker, job: str, answers: dict[str, Any]) -> None:
    """The worker takes each task in turn and answers it with the answer for its data object."""
    while True:
        status, taken = portal(nimbus, worker, "POST", f"/jobs/{job}/next-task")
        assert status == 200, taken
        if taken["Task"] is None:
            return
        task = taken["Task"]
        content = answers[task.get("SourceRef") or task["Source"]]
        status, body = portal(
            nimbus, worker, "POST", f"/jobs/{job}/tasks/{task['Position']}/answer", {"answerContent": content}
        )
        assert status == 200, body


def output_lines(s3: Any, uri: str) -> list[dict[str, Any]]:
    bucket, key = uri[5:].split("/", 1)
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    return [json.loads(line) for line in body.splitlines()]


def png(size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 180, 40)).save(buffer, "PNG")
    return buffer.getvalue()


def put_manifest(team: Team, key: str, entries: list[dict[str, Any]]) -> None:
    body = "".join(json.dumps(entry) + "\n" for entry in entries)
    team.s3.put_object(Bucket=team.bucket, Key=key, Body=body.encode())


def test_workforce_and_workteams(nimbus: NimbusServer, sagemaker: Any, team: Team) -> None:
    workforce = sagemaker.describe_workforce(WorkforceName="default")["Workforce"]
    assert workforce["Status"] == "Active" and workforce["WorkforceArn"].endswith(":workforce/default")
    assert [found["WorkforceName"] for found in sagemaker.list_workforces()["Workforces"]] == ["default"]
    with pytest.raises(ClientError) as missing:
        sagemaker.describe_workforce(WorkforceName="vendors")
    assert error_code(missing) == "ResourceNotFound"

    described = sagemaker.describe_workteam(WorkteamName=team.name)["Workteam"]
    assert described["WorkteamArn"] == team.arn and described["WorkforceArn"] == workforce["WorkforceArn"]
    group = described["MemberDefinitions"][0]["CognitoMemberDefinition"]["UserGroup"]
    listed = sagemaker.list_workteams(NameContains=team.name)["Workteams"]
    assert [found["WorkteamName"] for found in listed] == [team.name]

    pool = workforce["CognitoConfig"]
    bad_members = {
        "OidcMemberDefinition": [{"OidcMemberDefinition": {"Groups": [group]}}],
        "no such IAM group": [{"CognitoMemberDefinition": {**pool, "UserGroup": "nobody-here"}}],
        "another user pool": [
            {"CognitoMemberDefinition": {"UserPool": "us-east-1_abc", "ClientId": "x", "UserGroup": group}}
        ],
    }
    for members in bad_members.values():
        with pytest.raises(ClientError) as refused:
            sagemaker.create_workteam(WorkteamName="refused", Description="x", MemberDefinitions=members)
        assert error_code(refused) == "ValidationException", refused.value
    with pytest.raises(ClientError) as taken:
        sagemaker.create_workteam(
            WorkteamName=team.name, Description="again", MemberDefinitions=described["MemberDefinitions"]
        )
    assert error_code(taken) == "ResourceInUse"
    assert sagemaker.list_workteams(NameContains="refused")["Workteams"] == []

    spare = f"spare-{uuid.uuid4().hex[:6]}"
    sagemaker.create_workteam(
        WorkteamName=spare, Description="x", MemberDefinitions=described["MemberDefinitions"]
    )
    updated = sagemaker.update_workteam(WorkteamName=spare, Description="renamed")["Workteam"]
    assert updated["Description"] == "renamed"
    assert sagemaker.delete_workteam(WorkteamName=spare)["Success"] is True
    with pytest.raises(ClientError) as gone:
        sagemaker.describe_workteam(WorkteamName=spare)
    assert error_code(gone) == "ResourceNotFound"


def test_task_types_consolidated_into_aws_output(nimbus: NimbusServer, sagemaker: Any, team: Team) -> None:
    """Bounding boxes, multi-label image classes, text classes and named entities, each object answered
    by both workers (Ana first), consolidated into AWS's output manifest lines."""
    s3 = team.s3
    images = {
        f"s3://{team.bucket}/images/{name}.png": size for name, size in (("a", (200, 100)), ("b", (120, 80)))
    }
    for uri, size in images.items():
        s3.put_object(Bucket=team.bucket, Key=uri.split("/", 3)[3], Body=png(size))
    put_manifest(team, "images.manifest", [{"source-ref": uri} for uri in images])
    a, b = images
    reviews = ["A great film.", "A dull plot."]
    s3.put_object(Bucket=team.bucket, Key="reviews/dull.txt", Body=reviews[1].encode())
    dull_uri = f"s3://{team.bucket}/reviews/dull.txt"  # a text task's text may be an S3 object
    put_manifest(team, "reviews.manifest", [{"source": reviews[0]}, {"source-ref": dull_uri}])
    sentence = "Ada Lovelace lived in London."
    put_manifest(team, "sentences.manifest", [{"source": sentence}])

    def boxes(*drawn: tuple[str, int, int, int, int]) -> dict[str, Any]:
        return {
            "boundingBox": {
                "boundingBoxes": [
                    dict(zip(("label", "left", "top", "width", "height"), box, strict=True)) for box in drawn
                ]
            }
        }

    def multi(*labels: str) -> dict[str, Any]:
        return {"crowd-image-classifier-multi-select": {"labels": list(labels)}}

    def spans(*marked: tuple[int, int, str]) -> dict[str, Any]:
        entities = [{"startOffset": start, "endOffset": end, "label": label} for start, end, label in marked]
        return {"crowd-entity-annotation": {"entities": entities}}

    ana, ben = team.workers
    plan = {
        "BoundingBox": (
            "images.manifest",
            ["dog", "cat"],
            {a: boxes(("dog", 10, 10, 50, 40), ("cat", 100, 20, 40, 40)), b: boxes()},
            {a: boxes(("dog", 12, 12, 50, 40)), b: boxes()},
        ),
        "ImageMultiClassMultiLabel": (
            "images.manifest",
            ["cat", "dog", "bird"],
            {a: multi("cat", "dog"), b: multi("bird")},
            {a: multi("dog"), b: multi("bird")},
        ),
        "TextMultiClass": (
            "reviews.manifest",
            ["positive", "negative"],
            {
                reviews[0]: {"crowd-classifier": {"label": "positive"}},
                reviews[1]: {"crowd-classifier": {"label": "negative"}},
            },
            {
                reviews[0]: {"crowd-classifier": {"label": "positive"}},
                reviews[1]: {"crowd-classifier": {"label": "positive"}},
            },
        ),
        "NamedEntityRecognition": (
            "sentences.manifest",
            ["person", "location"],
            {sentence: spans((0, 12, "person"), (22, 28, "location"))},
            {sentence: spans((0, 12, "person"))},
        ),
    }
    jobs = {
        task_type: labeling_job(team, task_type, manifest, labels, attribute="answer")
        for task_type, (manifest, labels, _, _) in plan.items()
    }

    # what nobody may do: an outsider sees no tasks; a label the job does not have changes nothing
    status, listed = portal(nimbus, team.outsider, "GET", "/jobs")
    assert status == 200 and listed["LabelingJobs"] == []
    status, refused = portal(nimbus, team.outsider, "POST", f"/jobs/{jobs['TextMultiClass']}/next-task")
    assert (status, refused["__type"]) == (400, "ResourceNotFound")
    status, taken = portal(nimbus, ana, "POST", f"/jobs/{jobs['TextMultiClass']}/next-task")
    position = taken["Task"]["Position"]
    wrong = {"answerContent": {"crowd-classifier": {"label": "neutral"}}}
    status, refused = portal(
        nimbus, ana, "POST", f"/jobs/{jobs['TextMultiClass']}/tasks/{position}/answer", wrong
    )
    assert (status, refused["__type"]) == (400, "ValidationException") and "neutral" in refused["message"]
    unknown = signed_request(nimbus, "GET", PORTAL + "/jobs", access_key="AKIANOTAKEY000000000")
    assert (unknown.status, json.loads(unknown.body)["__type"]) == (400, "UnrecognizedClientException")
    status, listed = portal(nimbus, ben, "GET", "/jobs")
    assert {job["LabelingJobName"]: job["TasksWaiting"] for job in listed["LabelingJobs"]} == {
        jobs[task_type]: 1 if task_type == "NamedEntityRecognition" else 2 for task_type in plan
    }

    for task_type, (_, _, first, second) in plan.items():
        answer_all(nimbus, ana, jobs[task_type], first)
        assert (
            sagemaker.describe_labeling_job(LabelingJobName=jobs[task_type])["LabelingJobStatus"]
            == "InProgress"
        )
        answer_all(nimbus, ben, jobs[task_type], second)

    outputs = {}
    for task_type, job in jobs.items():
        described = sagemaker.describe_labeling_job(LabelingJobName=job)
        assert described["LabelingJobStatus"] == "Completed", described.get("FailureReason")
        total = len(plan[task_type][2])
        assert described["LabelCounters"] == {
            "TotalLabeled": total,
            "HumanLabeled": total,
            "MachineLabeled": 0,
            "FailedNonRetryableError": 0,
            "Unlabeled": 0,
        }
        uri = described["LabelingJobOutput"]["OutputDatasetS3Uri"]
        assert uri == f"s3://{team.bucket}/output/{job}/manifests/output/output.manifest"
        outputs[task_type] = output_lines(team.s3, uri)
        for line in outputs[task_type]:
            metadata = line["answer-metadata"]
            assert metadata["job-name"] == f"labeling-job/{job}" and metadata["human-annotated"] == "yes"
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}", metadata["creation-date"])

    first_box, second_box = outputs["BoundingBox"]
    assert first_box["source-ref"] == a and first_box["answer"] == {
        "image_size": [{"width": 200, "height": 100, "depth": 3}],
        "annotations": [
            {"class_id": 0, "left": 11, "top": 11, "width": 50, "height": 40},
            {"class_id": 1, "left": 100, "top": 20, "width": 40, "height": 40},
        ],
    }
    dog, cat = first_box["answer-metadata"]["objects"]
    assert 0.8 < dog["confidence"] <= 1 and cat["confidence"] == 0.5  # both drew the dog; only Ana the cat
    assert first_box["answer-metadata"]["class-map"] == {"0": "dog", "1": "cat"}
    assert first_box["answer-metadata"]["type"] == "groundtruth/object-detection"
    assert second_box["answer"]["annotations"] == [] and second_box["answer"]["image_size"][0]["width"] == 120

    multi_a, multi_b = outputs["ImageMultiClassMultiLabel"]
    assert multi_a["answer"] == [0, 1] and multi_b["answer"] == [2]
    assert multi_a["answer-metadata"]["class-map"] == {"0": "cat", "1": "dog"}
    assert multi_a["answer-metadata"]["confidence-map"] == {"0": 0.5, "1": 1.0}
    assert multi_a["answer-metadata"]["type"] == "groundtruth/image-classification-multilabel"

    great, dull = outputs["TextMultiClass"]
    assert dull["source-ref"] == dull_uri and "source" not in dull
    assert (great["source"], great["answer"], great["answer-metadata"]["class-name"]) == (
        reviews[0],
        0,
        "positive",
    )
    assert great["answer-metadata"]["confidence"] == 1.0
    # a tie between two workers: the first answer wins, with half the votes
    assert (dull["answer-metadata"]["class-name"], dull["answer-metadata"]["confidence"]) == ("negative", 0.5)
    assert dull["answer-metadata"]["type"] == "groundtruth/text-classification"

    (entities,) = outputs["NamedEntityRecognition"]
    assert entities["answer"]["annotations"]["entities"] == [
        {"startOffset": 0, "endOffset": 12, "label": "person"},
        {"startOffset": 22, "endOffset": 28, "label": "location"},
    ]
    assert entities["answer-metadata"]["entities"] == [{"confidence": 1.0}, {"confidence": 0.5}]
    assert entities["answer-metadata"]["type"] == "groundtruth/text-span"

    # the workers' answers and the consolidation, where AWS puts them
    prefix = f"output/{jobs['TextMultiClass']}/annotations/"
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=team.bucket, Prefix=prefix)["Contents"]]
    responses = [key for key in keys if "/worker-response/iteration-1/1/" in key]
    (response_key,) = responses
    answers = json.loads(s3.get_object(Bucket=team.bucket, Key=response_key)["Body"].read())["answers"]
    assert [answer["answerContent"]["crowd-classifier"]["label"] for answer in answers] == [
        "negative",
        "positive",
    ]
    assert any("/consolidated-annotation/consolidation-response/iteration-1/" in key for key in keys)

    listed = sagemaker.list_labeling_jobs_for_workteam(WorkteamArn=team.arn)["LabelingJobSummaryList"]
    assert {job["LabelingJobName"] for job in listed} >= set(jobs.values())
    summary = sagemaker.list_labeling_jobs(NameContains=jobs["BoundingBox"], StatusEquals="Completed")
    (found,) = summary["LabelingJobSummaryList"]
    assert found["WorkteamArn"] == team.arn and found["LabelCounters"]["TotalLabeled"] == 2


def test_bad_jobs_refused_or_failed_and_stop(nimbus: NimbusServer, sagemaker: Any, team: Team) -> None:
    put_manifest(team, "two.manifest", [{"source": "first"}, {"source": "second"}])
    put_manifest(team, "images-as-text.manifest", [{"source": "no image here"}])
    refused = {
        "a Lambda of another region": {"region_lambdas": "arn:aws:lambda:eu-west-1:568282634449:function:"},
        "PRE and ACS of different task types": {"consolidation": "ACS-BoundingBox"},
        "a workteam that does not exist": {"WorkteamArn": team.arn + "-gone"},
        "an algorithm ARN that is not AWS's": algorithm("arn:aws:sagemaker:us-east-1:123456789012:x/y"),
        "text classification's algorithm": algorithm(ALGORITHM.replace("image-", "text-")),
        "image classification's algorithm on a text job": algorithm(ALGORITHM),
        "an initial model that does not exist": algorithm(
            ALGORITHM, InitialActiveLearningModelArn="arn:aws:sagemaker:us-east-1:123456789012:model/gone"
        ),
    }
    for name, change in refused.items():
        with pytest.raises(ClientError) as error:
            create(team, "TextMultiClass", "two.manifest", **change)
        assert error_code(error) == "ValidationException", name
    # automated labelling needs 1,250 objects: an image job of two is refused, saying so
    put_manifest(team, "two-images.manifest", [{"source-ref": f"s3://{team.bucket}/{n}.png"} for n in "ab"])
    with pytest.raises(ClientError) as few:
        create(team, "ImageMultiClass", "two-images.manifest", **algorithm(ALGORITHM))
    assert error_code(few) == "ValidationException" and "1,250" in str(few.value)
    assert sagemaker.list_labeling_jobs(NameContains="refused-")["LabelingJobSummaryList"] == []
    with pytest.raises(ClientError) as missing:
        sagemaker.describe_labeling_job(LabelingJobName="no-such-job")
    assert error_code(missing) == "ResourceNotFound"

    # what S3 holds is read when the job starts: a job with unreadable input fails, saying why
    for manifest, task_type, reason in (
        ("nothing-here.manifest", "TextMultiClass", "does not exist"),
        ("images-as-text.manifest", "ImageMultiClass", '"source-ref"'),
    ):
        name = create(team, task_type, manifest)
        described = sagemaker.describe_labeling_job(LabelingJobName=name)
        assert described["LabelingJobStatus"] == "Failed" and reason in described["FailureReason"]
        assert described["FailureReason"].startswith("ClientError: ")

    tags = [{"Key": "project", "Value": "reviews"}]
    name = create(team, "TextMultiClass", "two.manifest", Tags=tags)
    assert (
        sagemaker.list_tags(
            ResourceArn=sagemaker.describe_labeling_job(LabelingJobName=name)["LabelingJobArn"]
        )["Tags"]
        == tags
    )
    with pytest.raises(ClientError) as taken:
        create(team, "TextMultiClass", "two.manifest", name=name)
    assert error_code(taken) == "ResourceInUse"
    with pytest.raises(ClientError) as busy:
        sagemaker.delete_workteam(WorkteamName=team.name)
    assert error_code(busy) == "ResourceInUse"
    for worker in team.workers:  # both label the first object only
        status, taken_task = portal(nimbus, worker, "POST", f"/jobs/{name}/next-task")
        assert taken_task["Task"]["Source"] == "first"
        answer = {"answerContent": {"crowd-classifier": {"label": "positive"}}}
        assert portal(nimbus, worker, "POST", f"/jobs/{name}/tasks/0/answer", answer)[0] == 200
    sagemaker.stop_labeling_job(LabelingJobName=name)
    stopped = sagemaker.describe_labeling_job(LabelingJobName=name)
    assert stopped["LabelingJobStatus"] == "Stopped"
    assert (stopped["LabelCounters"]["TotalLabeled"], stopped["LabelCounters"]["Unlabeled"]) == (1, 1)
    (line,) = output_lines(team.s3, stopped["LabelingJobOutput"]["OutputDatasetS3Uri"])
    assert line["source"] == "first" and line["label-metadata"]["class-name"] == "positive"
    with pytest.raises(ClientError) as again:
        sagemaker.stop_labeling_job(LabelingJobName=name)
    assert error_code(again) == "ValidationException"
    status, late = portal(
        nimbus, team.workers[0], "POST", f"/jobs/{name}/tasks/1/answer", {"answerContent": {}}
    )
    assert (status, late["__type"]) == (400, "ValidationException")

    # the job's RoleArn reads its input and writes its output: this role reads labels and one manifest
    iam, role_name = nimbus.client("iam"), f"labeler-{uuid.uuid4().hex[:8]}"
    trust = {"Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}
    role = iam.create_role(
        RoleName=role_name,
        AssumeRolePolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", **trust}]}
        ),
    )["Role"]["Arn"]
    reads = [f"arn:aws:s3:::{team.bucket}/labels-*", f"arn:aws:s3:::{team.bucket}/two.manifest"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": reads}],
    }
    iam.put_role_policy(RoleName=role_name, PolicyName="reads", PolicyDocument=json.dumps(policy))
    put_manifest(team, "hidden.manifest", [{"source": "secret"}])
    blind = sagemaker.describe_labeling_job(
        LabelingJobName=create(team, "TextMultiClass", "hidden.manifest", RoleArn=role)
    )
    assert blind["LabelingJobStatus"] == "Failed"
    assert blind["FailureReason"].startswith("ClientError: Data download failed: AccessDenied"), blind
    mute = create(team, "TextMultiClass", "two.manifest", RoleArn=role)
    sagemaker.stop_labeling_job(LabelingJobName=mute)
    stopped = sagemaker.describe_labeling_job(LabelingJobName=mute)
    assert (
        stopped["LabelingJobStatus"] == "Stopped"
        and "Failed to upload the output" in stopped["FailureReason"]
    )
    assert "Contents" not in team.s3.list_objects_v2(Bucket=team.bucket, Prefix=f"output/{mute}/")


ALGORITHM = (
    "arn:aws:sagemaker:us-east-1:027400017018:labeling-job-algorithm-specification/image-classification"
)


def algorithm(arn: str, **config: str) -> dict[str, Any]:
    return {"LabelingJobAlgorithmsConfig": {"LabelingJobAlgorithmSpecificationArn": arn, **config}}


def create(team: Team, task_type: str, manifest: str, **change: Any) -> str:
    """A labelling job as ``labeling_job`` makes it, with some of its request changed."""
    lambdas = change.pop("region_lambdas", LAMBDAS)
    consolidation = change.pop("consolidation", f"ACS-{task_type}")
    name = change.pop("name", f"refused-{uuid.uuid4().hex[:8]}")
    config = {
        "PreHumanTaskLambdaArn": f"{lambdas}PRE-{task_type}",
        "AnnotationConsolidationConfig": {"AnnotationConsolidationLambdaArn": f"{lambdas}{consolidation}"},
    }
    if "WorkteamArn" in change:
        config["WorkteamArn"] = change.pop("WorkteamArn")
    return labeling_job(
        team, task_type, manifest, ["positive", "negative"], name=name, config=config, **change
    )


DIGIT_NAMES = ("zero", "one")
PER_DIGIT = 5


def test_two_workers_label_in_the_console_and_custom_labels_trains(
    nimbus: NimbusServer, sagemaker: Any, team: Team
) -> None:
    """Ana and Ben label handwritten digits in Chromium (Ben gets the first one wrong: a tie, which
    Ana's earlier answer wins at confidence 0.5); Ana draws a box; the job's output manifest is a
    Custom Labels training dataset as it stands."""
    s3, data = team.s3, load_digits()
    truth, entries = [], []
    for digit, name in enumerate(DIGIT_NAMES):
        for index in np.nonzero(data.target == digit)[0][:PER_DIGIT]:
            key = f"digits/{name}-{index}.png"
            s3.put_object(Bucket=team.bucket, Key=key, Body=digit_png(data.images[index]))
            entries.append({"source-ref": f"s3://{team.bucket}/{key}"})
            truth.append(name)
    put_manifest(team, "digits.manifest", entries)
    put_manifest(team, "box.manifest", [{"source-ref": f"s3://{team.bucket}/images/box.png"}])
    s3.put_object(Bucket=team.bucket, Key="images/box.png", Body=png((300, 200)))
    job = labeling_job(team, "ImageMultiClass", "digits.manifest", list(DIGIT_NAMES))
    one_worker = {"NumberOfHumanWorkersPerDataObject": 1}
    box_job = labeling_job(team, "BoundingBox", "box.manifest", ["sign"], config=one_worker)
    put_manifest(team, "sentence.manifest", [{"source": "Then Ada Lovelace wrote it."}])
    entity_job = labeling_job(
        team, "NamedEntityRecognition", "sentence.manifest", ["person"], config=one_worker
    )

    errors: list[str] = []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        try:
            for worker in team.workers:
                page = browser.new_context().new_page()
                page.on("console", lambda message: message.type == "error" and errors.append(message.text))
                page.on("pageerror", lambda error: errors.append(str(error)))
                page.goto(f"{nimbus.endpoint_url}{CONSOLE}/sign-in?next={CONSOLE}/labeling")
                page.get_by_label("Access key id").fill(worker.access_key)
                page.get_by_label("Secret access key").fill(worker.secret_key)
                page.get_by_role("button", name="Sign in").click()
                expect(page.get_by_role("heading", name="Labeling tasks")).to_be_visible()
                page.get_by_role("row", name=re.compile(job)).get_by_role(
                    "link", name="Start working"
                ).click()
                while page.get_by_role("heading", name="No tasks left").count() == 0:
                    expect(page.locator("img.labeling-image")).to_have_js_property("complete", True)
                    position = int(page.locator('input[name="n"]').input_value())
                    if position == 0:
                        page.screenshot(
                            path=SCREENSHOTS / f"labeling-classes-{worker.name[:3]}.png", full_page=True
                        )
                    wrong = worker == team.workers[1] and position == 0
                    page.get_by_label(DIGIT_NAMES[1] if wrong else truth[position], exact=True).check()
                    page.get_by_role("button", name="Submit").click()
                    page.wait_for_load_state()
                if worker == team.workers[0]:
                    draw_box(page, box_job)
                    mark_entity(page, entity_job, "Ada Lovelace")
        finally:
            browser.close()
    assert errors == []

    described = sagemaker.describe_labeling_job(LabelingJobName=job)
    assert described["LabelingJobStatus"] == "Completed", described.get("FailureReason")
    manifest_uri = described["LabelingJobOutput"]["OutputDatasetS3Uri"]
    lines = output_lines(team.s3, manifest_uri)
    assert [line["label-metadata"]["class-name"] for line in lines] == truth
    assert [line["label-metadata"]["confidence"] for line in lines] == [0.5] + [1.0] * (len(truth) - 1)
    assert all(line["label-metadata"]["type"] == "groundtruth/image-classification" for line in lines)
    (boxed,) = output_lines(
        team.s3,
        sagemaker.describe_labeling_job(LabelingJobName=box_job)["LabelingJobOutput"]["OutputDatasetS3Uri"],
    )
    (drawn,) = boxed["label"]["annotations"]
    assert drawn["class_id"] == 0 and abs(drawn["left"] - 60) <= 4 and abs(drawn["width"] - 120) <= 4
    entity_uri = sagemaker.describe_labeling_job(LabelingJobName=entity_job)["LabelingJobOutput"]
    (marked,) = output_lines(team.s3, entity_uri["OutputDatasetS3Uri"])
    assert marked["label"]["annotations"]["entities"] == [
        {"startOffset": 5, "endOffset": 17, "label": "person"}
    ]

    rekognition = nimbus.client("rekognition")
    project = rekognition.create_project(ProjectName=f"digits-{uuid.uuid4().hex[:6]}")["ProjectArn"]
    bucket, key = manifest_uri[5:].split("/", 1)
    rekognition.create_dataset(
        ProjectArn=project,
        DatasetType="TRAIN",
        DatasetSource={"GroundTruthManifest": {"S3Object": {"Bucket": bucket, "Name": key}}},
    )
    rekognition.create_project_version(
        ProjectArn=project, VersionName="v1", OutputConfig={"S3Bucket": bucket, "S3KeyPrefix": "evaluation/"}
    )
    deadline = time.monotonic() + STATUS_TIMEOUT_S
    while True:
        (version,) = rekognition.describe_project_versions(ProjectArn=project, VersionNames=["v1"])[
            "ProjectVersionDescriptions"
        ]
        if version["Status"] != "TRAINING_IN_PROGRESS" or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert version["Status"] == "TRAINING_COMPLETED", version.get("StatusMessage")


def draw_box(page: Page, job: str) -> None:
    """Drags a box over the middle of the box job's 300x200 image, shown at its own size."""
    page.goto(page.url.split("/labeling")[0] + f"/labeling/task?job={job}")
    image = page.locator("img.labeling-image")
    expect(image).to_have_js_property("complete", True)
    frame = image.bounding_box()
    scale = frame["width"] / 300
    page.mouse.move(frame["x"] + 60 * scale, frame["y"] + 50 * scale)
    page.mouse.down()
    page.mouse.move(frame["x"] + 180 * scale, frame["y"] + 150 * scale, steps=4)
    page.mouse.up()
    expect(page.locator("[data-drawn-list] li")).to_have_count(1)
    page.screenshot(path=SCREENSHOTS / "labeling-boxes.png", full_page=True)
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_role("heading", name="No tasks left")).to_be_visible()


def mark_entity(page: Page, job: str, words: str) -> None:
    """Selects ``words`` in the entity job's text and marks them with the job's one label."""
    page.goto(page.url.split("/labeling")[0] + f"/labeling/task?job={job}")
    page.locator("[data-text]").evaluate(
        """(text, words) => {
            const node = text.firstChild, start = node.textContent.indexOf(words);
            const range = document.createRange();
            range.setStart(node, start);
            range.setEnd(node, start + words.length);
            window.getSelection().removeAllRanges();
            window.getSelection().addRange(range);
        }""",
        words,
    )
    page.get_by_role("button", name="person").click()
    expect(page.locator("[data-drawn-list] li")).to_contain_text([f'person: "{words}"'])
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_role("heading", name="No tasks left")).to_be_visible()


RACES = 4


def submit_together(nimbus: NimbusServer, job: str, held: dict[Worker, int]) -> list[int]:
    """Each worker submits an answer to the task they hold, all at the same moment: the statuses."""
    together = threading.Barrier(len(held))

    def submit(worker: Worker) -> int:
        answer = {"answerContent": {"crowd-classifier": {"label": "positive"}}}
        together.wait()
        return portal(nimbus, worker, "POST", f"/jobs/{job}/tasks/{held[worker]}/answer", answer)[0]

    with ThreadPoolExecutor(len(held)) as pool:
        return list(pool.map(submit, held))


def test_last_answers_at_once_write_the_output_once(nimbus: NimbusServer, sagemaker: Any, team: Team) -> None:
    """Ana and Ben hold a job's last two tasks and submit them at the same moment (a few jobs over):
    each job ends Completed with its output written once, one consolidation response."""
    put_manifest(team, "pair.manifest", [{"source": "left"}, {"source": "right"}])
    for _ in range(RACES):
        job = labeling_job(
            team,
            "TextMultiClass",
            "pair.manifest",
            ["positive", "negative"],
            config={"NumberOfHumanWorkersPerDataObject": 1},
        )
        held = {
            worker: portal(nimbus, worker, "POST", f"/jobs/{job}/next-task")[1]["Task"]["Position"]
            for worker in team.workers
        }
        assert submit_together(nimbus, job, held) == [200, 200]
        described = sagemaker.describe_labeling_job(LabelingJobName=job)
        assert described["LabelingJobStatus"] == "Completed", described.get("FailureReason")
        prefix = f"output/{job}/annotations/consolidated-annotation/consolidation-response/"
        written = team.s3.list_objects_v2(Bucket=team.bucket, Prefix=prefix)["Contents"]
        assert len(written) == 1, [item["Key"] for item in written]


DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
AUTOMATED_OBJECTS = 1_250  # AWS's minimum for automated data labelling
TARGET_ACCURACY = 0.95  # the accuracy Ground Truth aims machine labels at
AUTOMATION_TIMEOUT_S = 900  # a guard against a job that never ends, not a speed requirement


def test_automated_labeling_of_digits(nimbus: NimbusServer, sagemaker: Any, team: Team) -> None:
    """1,250 of scikit-learn's handwritten digits (their own ground truth, which nobody here labelled):
    Ana and Ben answer the batches Ground Truth sends them through the worker portal, with the truth;
    the machine labels the rest at the calibrated accuracy, and its last model is a SageMaker model."""
    data = load_digits()

    def upload(index: int) -> str:
        key = f"automated/{index}.png"
        team.s3.put_object(Bucket=team.bucket, Key=key, Body=digit_png(data.images[index]))
        return f"s3://{team.bucket}/{key}"

    with ThreadPoolExecutor(4) as pool:
        uris = list(pool.map(upload, range(AUTOMATED_OBJECTS)))
    truth = {uri: DIGIT_WORDS[data.target[index]] for index, uri in enumerate(uris)}
    put_manifest(team, "automated.manifest", [{"source-ref": uri} for uri in uris])
    job = labeling_job(
        team,
        "ImageMultiClass",
        "automated.manifest",
        list(DIGIT_WORDS),
        config={"NumberOfHumanWorkersPerDataObject": 1},
        **algorithm(ALGORITHM),
    )
    deadline = time.monotonic() + AUTOMATION_TIMEOUT_S
    answered: dict[str, int] = {}

    def work(worker: Worker) -> None:
        """Answers every task with the digit's truth, waiting while the machine takes its turn."""
        answered[worker.name] = 0
        while time.monotonic() < deadline:
            status, taken = portal(nimbus, worker, "POST", f"/jobs/{job}/next-task")
            assert status == 200, taken
            task = taken["Task"]
            if task is None:
                if sagemaker.describe_labeling_job(LabelingJobName=job)["LabelingJobStatus"] != "InProgress":
                    return
                time.sleep(1)
                continue
            content = {"crowd-image-classifier": {"label": truth[task["SourceRef"]]}}
            path = f"/jobs/{job}/tasks/{task['Position']}/answer"
            status, body = portal(nimbus, worker, "POST", path, {"answerContent": content})
            assert status == 200, body
            answered[worker.name] += 1

    with ThreadPoolExecutor(len(team.workers)) as pool:
        list(pool.map(work, team.workers))
    described = sagemaker.describe_labeling_job(LabelingJobName=job)
    counters = described["LabelCounters"]
    assert described["LabelingJobStatus"] == "Completed", (described.get("FailureReason"), counters, answered)
    human_tasks = sum(answered.values())
    assert counters["HumanLabeled"] == human_tasks and counters["MachineLabeled"] > 0
    assert counters["TotalLabeled"] == AUTOMATED_OBJECTS and counters["Unlabeled"] == 0
    assert described["LabelingJobAlgorithmsConfig"]["LabelingJobAlgorithmSpecificationArn"] == ALGORITHM

    lines = output_lines(team.s3, described["LabelingJobOutput"]["OutputDatasetS3Uri"])
    assert [line["source-ref"] for line in lines] == uris
    machine = [line for line in lines if line["label-metadata"]["human-annotated"] == "no"]
    assert len(machine) == counters["MachineLabeled"]
    for line in lines:
        metadata = line["label-metadata"]
        assert line["label"] == DIGIT_WORDS.index(metadata["class-name"]) and 0 < metadata["confidence"] <= 1
        assert metadata["type"] == "groundtruth/image-classification"
        assert metadata["job-name"] == f"labeling-job/{job}"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}", metadata["creation-date"])
    right = sum(line["label-metadata"]["class-name"] == truth[line["source-ref"]] for line in machine)
    accuracy = right / len(machine)
    print(
        f"automated labelling: {len(machine)} of {AUTOMATED_OBJECTS} machine-labelled at accuracy "
        f"{accuracy:.4f}; {human_tasks} human tasks"
    )
    assert accuracy >= TARGET_ACCURACY

    model_arn = described["LabelingJobOutput"]["FinalActiveLearningModelArn"]
    model = sagemaker.describe_model(ModelName=model_arn.rsplit("/", 1)[-1])
    assert model["ModelArn"] == model_arn and model["ExecutionRoleArn"] == execution_role(sagemaker)
    bucket, key = model["PrimaryContainer"]["ModelDataUrl"][5:].split("/", 1)
    with tarfile.open(fileobj=io.BytesIO(team.s3.get_object(Bucket=bucket, Key=key)["Body"].read())) as tar:
        assert tar.getnames() == ["model.npz"]
