"""Nimbus's SageMaker extensions, for what AWS's API has no place for. Each is signed like any
SageMaker request (SigV4, service ``sagemaker``) and authorized as the SageMaker operation it
extends, so IAM policies decide them as they decide that operation:

- ``GET /_nimbus/sagemaker/inference-recommendations/<JobName>`` (as
  DescribeInferenceRecommendationsJob): the job's report, every figure marked measured, projected,
  published or not measurable, with its basis.
- ``POST /_nimbus/sagemaker/training-advice`` (as CreateTrainingJob), body
  ``{"TrainingJob": <a CreateTrainingJob request>, "InstanceTypes": [...]}``: a short measured
  probe of the job, projected to the full job on each instance type (time, cost, cheapest, fastest).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anyio
from starlette.types import Receive

from nimbus.errors import AwsError
from nimbus.gateway.authz.facts import request_facts
from nimbus.gateway.authz.step import Authorizer
from nimbus.gateway.body import read_body
from nimbus.gateway.extension_auth import signed_caller
from nimbus.protocol.http import HttpRequest, HttpResponse
from nimbus.protocol.json_codec import JsonShapeError, from_json
from nimbus.protocol.validate import describe, validation_errors
from nimbus.services.registry import Caller, Service
from nimbus.services.sagemaker.recommendations.records import recommendation_report
from nimbus.services.sagemaker.training_advice import training_advice
from nimbus.storage import Storage

PREFIX = "/_nimbus/sagemaker/"
REPORT = PREFIX + "inference-recommendations/"
ADVICE = PREFIX + "training-advice"
MAX_BODY = 1 << 20


def is_sagemaker_extension(request: HttpRequest) -> bool:
    return request.path.startswith(PREFIX)


async def sagemaker_extension(
    request: HttpRequest, receive: Receive, storage: Storage, sagemaker: Service, authorizer: Authorizer
) -> HttpResponse:
    if request.path.startswith(REPORT) and request.method == "GET":
        name = request.path.removeprefix(REPORT)
        operation, arguments = "DescribeInferenceRecommendationsJob", {"JobName": name}
    elif request.path == ADVICE and request.method == "POST":
        operation, arguments = "CreateTrainingJob", {}
    else:
        raise AwsError("NotFound", f"Nimbus has no extension {request.method} {request.path}.", 404)
    request.body = await read_body(receive, MAX_BODY)
    if operation == "CreateTrainingJob":
        arguments = _advice_request(request.body, sagemaker)
    signed = signed_caller(request, storage)
    scope, signers, credential = signed.scope, signed.signers, signed.credential
    caller = Caller(credential.access_key_id, credential.account_id, credential.user_id, credential.arn)
    checked = arguments.get("TrainingJob", arguments)

    def answer() -> Any:
        identity = authorizer.identity(credential, signers.session, signers.token)
        authorizer.authorize(
            sagemaker, operation, checked, request_facts(request, scope, scope.region), identity
        )
        work: Callable[[], Any] = (
            (lambda: recommendation_report(storage, caller.account_id, scope.region, arguments["JobName"]))
            if operation == "DescribeInferenceRecommendationsJob"
            else (
                lambda: training_advice(
                    storage, caller, scope.region, arguments["TrainingJob"], arguments["InstanceTypes"]
                )
            )
        )
        return work()

    body = await anyio.to_thread.run_sync(answer)
    return HttpResponse(200, {"Content-Type": "application/json"}, json.dumps(body, default=str).encode())


def _advice_request(body: bytes, sagemaker: Service) -> dict[str, Any]:
    """The body's training job, parsed and validated as CreateTrainingJob's input."""
    try:
        document = json.loads(body or b"{}")
    except ValueError:
        raise AwsError("ValidationException", "The body must be JSON.", 400) from None
    if not isinstance(document, dict) or not isinstance(document.get("TrainingJob"), dict):
        raise AwsError(
            "ValidationException", 'The body must be {"TrainingJob": {...}, "InstanceTypes": [...]}.', 400
        )
    types = document.get("InstanceTypes") or []
    if not isinstance(types, list) or not all(isinstance(name, str) for name in types):
        raise AwsError("ValidationException", "InstanceTypes must be a list of instance type names.", 400)
    shape = sagemaker.model.operation_model("CreateTrainingJob").input_shape
    try:
        job = from_json(shape, document["TrainingJob"])
    except (JsonShapeError, ValueError) as error:
        raise AwsError("ValidationException", f"TrainingJob: {error}", 400) from None
    errors = validation_errors(shape, job)
    if errors:
        raise AwsError("ValidationException", "TrainingJob: " + describe(errors), 400)
    return {"TrainingJob": job, "InstanceTypes": types}
